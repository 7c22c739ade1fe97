"""Power of a K-condition rating study, by simulation: how many annotators and items a study needs to detect the
smallest contrast of interest between two of its conditions.

The assumptions: each condition's mean score (stated, or a pilot's: ``pilot_assumptions``) and the variance
components of ``score ~ condition + (1 | annotator) + (1 | item)``: the SDs of the annotator and item intercepts
and of the residual. Scores are simulated as normal (not rounded to the rating scale).

The schedule: each of A annotators scores the K images of ``items_per_annotator`` (m) of the I items (all of them
by default, the fully crossed design); annotator a takes items a·m, a·m + 1, … modulo I, so the items are spread
evenly over the annotators, and m·A ≥ I puts every item in the study.

Each simulated study is analysed as ``conditions.compare_conditions`` analyses a real one: the crossed model fitted
by REML (``mixed.fit_crossed``, one ``CrossedGroups`` shared by every study of a design), every pairwise contrast
tested with its own Satterthwaite df, p adjusted across the K(K − 1)/2 contrasts (Holm by default, Tukey, or none).
The contrast of interest is rejected when its adjusted p is below α; a study where it has no test (SE 0) counts as
not rejecting and is counted in ``failed``. The power's Monte-Carlo SE is √(p(1 − p) / simulations).

With ``slope_sd_annotator``/``slope_sd_item`` above 0, each annotator and each item also moves each condition by a
normal deviation of that SD (condition-by-annotator and condition-by-item variation, the random slopes that
``compare_conditions``' model leaves out and under which its contrasts reject too often). ``analysis="paired"``
analyses each simulated study as ``paired_contrasts`` does instead (each pair of conditions by its own difference
model, Holm across the pairs), the analysis to plan for when such variation is expected.

``type_one_error`` of a plan simulates the rejection rate of its smallest design with the contrast's difference set
to zero (the other conditions as stated): it should be near α, or below it when the adjustment is conservative.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .conditions import ADJUSTMENTS, ConditionComparison, _tukey_p, compare_conditions
from .mixed import CrossedGroups, effect_of, fit_crossed, varies
from .mixed import contrast as linear_contrast
from .pairwise_power import adjusted

METHOD = (
    "Monte Carlo: rating studies simulated from score ~ condition + (1 | annotator) + (1 | item) with normal "
    "intercepts and residuals, each analysed as compare_conditions analyses one (REML, Satterthwaite df per "
    "contrast, p adjusted across all pairs of conditions); power is the share of studies whose adjusted p of the "
    "contrast is below alpha"
)


@dataclass(frozen=True)
class ConditionDesignPower:
    """One design of the grid: its power with the Monte-Carlo SE, from ``simulations`` studies (``failed`` of them
    without a test of the contrast, counted as not rejecting)."""

    annotators: int
    items: int
    items_per_annotator: int
    scores: int
    power: float
    mc_se: float
    rejections: int
    simulations: int
    failed: int


@dataclass(frozen=True)
class ConditionPowerPlan:
    conditions: tuple[str, ...]  # reference first
    means: tuple[float, ...]
    contrast: tuple[str, str]  # (condition, versus), as compare_conditions orders it: later level − earlier
    difference: float  # mean of contrast[0] − mean of contrast[1]
    annotator_sd: float
    item_sd: float
    residual_sd: float
    items_per_annotator: int | None  # None: every annotator scores every item
    alpha: float
    target: float
    adjustment: str
    simulations: int
    seed: int
    grid: tuple[ConditionDesignPower, ...]  # annotators × items, annotators first
    smallest: ConditionDesignPower | None  # fewest scores (then fewest items) reaching the target
    type_one_error: ConditionDesignPower | None  # the smallest design with the contrast's difference set to 0
    method: str = METHOD
    slope_sd_annotator: float = 0.0  # SD of each annotator's shift of each condition
    slope_sd_item: float = 0.0  # SD of each item's shift of each condition
    analysis: str = "intercepts"  # "intercepts" (compare_conditions) or "paired" (paired_contrasts)

    @property
    def reference(self) -> str:
        return self.conditions[0]


def pilot_assumptions(pilot: ConditionComparison | pd.DataFrame, *, reference: str | None = None) -> dict:
    """``means``, ``annotator_sd``, ``item_sd`` and ``residual_sd`` of a pilot, for
    ``condition_power(**pilot_assumptions(pilot), …)``: a ``ConditionComparison``'s model means and variance
    components, or those of ``compare_conditions`` on a tidy frame (``reference`` names its reference condition)."""
    if isinstance(pilot, pd.DataFrame):
        if reference is None:
            raise ValueError("reference must name the pilot's reference condition when the pilot is a frame.")
        pilot = compare_conditions(pilot, reference=reference)
    elif not isinstance(pilot, ConditionComparison):
        raise TypeError(f"pilot must be a ConditionComparison or a DataFrame; got {type(pilot).__name__}.")
    return {
        "means": {row.condition: float(row.estimate) for row in pilot.means},
        "annotator_sd": math.sqrt(pilot.fit.variance["annotator"]),
        "item_sd": math.sqrt(pilot.fit.variance["item"]),
        "residual_sd": math.sqrt(pilot.fit.residual),
    }


@dataclass(frozen=True)
class Schedule:
    """Per score: its annotator, item and condition (indices)."""

    annotator: np.ndarray
    item: np.ndarray
    condition: np.ndarray


def schedule(*, annotators: int, items: int, conditions: int, items_per_annotator: int | None = None) -> Schedule:
    """Who scores which item: annotator a the K images of items (a·m + j) mod I, j < m (m = I: every item)."""
    m = items if items_per_annotator is None else items_per_annotator
    a = np.repeat(np.arange(annotators), m * conditions)
    j = np.tile(np.repeat(np.arange(m), conditions), annotators)
    item = (a * m + j) % items
    condition = np.tile(np.arange(conditions), annotators * m)
    return Schedule(a.astype(np.int64), item.astype(np.int64), condition.astype(np.int64))


def _whole(value, least: int) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool) and value >= least


def _check(
    *,
    means: Mapping[str, float],
    contrast: tuple[str, str] | None,
    annotator_sd: float,
    item_sd: float,
    residual_sd: float,
    annotators: Sequence[int],
    items: Sequence[int],
    items_per_annotator: int | None,
    alpha: float,
    target: float,
    adjustment: str,
    simulations: int,
) -> tuple[int, int]:
    """Refuse arguments out of range with a ValueError naming the argument; returns the contrast as level indices
    (later, earlier)."""
    if not isinstance(means, Mapping) or len(means) < 2:
        raise ValueError("means must map at least two conditions (the first the reference) to their mean scores.")
    names = [str(name) for name in means]
    if len(set(names)) != len(names):
        raise ValueError("means: two conditions have the same name once written as text.")
    for name, value in means.items():
        if not isinstance(value, int | float | np.floating) or isinstance(value, bool) or not math.isfinite(value):
            raise ValueError(f"means: the mean of {name!r} must be a finite number; got {value!r}.")
    for name, value in (("annotator_sd", annotator_sd), ("item_sd", item_sd), ("residual_sd", residual_sd)):
        if not isinstance(value, int | float | np.floating) or not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a finite number of at least 0; got {value!r}.")
    if not residual_sd > 0:
        raise ValueError(f"residual_sd must be above 0 (scores must vary within an item); got {residual_sd!r}.")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1 (exclusive); got {alpha}.")
    if not 0 < target < 1:
        raise ValueError(f"target must be between 0 and 1 (exclusive); got {target}.")
    if adjustment not in ADJUSTMENTS:
        raise ValueError(f"adjustment must be one of {', '.join(ADJUSTMENTS)}; got {adjustment!r}.")
    if not _whole(simulations, 1):
        raise ValueError(f"simulations must be a whole number of at least 1; got {simulations!r}.")
    for name, values in (("annotators", annotators), ("items", items)):
        if isinstance(values, str) or not isinstance(values, Sequence) or len(values) == 0:
            raise ValueError(f"{name} must list at least one count.")
        bad = [v for v in values if not _whole(v, 2)]
        if bad:
            raise ValueError(f"{name} must be whole numbers of at least 2; got {bad[0]!r}.")
    if items_per_annotator is not None:
        if not _whole(items_per_annotator, 1):
            raise ValueError(f"items_per_annotator must be a whole number of at least 1; got {items_per_annotator!r}.")
        if items_per_annotator > min(items):
            raise ValueError(
                f"items_per_annotator ({items_per_annotator}) must not exceed the fewest items of the grid "
                f"({min(items)})."
            )
        short = [(a, i) for a in annotators for i in items if a * items_per_annotator < i]
        if short:
            a, i = short[0]
            raise ValueError(
                f"items_per_annotator: {a} annotators × {items_per_annotator} items each leave some of {i} items "
                f"unrated; give at least {math.ceil(i / items_per_annotator)} items per annotator or more annotators."
            )
    values = [float(means[name]) for name in means]
    if contrast is None:
        differences = [
            (abs(values[j] - values[i]), j, i)
            for j in range(1, len(values))
            for i in range(j)
            if values[j] != values[i]
        ]
        if not differences:
            raise ValueError("contrast must be given: every condition has the same mean.")
        _, j, i = min(differences)
        return j, i
    if isinstance(contrast, str) or len(contrast) != 2 or str(contrast[0]) == str(contrast[1]):
        raise ValueError(f"contrast must name two different conditions; got {contrast!r}.")
    unknown = [c for c in contrast if str(c) not in names]
    if unknown:
        raise ValueError(f"contrast: {unknown[0]!r} is not a condition of means.")
    first, second = names.index(str(contrast[0])), names.index(str(contrast[1]))
    return max(first, second), min(first, second)


def _treatment(condition: np.ndarray, k: int) -> np.ndarray:
    """compare_conditions' fixed-effects matrix: intercept (the reference), one indicator per other level."""
    X = np.zeros((condition.size, k))
    X[:, 0] = 1.0
    others = condition > 0
    X[np.flatnonzero(others), condition[others]] = 1.0
    return X


def simulate_study(
    *,
    means: Mapping[str, float],
    annotator_sd: float,
    item_sd: float,
    residual_sd: float,
    annotators: int,
    items: int,
    seed: int,
    items_per_annotator: int | None = None,
    slopes: tuple[float, float] = (0.0, 0.0),
) -> pd.DataFrame:
    """One simulated study as a tidy frame (annotator, item, condition, score; condition categorical, reference
    first), drawn as ``condition_power`` draws each of its studies."""
    names = [str(name) for name in means]
    values = np.array([float(v) for v in means.values()])
    plan = schedule(annotators=annotators, items=items, conditions=len(names), items_per_annotator=items_per_annotator)
    score = _simulate(
        np.random.default_rng(seed), plan, values, annotator_sd, item_sd, residual_sd, annotators, items, slopes
    )
    return pd.DataFrame(
        {
            "annotator": [f"a{k}" for k in plan.annotator],
            "item": [f"i{k}" for k in plan.item],
            "condition": pd.Categorical.from_codes(plan.condition, categories=names),
            "score": score,
        }
    )


def _simulate(
    rng, plan: Schedule, values, annotator_sd, item_sd, residual_sd, annotators, items, slopes=(0.0, 0.0)
) -> np.ndarray:
    score = (
        values[plan.condition]
        + rng.normal(0.0, annotator_sd, annotators)[plan.annotator]
        + rng.normal(0.0, item_sd, items)[plan.item]
        + rng.normal(0.0, residual_sd, plan.condition.size)
    )
    slope_annotator, slope_item = slopes
    if slope_annotator > 0:  # drawn only when asked for, so that plans without slopes keep their streams
        score += rng.normal(0.0, slope_annotator, (annotators, values.size))[plan.annotator, plan.condition]
    if slope_item > 0:
        score += rng.normal(0.0, slope_item, (items, values.size))[plan.item, plan.condition]
    return score


@dataclass(frozen=True)
class Screens:
    """A schedule by screen (annotator, item): ``schedule`` lays out each screen's K scores together, in condition
    order, so the scores reshape to screens × K."""

    annotator: np.ndarray
    item: np.ndarray
    groups: CrossedGroups


def screens_of(plan: Schedule, k: int) -> Screens:
    if not np.array_equal(plan.condition.reshape(-1, k), np.broadcast_to(np.arange(k), (plan.condition.size // k, k))):
        raise ValueError("The schedule does not hold each screen's K scores together.")
    annotator, item = plan.annotator[::k], plan.item[::k]
    return Screens(annotator, item, CrossedGroups(annotator=annotator, item=item))


def paired_p_values(
    score: np.ndarray, screens: Screens, conditions: Sequence[str], *, adjustment: str
) -> dict[tuple[str, str], float | None]:
    """Each contrast's adjusted p as ``paired_contrasts`` reports it: each pair's within-screen differences by
    today's model (keys ``(condition, versus)``, later level − earlier; None where a pair's differences never
    vary)."""
    k = len(conditions)
    wide = score.reshape(-1, k)
    pairs = [(j, i) for j in range(1, k) for i in range(j)]
    p = np.full(len(pairs), math.nan)
    for index, (j, i) in enumerate(pairs):
        difference = wide[:, j] - wide[:, i]
        if varies(difference):
            fit = fit_crossed(y=difference, annotator=screens.annotator, item=screens.item, groups=screens.groups)
            value = effect_of(fit).p
            p[index] = math.nan if value is None else value
    tested = np.isfinite(p)
    if adjustment == "holm" and tested.any():
        p[tested] = adjusted(p[tested][None], "holm")[0]
    return {
        (conditions[j], conditions[i]): None if math.isnan(value) else min(float(value), 1.0)
        for (j, i), value in zip(pairs, p, strict=True)
    }


def contrast_p_values(
    score: np.ndarray, plan: Schedule, conditions: Sequence[str], *, adjustment: str, groups: CrossedGroups | None
) -> dict[tuple[str, str], float | None]:
    """Each contrast's adjusted p for one study's scores on ``plan``, as ``compare_conditions`` reports it (keys
    ``(condition, versus)``, later level − earlier; None where the contrast has no test)."""
    k = len(conditions)
    X = _treatment(plan.condition, k)
    names = ("(Intercept)", *(f"condition[T.{name}]" for name in conditions[1:]))
    fit = fit_crossed(y=score, annotator=plan.annotator, item=plan.item, X=X, names=names, groups=groups)
    pairs = [(j, i) for j in range(1, k) for i in range(j)]  # later − earlier, compare_conditions' order
    effects = [linear_contrast(fit, _difference(k, j, i)) for j, i in pairs]
    p = np.array([math.nan if e.p is None else e.p for e in effects])
    tested = np.isfinite(p)
    if adjustment == "holm" and tested.any():
        p[tested] = adjusted(p[tested][None], "holm")[0]
    elif adjustment == "tukey":
        m = len(pairs)
        p = np.array([math.nan if e.t is None else _tukey_p(e.t, e.df, k, e.p, m) for e in effects])
    return {
        (conditions[j], conditions[i]): None if math.isnan(value) else min(float(value), 1.0)
        for (j, i), value in zip(pairs, p, strict=True)
    }


def _difference(k: int, j: int, i: int) -> np.ndarray:
    """Weights of (mean of level j) − (mean of level i) on the treatment-coded coefficients."""
    weights = np.zeros(k)
    weights[j] += 1.0
    weights[i] -= 1.0
    weights[0] = 0.0  # the intercept cancels; the reference's own coefficient is the intercept
    return weights


def _design_power(
    *,
    values: np.ndarray,
    conditions: tuple[str, ...],
    key: tuple[str, str],
    annotator_sd: float,
    item_sd: float,
    residual_sd: float,
    annotators: int,
    items: int,
    items_per_annotator: int | None,
    alpha: float,
    adjustment: str,
    simulations: int,
    seed: int,
    slopes: tuple[float, float] = (0.0, 0.0),
    analysis: str = "intercepts",
    stream: int = 0,
) -> ConditionDesignPower:
    plan = schedule(annotators=annotators, items=items, conditions=values.size, items_per_annotator=items_per_annotator)
    if analysis == "paired":
        screens = screens_of(plan, values.size)
    else:
        groups = CrossedGroups(annotator=plan.annotator, item=plan.item)
    rng = np.random.default_rng([seed, annotators, items, stream])
    rejections = failed = 0
    for _ in range(simulations):
        score = _simulate(rng, plan, values, annotator_sd, item_sd, residual_sd, annotators, items, slopes)
        if analysis == "paired":
            p = paired_p_values(score, screens, conditions, adjustment=adjustment)[key]
        else:
            p = contrast_p_values(score, plan, conditions, adjustment=adjustment, groups=groups)[key]
        if p is None:
            failed += 1
        elif p < alpha:
            rejections += 1
    power = rejections / simulations
    m = items if items_per_annotator is None else items_per_annotator
    return ConditionDesignPower(
        annotators=annotators,
        items=items,
        items_per_annotator=m,
        scores=annotators * m * values.size,
        power=power,
        mc_se=math.sqrt(power * (1 - power) / simulations),
        rejections=rejections,
        simulations=simulations,
        failed=failed,
    )


def condition_power(
    *,
    means: Mapping[str, float],
    annotator_sd: float,
    item_sd: float,
    residual_sd: float,
    annotators: Sequence[int],
    items: Sequence[int],
    seed: int,
    contrast: tuple[str, str] | None = None,
    items_per_annotator: int | None = None,
    alpha: float = 0.05,
    target: float = 0.8,
    adjustment: str = "holm",
    simulations: int = 500,
    null_check: bool = True,
    slope_sd_annotator: float = 0.0,
    slope_sd_item: float = 0.0,
    analysis: str = "intercepts",
) -> ConditionPowerPlan:
    """The power of every design of the grid ``annotators`` × ``items`` to reject equal means of ``contrast``
    (default: the two conditions whose stated means differ least), and the smallest design reaching ``target``.

    ``means``: condition → mean score, the first the reference. ``annotator_sd``, ``item_sd``, ``residual_sd``:
    the SDs of the crossed model's annotator and item intercepts and residual. ``items_per_annotator``: None (every
    annotator scores every item's K images) or m items each (see ``schedule``). ``adjustment``: holm, tukey or none
    across all K(K − 1)/2 contrasts, as ``compare_conditions`` adjusts them. ``simulations`` studies per design,
    drawn from a stream seeded by (``seed``, annotators, items), so a design's estimate does not depend on the rest
    of the grid. With ``null_check``, the smallest design is simulated again with the contrast's difference set to
    zero (``type_one_error``, which should be near ``alpha``). ``slope_sd_annotator``, ``slope_sd_item``: SDs of
    each annotator's and each item's shift of each condition. ``analysis``: "intercepts" (``compare_conditions``) or
    "paired" (``paired_contrasts``; adjustment holm or none). Arguments out of range raise a ValueError naming the
    argument.
    """
    for name, value in (("slope_sd_annotator", slope_sd_annotator), ("slope_sd_item", slope_sd_item)):
        if not isinstance(value, int | float | np.floating) or not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a finite number of at least 0; got {value!r}.")
    if analysis not in ("intercepts", "paired"):
        raise ValueError(f"analysis must be 'intercepts' or 'paired'; got {analysis!r}.")
    if analysis == "paired" and adjustment == "tukey":
        raise ValueError("adjustment tukey needs analysis 'intercepts'; the paired contrasts are adjusted by holm.")
    j, i = _check(
        means=means,
        contrast=contrast,
        annotator_sd=annotator_sd,
        item_sd=item_sd,
        residual_sd=residual_sd,
        annotators=annotators,
        items=items,
        items_per_annotator=items_per_annotator,
        alpha=alpha,
        target=target,
        adjustment=adjustment,
        simulations=simulations,
    )
    conditions = tuple(str(name) for name in means)
    values = np.array([float(v) for v in means.values()])
    key = (conditions[j], conditions[i])
    if contrast is not None and str(contrast[0]) == conditions[i]:
        shown = (conditions[i], conditions[j])
    else:
        shown = key
    common = {
        "conditions": conditions,
        "key": key,
        "annotator_sd": float(annotator_sd),
        "item_sd": float(item_sd),
        "residual_sd": float(residual_sd),
        "items_per_annotator": items_per_annotator,
        "alpha": alpha,
        "adjustment": adjustment,
        "simulations": simulations,
        "seed": seed,
        "slopes": (float(slope_sd_annotator), float(slope_sd_item)),
        "analysis": analysis,
    }
    grid = tuple(
        _design_power(values=values, annotators=int(a), items=int(n), **common)
        for a in sorted(set(annotators))
        for n in sorted(set(items))
    )
    reaching = [design for design in grid if design.power >= target]
    smallest = min(reaching, key=lambda d: (d.scores, d.items)) if reaching else None
    null = None
    if null_check and smallest is not None:
        flat = values.copy()
        flat[j] = flat[i]  # the contrast's difference set to zero, the other conditions as stated
        null = _design_power(values=flat, annotators=smallest.annotators, items=smallest.items, stream=1, **common)
    names = {name: k for k, name in enumerate(conditions)}
    return ConditionPowerPlan(
        conditions=conditions,
        means=tuple(float(v) for v in values),
        contrast=shown,
        difference=float(values[names[shown[0]]] - values[names[shown[1]]]),
        annotator_sd=float(annotator_sd),
        item_sd=float(item_sd),
        residual_sd=float(residual_sd),
        items_per_annotator=items_per_annotator,
        alpha=alpha,
        target=target,
        adjustment=adjustment,
        simulations=simulations,
        seed=seed,
        grid=grid,
        smallest=smallest,
        type_one_error=null,
        slope_sd_annotator=float(slope_sd_annotator),
        slope_sd_item=float(slope_sd_item),
        analysis=analysis,
    )
