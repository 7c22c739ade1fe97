"""Power of a pairwise-preference study, by simulation: how many annotators and prompts a study needs to detect the
smallest contrast of interest between two conditions.

The assumptions: each condition's log strength (stated, or a pilot's fit: ``pilot_assumptions``), the tie rate
between two equally strong conditions (Davidson's ν = 2t / (1 − t)), and heterogeneity: every annotator and every
prompt shifts each condition's log strength by its own normal deviation, with SD ``annotator_sd`` and ``item_sd``
(independent across conditions, so the contrast of two conditions varies with SD √2 times these).

The schedule: each of A annotators judges ``pairs_per_annotator`` (m) pairs; the A·m judgments run through the I
prompts × P unordered condition pairs in blocks that hold every (prompt, pair) once (``schedule``), so the pairs
are balanced across prompts and an annotator sees m different prompts while m ≤ I. Left and right do not matter to
the model.

Each simulated study is fitted as ``pairwise.fit_full`` fits one (Newton's method on the per-pair outcome counts,
Davidson when it has a tie, else Bradley–Terry; no bootstrap), vectorised over the simulated studies, and tested as
``pairwise_study`` tests it: the Wald ratio of the pair's difference over its two-way (annotator, prompt)
cluster-robust SE, referred to a t distribution with (A − 1)(I − 1) / (A + I − 2) df for A annotators and I prompts
(``pairwise.P_METHOD``, ``pairwise.robust_df``). The
contrast's pair is rejected when that p (optionally adjusted across all pairs, as ``pairwise_study`` does) is below
α. A study whose likelihood has no maximum (a condition that never loses) counts as not rejecting, and is counted in
``failed``. The power's Monte-Carlo SE is √(p(1 − p) / simulations).

``type_one_error`` of a plan simulates the rejection rate of its smallest design with the contrast's difference set
to zero: with the robust test it should be near α (a check of the test on the planned design, heterogeneity
included); a test with the inverse information alone, which treats judgments as independent, would reject far more
often when annotators or prompts differ.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .multiplicity import METHODS
from .pairwise import (
    PairwiseData,
    PairwiseResult,
    _design,
    cluster_meat,
    cluster_terms,
    fit_full,
    fit_newton,
    judgment_scores,
    pairwise_data,
    robust_covariance,
    robust_df,
)

METHOD = (
    "Monte Carlo: studies simulated under the Davidson model with normal annotator and prompt deviations of each "
    "condition's log strength, each fitted by maximum likelihood (Newton's method, no bootstrap); power is the "
    "share of studies whose p of the contrast's pair (Wald test, two-way cluster-robust SE, t reference with "
    "(A - 1)(I - 1)/(A + I - 2) df, as pairwise_study reports it) is below alpha"
)
#: Simulated judgments held in memory at once (studies × judgments per batch).
BATCH_CELLS = 2_000_000
#: Score contributions held in memory at once (studies × judgments × parameters) for the robust covariance.
SCORE_CELLS = 4_000_000


@dataclass(frozen=True)
class PairwiseDesignPower:
    """One design of the grid: its power with the Monte-Carlo SE, from ``simulations`` studies (``failed`` of them
    without a maximum-likelihood fit, counted as not rejecting)."""

    annotators: int
    prompts: int
    judgments: int
    power: float
    mc_se: float
    rejections: int
    simulations: int
    failed: int


@dataclass(frozen=True)
class PairwisePowerPlan:
    conditions: tuple[str, ...]
    log_strengths: tuple[float, ...]
    contrast: tuple[str, str]
    difference: float  # log strength of contrast[0] − contrast[1]
    tie_rate: float
    tie_parameter: float
    annotator_sd: float
    item_sd: float
    pairs_per_annotator: int
    alpha: float
    target: float
    adjustment: str | None
    simulations: int
    seed: int
    grid: tuple[PairwiseDesignPower, ...]  # annotators × prompts, annotators first
    smallest: PairwiseDesignPower | None  # fewest judgments (then fewest prompts) reaching the target
    type_one_error: PairwiseDesignPower | None  # the smallest design with the contrast's difference set to 0
    method: str = METHOD


def tie_parameter(tie_rate: float) -> float:
    """Davidson's ν for a tie rate t between two equally strong conditions: t = ν / (2 + ν)."""
    return 2 * tie_rate / (1 - tie_rate)


def pilot_assumptions(pilot: PairwiseResult | pd.DataFrame) -> dict:
    """``strengths`` and ``tie_rate`` of a pilot, for ``pairwise_power(**pilot_assumptions(pilot), …)``: a
    ``PairwiseResult``'s, or a tidy frame's (annotator, item, left, right, choice) maximum-likelihood fit without
    bootstrap. The heterogeneity SDs are not estimated by the fit: state them."""
    if isinstance(pilot, PairwiseResult):
        strengths = {s.condition: s.log_strength for s in pilot.strengths}
        nu = pilot.tie_parameter or 0.0
    elif isinstance(pilot, pd.DataFrame):
        data = pairwise_data(pilot)
        beta, _, _ = fit_full(data, 0)
        m = len(data.conditions)
        strengths = dict(zip(data.conditions, [0.0, *map(float, beta[: m - 1])], strict=True))
        nu = float(np.exp(beta[m - 1])) if data.has_ties else 0.0
    else:
        raise TypeError(f"pilot must be a PairwiseResult or a DataFrame; got {type(pilot).__name__}.")
    return {"strengths": strengths, "tie_rate": nu / (2 + nu)}


@dataclass(frozen=True)
class Schedule:
    """Per judgment: its annotator, prompt and unordered condition pair (indices)."""

    annotator: np.ndarray
    item: np.ndarray
    pair: np.ndarray


def schedule(*, annotators: int, prompts: int, pairs_per_annotator: int, conditions: int) -> Schedule:
    """Who judges which prompt and pair. Judgment t is annotator t // m's, prompt t mod I and pair
    (t + t // L) mod P with L = lcm(I, P): consecutive judgments step through the prompts and the pairs together,
    every block of I·P judgments holds each (prompt, pair) once, and the first P judgments hold every pair."""
    pairs = conditions * (conditions - 1) // 2
    t = np.arange(annotators * pairs_per_annotator)
    return Schedule(t // pairs_per_annotator, t % prompts, (t + t // math.lcm(prompts, pairs)) % pairs)


def _pair_index(conditions: int) -> tuple[np.ndarray, np.ndarray]:
    first, second = np.triu_indices(conditions, k=1)
    return first.astype(np.int64), second.astype(np.int64)


def _simulate_outcomes(
    rng: np.random.Generator,
    size: int,
    plan: Schedule,
    *,
    strengths: np.ndarray,
    nu: float,
    annotator_sd: float,
    item_sd: float,
    annotators: int,
    prompts: int,
) -> np.ndarray:
    """Outcomes (size × judgments): 0 the pair's first condition preferred, 1 the second, 2 a tie."""
    K = strengths.size
    first, second = _pair_index(K)
    i, j = first[plan.pair], second[plan.pair]
    s_i = np.broadcast_to(strengths[i], (size, i.size)).copy()
    s_j = np.broadcast_to(strengths[j], (size, j.size)).copy()
    for sd, level, levels in ((annotator_sd, plan.annotator, annotators), (item_sd, plan.item, prompts)):
        if sd > 0:
            deviation = rng.normal(0.0, sd, size=(size, levels, K))
            s_i += deviation[:, level, i]
            s_j += deviation[:, level, j]
    # Davidson: P(i) ∝ π_i, P(j) ∝ π_j, P(tie) ∝ ν √(π_i π_j); divided through by √(π_i π_j).
    half = (s_i - s_j) / 2
    w_i, w_j = np.exp(half), np.exp(-half)
    total = w_i + w_j + nu
    u = rng.random((size, i.size)) * total
    return np.where(u < w_i, 0, np.where(u < w_i + w_j, 1, 2))


def _counts(outcome: np.ndarray, pair: np.ndarray, pairs: int) -> np.ndarray:
    """Outcome counts per study and pair (studies × pairs × 3)."""
    size = outcome.shape[0]
    index = (np.arange(size)[:, None] * pairs + pair[None, :]) * 3 + outcome
    return np.bincount(index.ravel(), minlength=size * pairs * 3).reshape(size, pairs, 3).astype(float)


def _design_for(conditions: int, ties: bool) -> np.ndarray:
    """``pairwise._design`` for every pair observed, the first condition the reference."""
    first, second = _pair_index(conditions)
    data = PairwiseData(
        conditions=tuple(str(k) for k in range(conditions)),
        annotator=np.zeros(1, dtype=np.int64),
        item=np.zeros(1, dtype=np.int64),
        pair=np.zeros(1, dtype=np.int64),
        outcome=np.array([2 if ties else 0]),
        pair_first=first,
        pair_second=second,
        n_annotators=1,
        n_items=1,
    )
    return _design(data, 0)


def pair_p_values(outcome: np.ndarray, plan: Schedule, conditions: int) -> tuple[np.ndarray, np.ndarray]:
    """(p of every pair, fitted) for each study's outcomes (studies × judgments, ``_simulate_outcomes``) on the
    schedule ``plan``: Davidson where the study has a tie, Bradley–Terry where it has none, tested as
    ``pairwise_study`` tests it (two-way cluster-robust SE, t reference with ``pairwise.robust_df`` df).
    p is NaN where the fit failed (or the SE is undefined: a single annotator or prompt)."""
    outcome = np.asarray(outcome)
    size = outcome.shape[0]
    pairs = conditions * (conditions - 1) // 2
    counts = _counts(outcome, plan.pair, pairs)
    p = np.full((size, pairs), np.nan)
    fitted = np.zeros(size, dtype=bool)
    has_ties = counts[:, :, 2].sum(axis=1) > 0
    first, second = _pair_index(conditions)
    terms = cluster_terms(plan.annotator, plan.item)
    df = robust_df(terms[0][1], terms[1][1])
    for ties in (False, True):
        rows = np.flatnonzero(has_ties == ties)
        if rows.size == 0:
            continue
        X = _design_for(conditions, ties)
        y = counts[rows] if ties else counts[rows, :, :2]
        beta, converged, information = fit_newton(y, X, np.zeros((rows.size, X.shape[2])))
        good = rows[converged]
        if good.size == 0:
            continue
        k = conditions - 1
        free = np.empty((good.size, X.shape[2], X.shape[2]))
        chunk = max(1, SCORE_CELLS // (plan.pair.size * X.shape[2]))
        for start in range(0, good.size, chunk):
            part = slice(start, start + chunk)
            scores = judgment_scores(beta[converged][part], X, plan.pair, outcome[good[part]])
            free[part] = robust_covariance(information[converged][part], cluster_meat(scores, terms))
        covariance = np.zeros((good.size, conditions, conditions))
        covariance[:, 1:, 1:] = free[:, :k, :k]
        strengths = np.concatenate([np.zeros((good.size, 1)), beta[converged, :k]], axis=1)
        variance = covariance[:, first, first] + covariance[:, second, second] - 2 * covariance[:, first, second]
        with np.errstate(invalid="ignore", divide="ignore"):
            z = (strengths[:, first] - strengths[:, second]) / np.sqrt(np.clip(variance, 1e-300, None))
        p[good] = 2 * stats.t.sf(np.abs(z), df) if df > 0 else np.nan
        fitted[good] = True
    return p, fitted


def adjusted(p: np.ndarray, method: str) -> np.ndarray:
    """Each row's p adjusted across its columns, Holm or Benjamini–Hochberg (``multiplicity.adjust``, vectorised)."""
    size, n = p.shape
    order = np.argsort(p, axis=1, kind="stable")
    ranked = np.take_along_axis(p, order, axis=1)
    rank = np.arange(1, n + 1)
    if method == "holm":
        stepped = np.maximum.accumulate(np.minimum(1.0, (n - rank + 1) * ranked), axis=1)
    elif method == "bh":
        stepped = np.minimum.accumulate(np.minimum(1.0, n / rank * ranked)[:, ::-1], axis=1)[:, ::-1]
    else:
        raise ValueError(f"Unknown adjustment {method!r}; choose from {', '.join(METHODS)}.")
    out = np.empty_like(stepped)
    np.put_along_axis(out, order, stepped, axis=1)
    return out


def _check(
    *,
    strengths: Mapping[str, float],
    contrast: tuple[str, str] | None,
    tie_rate: float,
    annotator_sd: float,
    item_sd: float,
    pairs_per_annotator: int,
    annotators: Sequence[int],
    prompts: Sequence[int],
    alpha: float,
    target: float,
    adjustment: str | None,
    simulations: int,
) -> tuple[str, str]:
    """Refuse arguments out of range with a ValueError naming the argument; returns the contrast."""
    if not isinstance(strengths, Mapping) or len(strengths) < 2:
        raise ValueError("strengths must map at least two conditions to their log strengths.")
    for name, value in strengths.items():
        if not isinstance(value, int | float) or not math.isfinite(value):
            raise ValueError(f"strengths: the log strength of {name!r} must be a finite number; got {value!r}.")
    if not 0 <= tie_rate < 1:
        raise ValueError(f"tie_rate must be at least 0 and below 1; got {tie_rate}.")
    for name, value in (("annotator_sd", annotator_sd), ("item_sd", item_sd)):
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a finite number of at least 0; got {value}.")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1 (exclusive); got {alpha}.")
    if not 0 < target < 1:
        raise ValueError(f"target must be between 0 and 1 (exclusive); got {target}.")
    if adjustment is not None and adjustment not in METHODS:
        raise ValueError(f"adjustment must be None or one of {', '.join(METHODS)}; got {adjustment!r}.")
    for name, value, least in (("pairs_per_annotator", pairs_per_annotator, 1), ("simulations", simulations, 1)):
        if not isinstance(value, int) or value < least:
            raise ValueError(f"{name} must be a whole number of at least {least}; got {value!r}.")
    pairs = len(strengths) * (len(strengths) - 1) // 2
    for name, values, least in (("annotators", annotators, 1), ("prompts", prompts, 1)):
        if len(values) == 0:
            raise ValueError(f"{name} must list at least one count.")
        bad = [v for v in values if not isinstance(v, int | np.integer) or v < least]
        if bad:
            raise ValueError(f"{name} must be whole numbers of at least {least}; got {bad[0]!r}.")
    if min(annotators) * pairs_per_annotator < pairs:
        raise ValueError(
            f"annotators: {min(annotators)} annotators × {pairs_per_annotator} pairs each cannot cover the "
            f"{pairs} condition pairs; give at least {math.ceil(pairs / pairs_per_annotator)} annotators."
        )
    if contrast is None:
        values = sorted(strengths.items())
        differences = [
            (abs(a[1] - b[1]), a[0], b[0]) for k, a in enumerate(values) for b in values[k + 1 :] if a[1] != b[1]
        ]
        if not differences:
            raise ValueError("contrast must be given: every condition has the same log strength.")
        _, first, second = min(differences)
        return first, second
    if len(contrast) != 2 or contrast[0] == contrast[1]:
        raise ValueError(f"contrast must name two different conditions; got {contrast!r}.")
    unknown = [c for c in contrast if c not in strengths]
    if unknown:
        raise ValueError(f"contrast: {unknown[0]!r} is not a condition of strengths.")
    return contrast[0], contrast[1]


def simulate_study(
    *,
    strengths: Mapping[str, float],
    tie_rate: float = 0.0,
    annotator_sd: float = 0.0,
    item_sd: float = 0.0,
    pairs_per_annotator: int,
    annotators: int,
    prompts: int,
    seed: int,
) -> pd.DataFrame:
    """One simulated study as a tidy frame (annotator, item, left, right, choice), drawn as ``pairwise_power``
    draws each of its studies (the first condition of each pair on the left)."""
    names = sorted(strengths)
    values = np.array([strengths[name] for name in names], dtype=float)
    plan = schedule(
        annotators=annotators, prompts=prompts, pairs_per_annotator=pairs_per_annotator, conditions=len(names)
    )
    outcome = _simulate_outcomes(
        np.random.default_rng(seed),
        1,
        plan,
        strengths=values,
        nu=tie_parameter(tie_rate),
        annotator_sd=annotator_sd,
        item_sd=item_sd,
        annotators=annotators,
        prompts=prompts,
    )[0]
    first, second = _pair_index(len(names))
    labels = np.array(names, dtype=object)
    return pd.DataFrame(
        {
            "annotator": [f"a{k}" for k in plan.annotator],
            "item": [f"p{k}" for k in plan.item],
            "left": labels[first[plan.pair]],
            "right": labels[second[plan.pair]],
            "choice": np.array(["left", "right", "tie"])[outcome],
        }
    )


def _design_power(
    *,
    values: np.ndarray,
    contrast_pair: int,
    nu: float,
    annotator_sd: float,
    item_sd: float,
    pairs_per_annotator: int,
    annotators: int,
    prompts: int,
    alpha: float,
    adjustment: str | None,
    simulations: int,
    seed: int,
) -> PairwiseDesignPower:
    K = values.size
    plan = schedule(annotators=annotators, prompts=prompts, pairs_per_annotator=pairs_per_annotator, conditions=K)
    rng = np.random.default_rng([seed, annotators, prompts])
    batch = max(1, BATCH_CELLS // plan.pair.size)
    rejections = failed = 0
    for start in range(0, simulations, batch):
        size = min(batch, simulations - start)
        outcome = _simulate_outcomes(
            rng,
            size,
            plan,
            strengths=values,
            nu=nu,
            annotator_sd=annotator_sd,
            item_sd=item_sd,
            annotators=annotators,
            prompts=prompts,
        )
        p, fitted = pair_p_values(outcome, plan, K)
        if adjustment is not None:
            p[fitted] = adjusted(p[fitted], adjustment)
        rejections += int((fitted & (np.nan_to_num(p[:, contrast_pair], nan=1.0) < alpha)).sum())
        failed += int((~fitted).sum())
    power = rejections / simulations
    return PairwiseDesignPower(
        annotators=annotators,
        prompts=prompts,
        judgments=annotators * pairs_per_annotator,
        power=power,
        mc_se=math.sqrt(power * (1 - power) / simulations),
        rejections=rejections,
        simulations=simulations,
        failed=failed,
    )


def pairwise_power(
    *,
    strengths: Mapping[str, float],
    pairs_per_annotator: int,
    annotators: Sequence[int],
    prompts: Sequence[int],
    seed: int,
    contrast: tuple[str, str] | None = None,
    tie_rate: float = 0.0,
    annotator_sd: float = 0.0,
    item_sd: float = 0.0,
    alpha: float = 0.05,
    target: float = 0.8,
    adjustment: str | None = None,
    simulations: int = 1000,
    null_check: bool = True,
) -> PairwisePowerPlan:
    """The power of every design of the grid ``annotators`` × ``prompts`` (each annotator judging
    ``pairs_per_annotator`` pairs) to reject equal strengths of ``contrast`` (default: the two conditions whose
    stated log strengths differ least), and the smallest design reaching ``target``.

    ``strengths``: condition → log strength (any reference). ``tie_rate``: the share of ties between two equally
    strong conditions. ``annotator_sd``, ``item_sd``: SDs of each annotator's and each prompt's deviations of each
    condition's log strength. ``adjustment``: None (the pair's own p, from the two-way cluster-robust Wald test as
    ``pairwise_study`` reports it) or holm / bh across all pairs, as the analysis reports them. ``simulations``
    studies per design, drawn from a stream seeded by (``seed``, annotators, prompts), so a design's estimate does
    not depend on the rest of the grid. With ``null_check``, the smallest design is simulated again with the
    contrast's difference set to zero (``type_one_error``, which should be near ``alpha``). Arguments out of range
    raise a ValueError naming the argument.
    """
    first, second = _check(
        strengths=strengths,
        contrast=contrast,
        tie_rate=tie_rate,
        annotator_sd=annotator_sd,
        item_sd=item_sd,
        pairs_per_annotator=pairs_per_annotator,
        annotators=annotators,
        prompts=prompts,
        alpha=alpha,
        target=target,
        adjustment=adjustment,
        simulations=simulations,
    )
    names = tuple(sorted(strengths))
    values = np.array([float(strengths[name]) for name in names])
    i, j = sorted((names.index(first), names.index(second)))
    pair_first, pair_second = _pair_index(len(names))
    contrast_pair = int(np.flatnonzero((pair_first == i) & (pair_second == j))[0])
    nu = tie_parameter(tie_rate)
    common = {
        "nu": nu,
        "annotator_sd": annotator_sd,
        "item_sd": item_sd,
        "pairs_per_annotator": pairs_per_annotator,
        "alpha": alpha,
        "adjustment": adjustment,
        "simulations": simulations,
        "seed": seed,
        "contrast_pair": contrast_pair,
    }
    grid = tuple(
        _design_power(values=values, annotators=int(a), prompts=int(n), **common)
        for a in sorted(set(annotators))
        for n in sorted(set(prompts))
    )
    reaching = [design for design in grid if design.power >= target]
    smallest = min(reaching, key=lambda d: (d.judgments, d.prompts)) if reaching else None
    null = None
    if null_check and smallest is not None:
        flat = values.copy()
        flat[j] = flat[i]  # the contrast's difference set to zero, the other conditions as stated
        null = _design_power(values=flat, annotators=smallest.annotators, prompts=smallest.prompts, **common)
    return PairwisePowerPlan(
        conditions=names,
        log_strengths=tuple(float(v) for v in values),
        contrast=(first, second),
        difference=float(strengths[first] - strengths[second]),
        tie_rate=float(tie_rate),
        tie_parameter=nu,
        annotator_sd=float(annotator_sd),
        item_sd=float(item_sd),
        pairs_per_annotator=pairs_per_annotator,
        alpha=alpha,
        target=target,
        adjustment=adjustment,
        simulations=simulations,
        seed=seed,
        grid=grid,
        smallest=smallest,
        type_one_error=null,
    )
