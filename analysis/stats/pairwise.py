"""Pairwise-preference studies: Bradley–Terry strengths (Davidson's tie extension when there are ties).

A judgment shows conditions ``left`` and ``right`` and records ``choice`` ("left", "right" or "tie"). Each
unordered pair (i, j) is a three-outcome multinomial logit with linear predictors s_i (i preferred), s_j (j
preferred) and log ν + (s_i + s_j) / 2 (tie): Davidson (1970). Without ties it is plain Bradley–Terry. Strengths
are on the log scale with the reference condition fixed at 0. The maximum-likelihood fit is Newton's method on the
concave log-likelihood of per-pair outcome counts, vectorised over bootstrap resamples (each warm-started from the
full fit). CIs come from the two-way (annotator × item) bootstrap: annotators and items are drawn with
replacement, independently, and a judgment enters with weight (draws of its annotator) × (draws of its item).
Like ``bootstrap.py``'s, this pigeonhole bootstrap (Owen 2007) is conservative for crossed data.

Pair tests are Wald tests of s_i = s_j whose SE comes from a two-way cluster-robust covariance of the fit
(Cameron, Gelbach & Miller 2011): V = V_annotator + V_item − V_(annotator × item), each term the sandwich
H⁻¹ (Σ_g s_g s_g') H⁻¹ with H the observed information and s_g the judgments' score contributions summed within
cluster g, scaled by G / (G − 1) for its G clusters; that is R's ``sandwich::vcovCL(fit, cluster = ~ annotator +
item, type = "HC0")``, the default for a glm, and a V that is not positive semi-definite has its negative
eigenvalues set to 0 (``fix = TRUE``). The ratio is referred to a t distribution with
(A − 1)(I − 1) / (A + I − 2) df for A annotators and I items, i.e. 1 / (1/(A − 1) + 1/(I − 1)) (``robust_df``).
Judgments of one annotator (its leanings) or one prompt (its difficulty) are not independent; the inverse
information alone treats them as if they were and rejects a true null far more often than α when annotators or
prompts differ (docs/results.md, "Pairwise studies"). That model-based SE is kept for reference (``model_se``).
The p are adjusted across the pairs (Holm by default, ``multiplicity.adjust``).
"""

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import stats
from scipy.sparse import csgraph, csr_matrix

from .multiplicity import METHODS, adjust

REQUIRED_COLUMNS = ("annotator", "item", "left", "right", "choice")
CHOICES = ("left", "right", "tie")
METHOD = "two-way (annotator × item) bootstrap, percentile interval"
P_METHOD = (
    "Wald test of equal log strengths with a two-way (annotator, item) cluster-robust covariance (Cameron, "
    "Gelbach & Miller 2011; each cluster term scaled by G/(G − 1), as sandwich::vcovCL type HC0), referred to a t "
    "distribution with (A − 1)(I − 1)/(A + I − 2) df for A annotators and I items"
)
ALPHA_METHOD = "Krippendorff's alpha, nominal; units are (item, unordered pair), values the preferred condition or tie"
BATCH = 250
MAX_ITERATIONS = 100
TOLERANCE = 1e-9
MAX_STEP = 2.0


@dataclass(frozen=True)
class Strength:
    """``se``: the two-way cluster-robust SE of the log strength (that of its difference from the reference, 0 for
    the reference); ``model_se``: the inverse observed information's, which treats judgments as independent."""

    condition: str
    log_strength: float
    ci: tuple[float | None, float | None]
    se: float
    model_se: float | None = None


@dataclass(frozen=True)
class PairTest:
    """Wald test of s_first = s_second; ``difference`` is s_first − s_second, ``se`` its two-way cluster-robust SE,
    ``z`` = difference / se and ``p`` its two-sided p from a t distribution with ``df`` degrees of freedom
    (``robust_df``, ``P_METHOD``). ``p_adjusted`` is ``p`` adjusted across every pair of the study
    (``PairwiseResult.adjustment``); None where ``p`` is not defined (NaN: no SE, or a single annotator or item).
    ``model_se`` is the SE from the inverse observed information, for reference only: it treats judgments as
    independent and understates the SE when annotators or prompts differ."""

    first: str
    second: str
    difference: float
    se: float
    z: float
    p: float
    p_adjusted: float | None = None
    model_se: float | None = None
    df: float | None = None


@dataclass(frozen=True)
class PairwiseResult:
    conditions: tuple[str, ...]
    reference: str
    model: str
    strengths: tuple[Strength, ...]
    tie_parameter: float | None
    tie_parameter_ci: tuple[float | None, float | None]
    leaderboard: tuple[str, ...]
    win_rate: tuple[tuple[float | None, ...], ...]
    comparisons: tuple[tuple[int, ...], ...]
    pair_tests: tuple[PairTest, ...]
    alpha: float | None
    alpha_units: int
    intransitive_triads: int
    n: int
    annotators: int
    items: int
    resamples: int
    valid_resamples: int
    seed: int
    level: float
    method: str = METHOD
    p_method: str = P_METHOD
    alpha_method: str = ALPHA_METHOD
    adjustment: str = "holm"


@dataclass(frozen=True, eq=False)
class PairwiseData:
    """Coded judgments. ``pair_first``/``pair_second`` (first < second) are the observed unordered pairs;
    ``outcome`` is 0 (first preferred), 1 (second preferred) or 2 (tie)."""

    conditions: tuple[str, ...]
    annotator: np.ndarray
    item: np.ndarray
    pair: np.ndarray
    outcome: np.ndarray
    pair_first: np.ndarray
    pair_second: np.ndarray
    n_annotators: int
    n_items: int

    @property
    def has_ties(self) -> bool:
        return bool((self.outcome == 2).any())

    @property
    def n_outcomes(self) -> int:
        return 3 if self.has_ties else 2


def _validate(frame: pd.DataFrame) -> None:
    missing = [column for column in REQUIRED_COLUMNS if column not in frame.columns]
    if missing:
        raise ValueError(f"The judgments lack the column(s) {', '.join(missing)}.")
    if frame.empty:
        raise ValueError("The judgments are empty.")
    for column in REQUIRED_COLUMNS:
        if frame[column].isna().any():
            raise ValueError(f"The column {column} has missing values.")
    unknown = sorted(set(frame["choice"].astype(str)) - set(CHOICES))
    if unknown:
        raise ValueError(
            f"The column choice has unknown value(s) {', '.join(map(repr, unknown))}; expected left, right or tie."
        )
    same = frame["left"].to_numpy() == frame["right"].to_numpy()
    if same.any():
        raise ValueError(f"The columns left and right name the same condition {frame['left'][same].iloc[0]!r}.")


def pairwise_data(frame: pd.DataFrame) -> PairwiseData:
    """Code a tidy frame (annotator, item, left, right, choice); refuse bad input with a ValueError naming it."""
    _validate(frame)
    labels = pd.Index(pd.unique(pd.concat([frame["left"], frame["right"]]).astype(str))).sort_values()
    if labels.size < 2:
        raise ValueError("The judgments need at least two conditions.")
    left = labels.get_indexer(frame["left"].astype(str))
    right = labels.get_indexer(frame["right"].astype(str))
    choice = frame["choice"].astype(str).to_numpy()
    first, second = np.minimum(left, right), np.maximum(left, right)
    winner = np.where(choice == "left", left, right)
    outcome = np.where(choice == "tie", 2, np.where(winner == first, 0, 1))
    pair_codes, pair_keys = pd.factorize(first * labels.size + second, sort=True)
    pair_keys = np.asarray(pair_keys)
    annotator, annotators = pd.factorize(frame["annotator"], sort=True)
    item, items = pd.factorize(frame["item"], sort=True)
    return PairwiseData(
        conditions=tuple(labels),
        annotator=annotator.astype(np.int64),
        item=item.astype(np.int64),
        pair=pair_codes.astype(np.int64),
        outcome=outcome.astype(np.int64),
        pair_first=pair_keys // labels.size,
        pair_second=pair_keys % labels.size,
        n_annotators=len(annotators),
        n_items=len(items),
    )


def _design(data: PairwiseData, reference: int) -> np.ndarray:
    """Pairs × outcomes × free parameters: the m − 1 non-reference strengths, then log ν when there are ties."""
    m, K = len(data.conditions), data.pair_first.size
    X = np.zeros((K, 3, m + 1))
    rows = np.arange(K)
    X[rows, 0, data.pair_first] = 1.0
    X[rows, 1, data.pair_second] = 1.0
    X[rows, 2, data.pair_first] = 0.5
    X[rows, 2, data.pair_second] = 0.5
    X[:, 2, m] = 1.0
    keep = [p for p in range(m + 1) if p != reference and (p < m or data.has_ties)]
    return X[:, : data.n_outcomes][:, :, keep]


def _counts(data: PairwiseData, weights: np.ndarray | None = None) -> np.ndarray:
    """Outcome counts per pair (pairs × outcomes), optionally weighted per judgment."""
    O = data.n_outcomes
    flat = np.bincount(data.pair * O + data.outcome, weights=weights, minlength=data.pair_first.size * O)
    return flat.reshape(-1, O)


def _derivatives(beta: np.ndarray, y: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log-likelihood, gradient and observed information, batched: beta (B, P), y (B, K, O), X (K, O, P)."""
    eta = np.einsum("kop,bp->bko", X, beta)
    eta -= eta.max(axis=2, keepdims=True)
    log_p = eta - np.log(np.exp(eta).sum(axis=2, keepdims=True))
    p = np.exp(log_p)
    n = y.sum(axis=2, keepdims=True)
    loglik = (y * log_p).sum(axis=(1, 2))
    gradient = np.einsum("bko,kop->bp", y - n * p, X)
    mean_x = np.einsum("bko,kop->bkp", p, X)
    information = np.einsum("bko,kop,koq->bpq", n * p, X, X) - np.einsum("bkp,bkq->bpq", n * mean_x, mean_x)
    return loglik, gradient, information


def fit_newton(y: np.ndarray, X: np.ndarray, start: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Maximum-likelihood parameters of each of B count sets (B, K, O), Newton steps capped at ``MAX_STEP``.

    Returns (beta, converged, information at beta). A set whose likelihood has no maximum (a condition that never
    loses, or a split comparison graph) does not converge within ``MAX_ITERATIONS``.
    """
    beta = np.array(start, dtype=float)
    B, P = beta.shape
    converged = np.zeros(B, dtype=bool)
    information = np.zeros((B, P, P))
    active = np.arange(B)
    ridge = 1e-12 * np.eye(P)
    for _ in range(MAX_ITERATIONS):
        _, gradient, info = _derivatives(beta[active], y[active], X)
        information[active] = info
        try:
            step = np.linalg.solve(info + ridge, gradient[:, :, None])[:, :, 0]
        except np.linalg.LinAlgError:
            step = np.stack([np.linalg.lstsq(a + ridge, g, rcond=None)[0] for a, g in zip(info, gradient, strict=True)])
        size = np.abs(step).max(axis=1)
        step *= np.minimum(1.0, MAX_STEP / np.maximum(size, 1e-300))[:, None]
        beta[active] += step
        done = size < TOLERANCE
        converged[active[done]] = True
        active = active[~done]
        if active.size == 0:
            break
    finite = np.isfinite(beta).all(axis=1)
    return beta, converged & finite, information


def _check_estimable(data: PairwiseData) -> None:
    """The MLE exists when the graph 'i won or tied against j' is strongly connected (Hunter 2004, Assumption 1)."""
    m = len(data.conditions)
    counts = _counts(data)
    ties = counts[:, 2] if data.has_ties else 0.0
    first_beats, second_beats = (counts[:, 0] + ties) > 0, (counts[:, 1] + ties) > 0
    sources = np.concatenate([data.pair_first[first_beats], data.pair_second[second_beats]])
    targets = np.concatenate([data.pair_second[first_beats], data.pair_first[second_beats]])
    graph = csr_matrix((np.ones(sources.size), (sources, targets)), shape=(m, m))
    parts, _ = csgraph.connected_components(graph, directed=True, connection="strong")
    if parts > 1:
        raise ValueError(
            "The strengths are not estimable: some condition(s) never lose (or never win) against the rest, "
            "so the comparison graph is not strongly connected."
        )


def _full_parameters(beta: np.ndarray, m: int, reference: int) -> tuple[np.ndarray, np.ndarray]:
    """(strengths with the reference at 0, log ν or an empty array) from free parameters, batched (B, P)."""
    strengths = np.insert(beta[:, : m - 1], reference, 0.0, axis=1)
    return strengths, beta[:, m - 1 :]


def resample_weights(data: PairwiseData, rng: np.random.Generator, size: int) -> np.ndarray:
    """Judgment weights (size × n): times each judgment's annotator was drawn × times its item was drawn."""
    A, I = data.n_annotators, data.n_items
    annotator_draws = _draw_counts(rng, size, A)
    item_draws = _draw_counts(rng, size, I)
    return annotator_draws[:, data.annotator] * item_draws[:, data.item]


def _draw_counts(rng: np.random.Generator, size: int, levels: int) -> np.ndarray:
    draws = rng.integers(0, levels, size=(size, levels)) + (np.arange(size) * levels)[:, None]
    return np.bincount(draws.ravel(), minlength=size * levels).reshape(size, levels).astype(float)


def _batch_counts(data: PairwiseData, weights: np.ndarray) -> np.ndarray:
    """Weighted outcome counts per pair for each resample (B, K, O), as one sparse product."""
    O, K = data.n_outcomes, data.pair_first.size
    column = data.pair * O + data.outcome
    indicator = csr_matrix((np.ones(column.size), (np.arange(column.size), column)), shape=(column.size, K * O))
    return np.asarray((indicator.T @ weights.T).T).reshape(weights.shape[0], K, O)


def bootstrap_parameters(
    data: PairwiseData, X: np.ndarray, beta: np.ndarray, *, seed: int, resamples: int
) -> tuple[np.ndarray, np.ndarray]:
    """Refit on each two-way resample, warm-started from ``beta``; returns (parameters, valid mask)."""
    rng = np.random.default_rng(seed)
    estimates = np.empty((resamples, beta.size))
    valid = np.zeros(resamples, dtype=bool)
    m = len(data.conditions)
    for start in range(0, resamples, BATCH):
        size = min(BATCH, resamples - start)
        y = _batch_counts(data, resample_weights(data, rng, size))
        present = _present(y, data, m)
        fitted, converged, _ = fit_newton(y, X, np.tile(beta, (size, 1)))
        estimates[start : start + size] = fitted
        valid[start : start + size] = converged & present
    return estimates, valid


def _present(y: np.ndarray, data: PairwiseData, m: int) -> np.ndarray:
    """Per resample: every condition compared at least once (and, with ties in the data, at least one tie)."""
    pair_n = y.sum(axis=2)
    per_condition = np.zeros((y.shape[0], m))
    np.add.at(per_condition.T, data.pair_first, pair_n.T)
    np.add.at(per_condition.T, data.pair_second, pair_n.T)
    present = (per_condition > 0).all(axis=1)
    if data.has_ties:
        present &= y[:, :, 2].sum(axis=1) > 0
    return present


def win_rates(data: PairwiseData) -> tuple[np.ndarray, np.ndarray]:
    """(rate, n): rate[i, j] is the share of i-vs-j judgments that prefer i, a tie counting half (NaN if none)."""
    m = len(data.conditions)
    counts = _counts(data)
    ties = counts[:, 2] if data.has_ties else np.zeros(counts.shape[0])
    wins = np.zeros((m, m))
    wins[data.pair_first, data.pair_second] = counts[:, 0] + ties / 2
    wins[data.pair_second, data.pair_first] = counts[:, 1] + ties / 2
    n = wins + wins.T
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(n > 0, wins / n, np.nan)
    return rate, n.astype(int)


def intransitive_triads(rate: np.ndarray) -> int:
    """Directed 3-cycles in the majority graph (i → j when rate[i, j] > ½); trace(A³) / 3."""
    A = (np.nan_to_num(rate, nan=0.5) > 0.5).astype(np.int64)
    return int(np.trace(A @ A @ A) // 3)


def nominal_alpha(units: np.ndarray, values: np.ndarray) -> tuple[float | None, int]:
    """Krippendorff's alpha, nominal metric, from one (unit, value) row per coded value; (alpha, pairable units).

    Units with a single value are not pairable and drop out. None when there is no disagreement to expect.
    """
    unit_codes = pd.factorize(pd.Series(units), sort=False)[0]
    value_codes = pd.factorize(pd.Series(values), sort=False)[0]
    U, V = unit_codes.max() + 1, value_codes.max() + 1
    table = np.bincount(unit_codes * V + value_codes, minlength=U * V).reshape(U, V).astype(float)
    m_u = table.sum(axis=1)
    table = table[m_u >= 2]
    m_u = m_u[m_u >= 2]
    n = m_u.sum()
    if n < 2:
        return None, 0
    observed = ((m_u**2 - (table**2).sum(axis=1)) / (m_u - 1)).sum() / n
    n_c = table.sum(axis=0)
    expected = (n**2 - (n_c**2).sum()) / (n * (n - 1))
    if expected == 0:
        return None, int(m_u.size)
    return float(1 - observed / expected), int(m_u.size)


def judgment_scores(beta: np.ndarray, X: np.ndarray, pair: np.ndarray, outcome: np.ndarray) -> np.ndarray:
    """Each judgment's contribution to the score (gradient of the log-likelihood), batched: beta (B, P), X (K, O, P),
    ``pair`` (n,) and ``outcome`` (n,) or (B, n); returns (B, n, P). A judgment of pair k with outcome o contributes
    x_ko − Σ_o' p_ko' x_ko' (its outcome's design row less its expectation), the three-outcome (Davidson) or the
    two-outcome (Bradley–Terry, the logistic regression's (y − p) x) multinomial logit's score."""
    eta = np.einsum("kop,bp->bko", X, beta)
    eta -= eta.max(axis=2, keepdims=True)
    p = np.exp(eta)
    p /= p.sum(axis=2, keepdims=True)
    mean_x = np.einsum("bko,kop->bkp", p, X)
    return X[pair, outcome] - mean_x[:, pair, :]


def cluster_terms(annotator: np.ndarray, item: np.ndarray) -> tuple[tuple[np.ndarray, int, int], ...]:
    """The two-way clustering's three terms as (cluster codes 0..G − 1 per judgment, G, sign): annotators (+),
    items (+) and annotator × item cells (−), as Cameron, Gelbach & Miller (2011) and ``sandwich::vcovCL`` form them."""
    cells = pd.factorize(annotator.astype(np.int64) * (int(item.max()) + 1) + item, sort=True)[0]
    terms = []
    for codes, sign in ((annotator, 1), (item, 1), (cells, -1)):
        codes = pd.factorize(codes, sort=True)[0]
        terms.append((codes.astype(np.int64), int(codes.max()) + 1, sign))
    return tuple(terms)


def cluster_meat(scores: np.ndarray, terms: tuple[tuple[np.ndarray, int, int], ...]) -> np.ndarray:
    """Σ_c sign_c · G_c / (G_c − 1) · Σ_g s_g s_g' with s_g the scores (B, n, P) summed within cluster g of term c;
    (B, P, P). NaN where a term has a single cluster (its correction, and so the variance, is undefined)."""
    B, n, P = scores.shape
    flat = np.ascontiguousarray(scores.transpose(1, 0, 2)).reshape(n, B * P)
    meat = np.zeros((B, P, P))
    for codes, G, sign in terms:
        if G < 2:
            return np.full((B, P, P), np.nan)
        indicator = csr_matrix((np.ones(n), (codes, np.arange(n))), shape=(G, n))
        sums = np.asarray(indicator @ flat).reshape(G, B, P)
        meat += sign * G / (G - 1) * np.einsum("gbp,gbq->bpq", sums, sums)
    return meat


def robust_covariance(information: np.ndarray, meat: np.ndarray) -> np.ndarray:
    """The sandwich H⁻¹ M H⁻¹ (B, P, P), its negative eigenvalues set to 0 (``vcovCL(fix = TRUE)``): the two-way
    combination V_annotator + V_item − V_cell need not be positive semi-definite."""
    bread = np.linalg.inv(information)
    covariance = bread @ meat @ bread
    covariance = (covariance + covariance.transpose(0, 2, 1)) / 2
    rows = np.flatnonzero(np.isfinite(covariance).all(axis=(1, 2)))
    if rows.size:
        values, vectors = np.linalg.eigh(covariance[rows])
        negative = (values < 0).any(axis=1)
        if negative.any():
            values, vectors = np.clip(values[negative], 0, None), vectors[negative]
            covariance[rows[negative]] = (vectors * values[:, None, :]) @ vectors.transpose(0, 2, 1)
    return covariance


def _alpha(data: PairwiseData) -> tuple[float | None, int]:
    units = data.item * data.pair_first.size + data.pair
    return nominal_alpha(units, data.outcome)


def _pair_se(covariance: np.ndarray, i: int, j: int) -> float:
    variance = covariance[i, i] + covariance[j, j] - 2 * covariance[i, j]
    return float(np.sqrt(max(variance, 0.0))) if np.isfinite(variance) else float("nan")


def _wald_tests(
    strengths: np.ndarray, covariance: np.ndarray, model_covariance: np.ndarray, df: float, conditions: tuple[str, ...]
) -> tuple[PairTest, ...]:
    """Each pair's test from the (robust) ``covariance``, t reference with ``df`` (p NaN where ``df`` is 0 or the SE
    is 0 or undefined); ``model_covariance`` gives ``model_se``."""
    tests = []
    m = len(conditions)
    for i in range(m):
        for j in range(i + 1, m):
            difference = float(strengths[i] - strengths[j])
            se = _pair_se(covariance, i, j)
            z = difference / se if se > 0 and df > 0 else float("nan")
            p = float(2 * stats.t.sf(abs(z), df)) if np.isfinite(z) else float("nan")
            model_se = _pair_se(model_covariance, i, j)
            tests.append(PairTest(conditions[i], conditions[j], difference, se, float(z), p, None, model_se, df))
    return tuple(tests)


def robust_df(n_annotators: int, n_items: int) -> float:
    """The pair tests' t degrees of freedom, (A − 1)(I − 1) / (A + I − 2) = 1 / (1/(A − 1) + 1/(I − 1)) for A
    annotators and I items (0 when either is 1).

    The two-way variance is V_annotator + V_item − V_cell. Where annotators and items add little variance, the
    first two terms are each about V plus noise with A − 1 and I − 1 df, and V_cell takes about V away: the
    Welch–Satterthwaite df of that sum is this number. Where one factor dominates, its term alone carries the noise
    and the df are nearer that factor's G − 1; this is the smaller, so the test errs towards the conservative side.
    Cameron, Gelbach & Miller (2011) suggest min(A, I) − 1, which rejected a true null up to 7.8% of the time at
    α = 5% in small designs without heterogeneity (docs/results.md, "Pairwise studies").
    """
    if n_annotators < 2 or n_items < 2:
        return 0.0
    return (n_annotators - 1) * (n_items - 1) / (n_annotators + n_items - 2)


def p_method(df: float) -> str:
    """``P_METHOD`` with the study's degrees of freedom."""
    return f"{P_METHOD} (here {df:.4g})"


def adjust_pair_tests(tests: tuple[PairTest, ...], method: str = "holm") -> tuple[PairTest, ...]:
    """The tests with ``p_adjusted`` across all of them (``multiplicity.adjust``: holm or bh); an undefined p
    (a pair whose difference has no SE) stays undefined and does not count."""
    adjusted = adjust([t.p if np.isfinite(t.p) else None for t in tests], method=method)
    return tuple(replace(test, p_adjusted=value) for test, value in zip(tests, adjusted, strict=True))


def _percentile(values: np.ndarray, level: float) -> tuple[float | None, float | None]:
    if values.size < 2:
        return (None, None)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def fit_robust_covariance(data: PairwiseData, beta: np.ndarray, X: np.ndarray, information: np.ndarray) -> np.ndarray:
    """Two-way (annotator, item) cluster-robust covariance of the free parameters at the fit ``beta`` (NaN when
    there is a single annotator or a single item)."""
    scores = judgment_scores(beta[None], X, data.pair, data.outcome)
    meat = cluster_meat(scores, cluster_terms(data.annotator, data.item))
    return robust_covariance(information[None], meat)[0]


def _strength_covariance(free: np.ndarray, m: int, reference: int) -> np.ndarray:
    """The m × m covariance of the strengths (the reference's row and column 0) from the free parameters'."""
    block = free[: m - 1, : m - 1]
    return np.insert(np.insert(block, reference, 0.0, axis=0), reference, 0.0, axis=1)


def fit_full(data: PairwiseData, reference: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(free parameters, design, observed information) of the full data's maximum-likelihood fit."""
    _check_estimable(data)
    X = _design(data, reference)
    beta, converged, information = fit_newton(_counts(data)[None], X, np.zeros((1, X.shape[2])))
    if not converged[0]:
        raise ValueError("The Bradley–Terry fit did not converge.")
    return beta[0], X, information[0]


def pairwise_study(
    frame: pd.DataFrame,
    *,
    seed: int,
    resamples: int = 1000,
    level: float = 0.95,
    reference: str | None = None,
    adjustment: str = "holm",
) -> PairwiseResult:
    """Strengths with two-way bootstrap CIs, win rates, leaderboard, cluster-robust Wald pair tests (``P_METHOD``),
    nominal alpha and triads.

    ``reference`` (default: the first condition in sorted order) has log strength 0. The pair tests' p are adjusted
    across the pairs by ``adjustment`` (holm or bh).
    """
    if adjustment not in METHODS:
        raise ValueError(f"Unknown adjustment {adjustment!r}; choose from {', '.join(METHODS)}.")
    data = pairwise_data(frame)
    m = len(data.conditions)
    if reference is not None and reference not in data.conditions:
        raise ValueError(f"The reference condition {reference!r} is not among the conditions.")
    ref = data.conditions.index(reference) if reference is not None else 0
    beta, X, information = fit_full(data, ref)
    boot, valid = bootstrap_parameters(data, X, beta, seed=seed, resamples=resamples)
    strengths, log_nu = _full_parameters(beta[None], m, ref)
    boot_strengths, boot_log_nu = _full_parameters(boot[valid], m, ref)
    covariance = _strength_covariance(fit_robust_covariance(data, beta, X, information), m, ref)
    model_covariance = _strength_covariance(np.linalg.inv(information), m, ref)
    df = robust_df(data.n_annotators, data.n_items)
    rate, n = win_rates(data)
    alpha, alpha_units = _alpha(data)
    ses = np.sqrt(np.clip(np.diag(covariance), 0, None))
    model_ses = np.sqrt(np.clip(np.diag(model_covariance), 0, None))
    return PairwiseResult(
        conditions=data.conditions,
        reference=data.conditions[ref],
        model="Davidson" if data.has_ties else "Bradley–Terry",
        strengths=tuple(
            Strength(
                c, float(strengths[0, i]), _percentile(boot_strengths[:, i], level), float(ses[i]), float(model_ses[i])
            )
            for i, c in enumerate(data.conditions)
        ),
        tie_parameter=float(np.exp(log_nu[0, 0])) if data.has_ties else None,
        tie_parameter_ci=_tie_ci(boot_log_nu, level) if data.has_ties else (None, None),
        leaderboard=tuple(data.conditions[i] for i in np.argsort(-strengths[0], kind="stable")),
        win_rate=tuple(tuple(None if np.isnan(v) else float(v) for v in row) for row in rate),
        comparisons=tuple(tuple(int(v) for v in row) for row in n),
        pair_tests=adjust_pair_tests(
            _wald_tests(strengths[0], covariance, model_covariance, df, data.conditions), adjustment
        ),
        alpha=alpha,
        alpha_units=alpha_units,
        intransitive_triads=intransitive_triads(rate),
        n=int(data.outcome.size),
        annotators=data.n_annotators,
        items=data.n_items,
        resamples=resamples,
        valid_resamples=int(valid.sum()),
        seed=seed,
        level=level,
        p_method=p_method(df),
        adjustment=adjustment,
    )


def _tie_ci(boot_log_nu: np.ndarray, level: float) -> tuple[float | None, float | None]:
    low, high = _percentile(boot_log_nu[:, 0], level)
    return (None, None) if low is None else (float(np.exp(low)), float(np.exp(high)))


def pairwise_by_criterion(
    frame: pd.DataFrame, *, seed: int, criterion: str = "criterion", **options
) -> dict[str, PairwiseResult]:
    """``pairwise_study`` of each criterion's judgments (sorted by criterion), each with the same seed."""
    if criterion not in frame.columns:
        raise ValueError(f"The judgments lack the column {criterion}.")
    if frame[criterion].isna().any():
        raise ValueError(f"The column {criterion} has missing values.")
    return {
        str(name): pairwise_study(group, seed=seed, **options) for name, group in frame.groupby(criterion, sort=True)
    }
