"""Linear mixed model with two crossed random intercepts, fitted by REML (or ML) from sufficient statistics.

Model: ``y = X β + u_a[annotator] + u_b[item] + e`` with ``u_a ~ N(0, σ²_a)``, ``u_b ~ N(0, σ²_b)``,
``e ~ N(0, σ²)``. On the per-judgment difference ``d = ours − baseline`` with ``X = 1`` the intercept IS the
effect and the two random intercepts ARE the by-annotator and by-item variation in the effect: the maximal model
of this design.

Estimation follows lme4's profiled penalised least squares (Bates et al. 2015): with relative factors
``θ = (σ_a/σ, σ_b/σ)``, ``M = Λ'Z'ZΛ + I`` is block structured ``[[diag, N], [N', diag]]`` (N the annotator × item
count matrix). Eliminating the larger diagonal block leaves a dense Schur complement the size of the smaller
factor: O(n) once for the sufficient statistics, then per evaluation a Cholesky of S × S (Gram matrices are
precomputed per distinct count), or, for balanced designs, O(S) after one eigendecomposition (see
``CrossedGroups``). 1,000 × 1,000 fits in seconds.

The search (``search``) is lme4's: the profiled deviance over θ ≥ 0 by BOBYQA (NLopt), derivative-free, so a
bound is no trap (the deviance is a function of θ², flat in θ at 0). It starts from a moment estimate and again
from lme4's start θ = 1, which stops as soon as it reaches the first optimum; a component below lme4's singular
tolerance is set to 0 only when the deviance there is no higher, and the fit is then called singular.

Degrees of freedom: Satterthwaite (as lmerTest), from a central-difference stencil of the deviance in (θ, σ) at the
optimum: its Hessian, and the gradient of Var(β̂_k). The same stencil gives lme4's convergence check (the Newton
step ``H⁻¹g`` must be small and H positive definite). A variance component that cannot be estimated (fewer than
two levels, or one judgment per level) is left out from the start; the result says so in ``model`` and
``simplified``.
"""

import functools
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations

import nlopt
import numpy as np
from scipy import linalg, sparse
from scipy import stats as sps
from scipy.linalg import blas, lapack

COMPONENTS = ("annotator", "item")
#: θ (σ_k / σ) below this is an estimate at the boundary: a singular fit (lme4's ``isSingular`` tolerance).
BOUNDARY_THETA = 1e-4
DENSE_LIMIT = 25_000_000  # cells of the count matrix held densely; larger designs use a sparse one
#: BOBYQA's stopping rules: θ to 1e-10, the deviance to 1e-11 (lme4's defaults stop at about 1e-6).
XTOL, FTOL, MAX_EVALUATIONS = 1e-10, 1e-11, 2_000
#: Two starts agree when the second comes this close (relative) to the first's deviance.
AGREEMENT = 1e-7
#: lme4's convergence check: the largest |H⁻¹g| (the Newton step left) at the optimum.
GRADIENT_TOLERANCE = 2e-3
STENCIL_STEP = 1e-3  # relative step of the df stencil in θ
#: The deviance's rounding error, relative: a component below the singular tolerance whose removal costs no
#: more than this is set to 0 (the true difference there is of order θ⁴, far below it).
NOISE = 1e-12


@dataclass(frozen=True)
class CrossedFit:
    """A fitted crossed model: fixed effects with covariance and Satterthwaite df, and variance components."""

    names: tuple[str, ...]
    coefficients: tuple[float, ...]
    covariance: tuple[tuple[float, ...], ...]
    df: tuple[float, ...]
    df_method: str
    variance: dict[str, float]  # σ²_annotator, σ²_item (0 when removed)
    residual: float  # σ²
    model: str
    simplified: tuple[str, ...]
    method: str
    deviance: float
    converged: bool
    n: int
    levels: dict[str, int] = field(default_factory=dict)
    singular: bool = False  # a variance component estimated at the boundary 0
    convergence: str = ""  # the optimiser's account: evaluations, starts, and what failed if it did
    df_note: str = ""  # why the Satterthwaite df are only approximate, when they are
    #: What Satterthwaite df of any contrast L'β need (lmerTest's ``Jac_list`` and ``vcov_varpar``): the gradient of
    #: Var(β̂) in the variance parameters (θ of the varying components, then σ), one p × p matrix each, and those
    #: parameters' asymptotic covariance 2·H⁻¹. Empty when the df are not Satterthwaite's.
    vcov_gradient: tuple[tuple[tuple[float, ...], ...], ...] = field(default=(), repr=False, compare=False)
    varpar_covariance: tuple[tuple[float, ...], ...] = field(default=(), repr=False, compare=False)
    df_fallback: float = math.nan  # the df where Satterthwaite's cannot be had: min(levels) − 1

    def se(self, k: int = 0) -> float:
        return math.sqrt(max(self.covariance[k][k], 0.0))


@dataclass(frozen=True)
class Effect:
    """One fixed effect with its standard error, confidence interval and two-sided t test."""

    estimate: float
    se: float
    ci: tuple[float, float]
    df: float
    df_method: str
    t: float | None
    p: float | None
    level: float


def effect_of(fit: CrossedFit, k: int = 0, *, level: float = 0.95) -> Effect:
    return _effect(fit.coefficients[k], fit.se(k), fit.df[k], fit.df_method, level)


def _effect(estimate: float, se: float, df: float, df_method: str, level: float) -> Effect:
    if not se > 0 or not math.isfinite(df) or df <= 0:
        return Effect(estimate, se, (math.nan, math.nan), df, df_method, None, None, level)
    quantile = sps.t.ppf(0.5 + level / 2, df)
    t = estimate / se
    return Effect(
        estimate,
        se,
        (estimate - quantile * se, estimate + quantile * se),
        df,
        df_method,
        t,
        float(2 * sps.t.sf(abs(t), df)),
        level,
    )


def _contrast_vector(fit: CrossedFit, L) -> np.ndarray:
    L = np.asarray(L, dtype=float)
    if L.ndim != 1 or L.size != len(fit.coefficients) or not np.all(np.isfinite(L)):
        raise ValueError(f"A contrast needs {len(fit.coefficients)} finite weights, one per coefficient.")
    return L


def contrast_df(fit: CrossedFit, L) -> float:
    """Satterthwaite's df of L'β̂ (lmerTest's ``contest1D``): 2·(L'VL)² / (g'·A·g), g the gradient of L'Var(β̂)L in
    the variance parameters and A their covariance; for a unit vector, ``fit.df`` of that coefficient. With other
    df methods (or where Satterthwaite's cannot be had) the fit's common df."""
    L = _contrast_vector(fit, L)
    if fit.df_method != "satterthwaite" or not fit.varpar_covariance:
        return float(fit.df[0]) if fit.df_method != "none" else math.nan
    return _satterthwaite_df(fit, L, float(L @ np.asarray(fit.covariance) @ L))


def _satterthwaite_df(fit: CrossedFit, L: np.ndarray, variance: float) -> float:
    gradient = np.array([L @ np.asarray(J) @ L for J in fit.vcov_gradient])
    denominator = float(gradient @ np.asarray(fit.varpar_covariance) @ gradient)
    value = 2.0 * variance**2 / denominator if denominator > 0 else math.nan
    return float(value) if math.isfinite(value) else fit.df_fallback


def contrast(fit: CrossedFit, L, *, level: float = 0.95) -> Effect:
    """L'β̂ with its SE, Satterthwaite df, two-sided t test of L'β = 0 and confidence interval."""
    L = _contrast_vector(fit, L)
    estimate = float(L @ np.asarray(fit.coefficients))
    se = math.sqrt(max(float(L @ np.asarray(fit.covariance) @ L), 0.0))
    return _effect(estimate, se, contrast_df(fit, L), fit.df_method, level)


@dataclass(frozen=True)
class FTest:
    """A Wald F test of Lβ = 0 with Satterthwaite's denominator df (lmerTest's ``contestMD``): ``directions`` holds
    the df of each eigen-direction of L·Var(β̂)·L', which lmerTest's rule combines into ``denominator_df``."""

    F: float
    numerator_df: int
    denominator_df: float
    p: float | None
    directions: tuple[float, ...]
    df_method: str


#: lmerTest's tolerances: eigenvalues of L·Var(β̂)·L' below √ε·(largest) are a rank deficiency; direction df that
#: differ by less than 1e-8 are averaged.
RANK_TOLERANCE = math.sqrt(np.finfo(float).eps)
DF_AGREEMENT = 1e-8


def combine_df(nu: Sequence[float]) -> float:
    """lmerTest's ``get_Fstat_ddf``: one df from the df of q independent t statistics. With E = Σ ν/(ν − 2), the
    F statistic's df is 2E/(E − q), as if q·F were a sum of q squared t's; 2 when any ν ≤ 2; the common value
    when they agree."""
    nu = np.asarray(nu, dtype=float)
    if nu.size == 1:
        return float(nu[0])
    if np.all(np.abs(np.diff(nu)) < DF_AGREEMENT):
        return float(nu.mean())
    if np.any(nu <= 2):
        return 2.0
    expectation = float(np.sum(nu / (nu - 2)))
    return 2.0 * expectation / (expectation - nu.size)


def f_test(fit: CrossedFit, L) -> FTest:
    """The F test of Lβ = 0 for a matrix L (one row per hypothesis), as lmerTest's ``contest(fit, L)`` and
    ``anova(fit)`` compute it: L·Var(β̂)·L' = P·diag(d)·P', the directions with d > √ε·max(d) kept (q of them),
    F = Σ (P'Lβ̂)²/d / q, a Satterthwaite df for each direction P_m'L, combined by ``combine_df``."""
    L = np.atleast_2d(np.asarray(L, dtype=float))
    if L.shape[1] != len(fit.coefficients) or L.shape[0] < 1 or not np.all(np.isfinite(L)):
        raise ValueError(f"L needs {len(fit.coefficients)} finite columns, one per coefficient, and a row at least.")
    beta, covariance = np.asarray(fit.coefficients), np.asarray(fit.covariance)
    values, vectors = np.linalg.eigh(L @ covariance @ L.T)
    order = np.argsort(values)[::-1]  # R's eigen: decreasing
    values, vectors = values[order], vectors[:, order]
    keep = values > max(RANK_TOLERANCE * values[0], 0.0)
    q = int(keep.sum())
    if q == 0:
        return FTest(math.nan, 0, math.nan, None, (), fit.df_method)
    rows = vectors[:, keep].T @ L  # P'L, the independent directions
    d = values[keep]
    F = float(np.sum((rows @ beta) ** 2 / d) / q)
    if fit.df_method == "satterthwaite" and fit.varpar_covariance:
        directions = tuple(_satterthwaite_df(fit, row, float(v)) for row, v in zip(rows, d, strict=True))
    else:
        directions = (contrast_df(fit, rows[0]),) * q
    denominator = combine_df(directions)
    p = float(sps.f.sf(F, q, denominator)) if math.isfinite(denominator) and denominator > 0 else None
    return FTest(F, q, denominator, p, directions, fit.df_method)


class CrossedGroups:
    """The two groupings of a design and what every fit on them shares (build once, reuse across responses).

    The larger factor is eliminated (its block of ``M`` is diagonal); the smaller keeps a dense Schur complement.
    Levels of the larger factor with the same number of judgments share one weight, so ``N'diag(w)N`` is a sum of
    precomputed Gram matrices, one per distinct count. With one count, and equal counts in the smaller factor
    too, the Schur complement is a shift of one fixed matrix: one eigendecomposition then serves every θ.
    """

    def __init__(self, *, annotator: np.ndarray, item: np.ndarray):
        self.codes = (np.asarray(annotator, dtype=np.int64), np.asarray(item, dtype=np.int64))
        if self.codes[0].shape != self.codes[1].shape or self.codes[0].ndim != 1:
            raise ValueError("annotator and item must be 1-d arrays of equal length.")
        self.n = int(self.codes[0].size)
        self.levels = (int(self.codes[0].max()) + 1, int(self.codes[1].max()) + 1)
        self.counts = [np.bincount(g, minlength=m).astype(float) for g, m in zip(self.codes, self.levels, strict=True)]
        self.big = 0 if self.levels[0] >= self.levels[1] else 1
        self.small = 1 - self.big
        big_levels, small_levels = self.levels[self.big], self.levels[self.small]
        cells = (
            np.bincount(
                self.codes[self.big] * small_levels + self.codes[self.small], minlength=big_levels * small_levels
            )
            .astype(float)
            .reshape(big_levels, small_levels)
        )
        self.N = cells if cells.size <= DENSE_LIMIT else sparse.csr_matrix(cells)
        distinct = np.unique(self.counts[self.big])
        self.count_groups: list[tuple[float, np.ndarray]] | None = None
        self.grams: list[np.ndarray] | None = None
        self.eigen: tuple[np.ndarray, np.ndarray] | None = None
        if distinct.size <= 8:
            self.count_groups = [(float(c), np.flatnonzero(self.counts[self.big] == c)) for c in distinct]
            self.grams = []
            for _, rows in self.count_groups:
                block = self.N[rows]
                gram = block.T @ block
                self.grams.append(gram.toarray() if sparse.issparse(gram) else np.asarray(gram))
            small_counts = self.counts[self.small]
            if distinct.size == 1 and np.all(small_counts == small_counts[0]):
                self.eigen = linalg.eigh(self.grams[0], check_finite=False)


class _Design:
    """Sufficient statistics of y and X on a grouping; the deviance as a function of θ."""

    def __init__(self, y: np.ndarray, groups: CrossedGroups, X: np.ndarray):
        self.n, self.p = X.shape
        self.groups = groups
        self.levels = groups.levels
        self.big, self.small = groups.big, groups.small
        self.counts = groups.counts
        # per level: [Σy, ΣX] (one row per level, 1 + p columns)
        self.B = [
            np.column_stack([np.bincount(g, weights=v, minlength=m) for v in (y, *X.T)])
            for g, m in zip(groups.codes, groups.levels, strict=True)
        ]
        self.XtX = X.T @ X
        self.Xty = X.T @ y
        self.yty = float(y @ y)
        self._weighted: np.ndarray | None = None
        if groups.count_groups is not None:
            big = self.B[self.big]
            self.P = [groups.N[rows].T @ big[rows] for _, rows in groups.count_groups]  # N_c' B_c
            self.R = [big[rows].T @ big[rows] for _, rows in groups.count_groups]  # B_c' B_c
            if groups.eigen is not None:
                vectors = groups.eigen[1]
                self.VP = [vectors.T @ P for P in self.P]
                self.VBs = vectors.T @ self.B[self.small]

    def solve(self, theta: np.ndarray):
        """log|M|, X'H⁻¹X, X'H⁻¹y and y'H⁻¹y at θ (0 for a removed factor), H = I + ZΓZ'/σ²."""
        groups = self.groups
        tb, ts = float(theta[self.big]), float(theta[self.small])
        ns = self.counts[self.small]
        c = tb * ts
        diagonal = ts * ts * ns + 1.0
        Bb, Bs = self.B[self.big], self.B[self.small]
        if groups.count_groups is not None:
            weights = [1.0 / (tb * tb * count + 1.0) for count, _ in groups.count_groups]
            logdet_m = sum(rows.size * math.log(tb * tb * count + 1.0) for count, rows in groups.count_groups)
            quad = tb * tb * sum(w * R for w, R in zip(weights, self.R, strict=True))
            if c == 0.0:
                quad = quad + ts * ts * (Bs.T @ (Bs / diagonal[:, None]))
                logdet_m += float(np.log(diagonal).sum())
            elif groups.eigen is not None:
                values = groups.eigen[0]
                spectrum = diagonal[0] - c * c * weights[0] * values
                rotated = ts * self.VBs - c * tb * weights[0] * self.VP[0]  # V' rhs
                z = rotated / spectrum[:, None]
                quad = quad + ts * (self.VBs.T @ z) - c * tb * weights[0] * (self.VP[0].T @ z)
                logdet_m += float(np.log(spectrum).sum())
            else:
                gram = sum(w * G for w, G in zip(weights, groups.grams, strict=True))  # a new symmetric array
                NwB = sum(w * P for w, P in zip(weights, self.P, strict=True))  # N' diag(w) B_big
                L = self._cholesky(gram.T, -c * c, diagonal)
                us, _ = lapack.dpotrs(L, ts * Bs - c * tb * NwB, lower=1)
                quad = quad + ts * (Bs.T @ us) - c * tb * (NwB.T @ us)
                logdet_m += 2.0 * float(np.log(np.diag(L)).sum())
        else:
            w = 1.0 / (tb * tb * self.counts[self.big] + 1.0)
            rb, rs = tb * Bb, ts * Bs
            L = self._cholesky(self._gram(np.sqrt(w)), -c * c, diagonal)
            us, _ = lapack.dpotrs(L, rs - c * self._times_n(w[:, None] * rb, transpose=True), lower=1)
            ub = w[:, None] * (rb - c * self._times_n(us, transpose=False))
            quad = rb.T @ ub + rs.T @ us
            logdet_m = -float(np.log(w).sum()) + 2.0 * float(np.log(np.diag(L)).sum())
        xhx = self.XtX - quad[1:, 1:]
        xhy = self.Xty - quad[1:, 0]
        yhy = self.yty - quad[0, 0]
        return logdet_m, xhx, xhy, yhy

    # The dense path runs on SciPy's BLAS and LAPACK alone: NumPy's matmul brings its own OpenBLAS thread pool,
    # whose threads, still spinning after a large product, slowed SciPy's Cholesky threefold.
    def _gram(self, scale: np.ndarray) -> np.ndarray:
        """N'·diag(scale²)·N (lower triangle, Fortran order)."""
        N = self.groups.N
        if sparse.issparse(N):
            weighted = sparse.diags(scale) @ N
            return np.asfortranarray((weighted.T @ weighted).toarray())
        if self._weighted is None:
            self._weighted = np.empty_like(N)
        np.multiply(N, scale[:, None], out=self._weighted)
        return blas.dsyrk(1.0, self._weighted.T, lower=1)

    def _times_n(self, values: np.ndarray, *, transpose: bool) -> np.ndarray:
        """N'·values or N·values."""
        N = self.groups.N
        if sparse.issparse(N):
            return (N.T if transpose else N) @ values
        return blas.dgemm(1.0, N.T, values, trans_a=0 if transpose else 1)  # N.T is N's Fortran-ordered view

    @staticmethod
    def _cholesky(S: np.ndarray, scale: float, diagonal: np.ndarray) -> np.ndarray:
        """The lower Cholesky factor of diag(diagonal) + scale·S, in place."""
        S *= scale
        S[np.diag_indices_from(S)] += diagonal
        L, info = lapack.dpotrf(S, lower=1, overwrite_a=1, clean=0)
        if info != 0:
            raise linalg.LinAlgError(f"The Schur complement is not positive definite (LAPACK info {info}).")
        return L

    def evaluate(self, theta: np.ndarray, reml: bool) -> "_Point":
        """The fit at θ (0 for a removed factor), profiled over β and σ²."""
        logdet_m, xhx, xhy, yhy = self.solve(theta)
        chol = linalg.cho_factor(xhx, lower=True, check_finite=False)
        beta = linalg.cho_solve(chol, xhy, check_finite=False)
        r2 = max(float(yhy - xhy @ beta), 1e-300)
        dof = self.n - self.p if reml else self.n
        logdet = logdet_m + (2.0 * float(np.log(np.diag(chol[0])).sum()) if reml else 0.0)
        inverse = linalg.cho_solve(chol, np.eye(self.p), check_finite=False)
        return _Point(logdet + dof * (1.0 + math.log(2.0 * math.pi * r2 / dof)), logdet, r2, dof, beta, inverse)


@dataclass(frozen=True, eq=False)
class _Point:
    """The fit at one θ. Unprofiled, ``D(θ, σ) = logdet(θ) + r2(θ)/σ² + dof·log(2πσ²)`` (lmerTest's ``devfun_vp``);
    at σ̂² = r2/dof that is ``deviance``. Var(β̂) = σ²·inverse."""

    deviance: float
    logdet: float  # log|M|, plus log|X'H⁻¹X| for REML
    r2: float  # the penalised residual sum of squares
    dof: int
    beta: np.ndarray
    inverse: np.ndarray  # (X'H⁻¹X)⁻¹

    @property
    def sigma2(self) -> float:
        return self.r2 / self.dof


def _start(design: _Design, y: np.ndarray, active: list[int]) -> np.ndarray:
    """Moment-type starting values for θ: between-level variance of the group means beyond what noise explains."""
    residual = y - y.mean()
    total = max(float(residual.var()), 1e-12)
    theta = np.zeros(2)
    for k in active:
        means = design.B[k][:, 0] / np.maximum(design.counts[k], 1) - y.mean()
        per_level = float(np.mean(1.0 / np.maximum(design.counts[k], 1)))
        between = max(float(np.var(means[design.counts[k] > 0])) - total * per_level, 0.05 * total)
        theta[k] = math.sqrt(between / total)
    return theta


@dataclass(frozen=True)
class Search:
    """Where a search ended: θ, its deviance, and how it got there (``account``, in words)."""

    theta: np.ndarray
    deviance: float
    success: bool
    account: str


def _bobyqa(deviance, start: np.ndarray, stop_at: float | None = None) -> Search:
    """Minimise ``deviance`` over θ ≥ 0 from ``start`` by BOBYQA; stop early once it is ≤ ``stop_at``."""
    optimiser = nlopt.opt(nlopt.LN_BOBYQA, start.size)
    optimiser.set_lower_bounds([0.0] * start.size)
    optimiser.set_initial_step(list(np.maximum(0.25 * start, 0.05)))
    optimiser.set_xtol_abs(XTOL)
    optimiser.set_ftol_abs(FTOL)
    optimiser.set_maxeval(MAX_EVALUATIONS)
    if stop_at is not None:
        optimiser.set_stopval(stop_at)
    best = [math.inf, start.copy(), 0]  # deviance, θ, evaluations

    def objective(values, gradient):
        best[2] += 1
        value = deviance(values)
        if value < best[0]:
            best[0], best[1] = value, np.array(values)
        return value

    optimiser.set_min_objective(objective)
    try:
        optimiser.optimize(list(start))
    except (nlopt.RoundoffLimited, RuntimeError) as exc:  # the best point so far stands; say what happened
        return Search(best[1], best[0], False, f"BOBYQA stopped: {exc}")
    code = optimiser.last_optimize_result()
    if code in (nlopt.SUCCESS, nlopt.STOPVAL_REACHED, nlopt.FTOL_REACHED, nlopt.XTOL_REACHED):
        return Search(best[1], best[0], True, "")
    return Search(best[1], best[0], False, f"BOBYQA stopped after {best[2]} evaluations (NLopt code {code})")


def search(design: _Design, reml: bool, active: list[int], start: np.ndarray) -> Search:
    """The REML/ML optimum over the active components' θ ≥ 0 (see the module's docstring)."""
    theta = np.zeros(2)
    if not active:
        return Search(theta, design.evaluate(theta, reml).deviance, True, "no variance component to estimate")
    cache: dict[tuple[float, ...], float] = {}

    def deviance(values) -> float:
        key = tuple(float(v) for v in values)
        if key not in cache:
            full = np.zeros(2)
            full[active] = key
            cache[key] = design.evaluate(full, reml).deviance
        return cache[key]

    found = _bobyqa(deviance, start[active])
    starts = "from a moment estimate"
    lme4_start = np.ones(len(active))
    if not np.allclose(found.theta, lme4_start):
        margin = AGREEMENT * max(1.0, abs(found.deviance))
        other = _bobyqa(deviance, lme4_start, stop_at=found.deviance + margin)
        if other.deviance < found.deviance - margin:
            found, starts = other, "from lme4's start θ = 1, lower than from a moment estimate"
        elif other.deviance <= found.deviance + margin:
            starts = "from a moment estimate and from θ = 1, which agree"
        else:
            starts = "from a moment estimate, lower than from θ = 1"
    best, value = found.theta.copy(), found.deviance
    for position in np.flatnonzero(best < BOUNDARY_THETA):
        at_zero = best.copy()
        at_zero[position] = 0.0
        if deviance(at_zero) <= value + NOISE * max(1.0, abs(value)):
            best, value = at_zero, deviance(at_zero)
    theta[active] = best
    account = f"BOBYQA, {len(cache)} deviance evaluations, {starts}"
    return Search(theta, value, found.success, f"{found.account}; {account}" if found.account else account)


def profiled_deviance(
    *, y: np.ndarray, annotator: np.ndarray, item: np.ndarray, X: np.ndarray | None = None, reml: bool = True
):
    """The REML (or ML) deviance profiled over β and σ², as a function of θ = (σ_annotator/σ, σ_item/σ): the
    function ``fit_crossed`` minimises, for checking its search from outside."""
    y, X, groups = _checked(y, annotator, item, X, None)
    design = _Design(y, groups, X)
    return lambda theta: design.evaluate(np.abs(np.asarray(theta, dtype=float)), reml).deviance


def not_estimable(levels: tuple[int, int], n: int, names: tuple[str, str]) -> dict[int, str]:
    """By factor index, why its variance cannot be estimated from ``n`` judgments: fewer than two levels, or one
    judgment per level (an estimate at the boundary 0 is another matter: it is an estimate)."""
    reasons = {}
    for k, m in enumerate(levels):
        if m < 2:
            reasons[k] = f"{names[k]} variance not estimable: only one {names[k]}"
        elif m >= n:
            reasons[k] = f"{names[k]} variance not estimable: one judgment per {names[k]}"
    return reasons


def _describe(active: list[int], removed: dict[int, str], names: tuple[str, str]) -> str:
    if len(active) == 2:
        return f"crossed random intercepts for {names[0]}s and {names[1]}s"
    reasons = "; ".join(removed[k] for k in sorted(removed))
    if len(active) == 1:
        return f"random intercept for {names[active[0]]}s only ({reasons})"
    return f"no random effects: ordinary least squares ({reasons})"


def fit_crossed(
    *,
    y: np.ndarray,
    annotator: np.ndarray,
    item: np.ndarray,
    X: np.ndarray | None = None,
    names: tuple[str, ...] = ("(Intercept)",),
    reml: bool = True,
    df_method: str = "satterthwaite",
    groups: CrossedGroups | None = None,
    factor_names: tuple[str, str] = COMPONENTS,
) -> CrossedFit:
    """Fit ``y ~ X + (1 | annotator) + (1 | item)``; ``annotator`` and ``item`` are integer codes from 0.

    ``df_method``: "satterthwaite" (default), "conservative" (min(levels of the remaining factors) − 1),
    or "none" (no df; for point estimates only, e.g. an ICC). ``groups``: a ``CrossedGroups`` built from the same
    codes, to share its precomputation across fits of several responses.
    """
    y, X, groups = _checked(y, annotator, item, X, groups)
    if len(names) != X.shape[1]:
        raise ValueError("One name per column of X is needed.")
    if df_method not in ("satterthwaite", "conservative", "none"):
        raise ValueError(f"Unknown df method {df_method!r}.")
    design = _Design(y, groups, X)
    removed = not_estimable(groups.levels, y.size, factor_names)
    active = [k for k in range(2) if k not in removed]
    found = search(design, reml, active, _start(design, y, active))
    for k in [k for k in active if found.theta[k] == 0.0]:
        removed[k] = f"{factor_names[k]} variance estimated at 0: a singular fit"
    singular = any(found.theta[k] < BOUNDARY_THETA for k in active)
    active = [k for k in active if found.theta[k] > 0.0]
    point = design.evaluate(found.theta, reml)
    sigma2 = point.sigma2
    if not sigma2 > ROUNDING**2 * float(np.var(y)):
        # the fixed and random effects reproduce every value: no residual variation is left to test against
        raise ValueError("The model fits the response exactly (no residual variation): its tests are undefined.")
    # a component left just above 0 adds nothing to the df (its derivatives vanish there) but rounding error
    varying = [k for k in active if found.theta[k] >= BOUNDARY_THETA]
    stencil = _Stencil(design, found.theta, varying, reml, point) if varying and df_method != "none" else None
    converged, convergence = _convergence(found, stencil)
    levels = groups.levels
    df = _degrees_of_freedom(df_method, stencil, [levels[k] for k in active], design)
    vcov_gradient, varpar_covariance = (), ()
    if df_method == "satterthwaite" and stencil is not None and stencil.parameter_covariance is not None:
        vcov_gradient = tuple(_nested(J) for J in stencil.vcov_gradient())
        varpar_covariance = _nested(stencil.parameter_covariance)
    return CrossedFit(
        names=tuple(names),
        coefficients=tuple(float(b) for b in point.beta),
        covariance=tuple(tuple(float(v) for v in row) for row in sigma2 * point.inverse),
        df=df,
        df_method=df_method,
        variance={factor_names[k]: float(sigma2 * found.theta[k] ** 2) for k in range(2)},
        residual=float(sigma2),
        model=_describe(active, removed, factor_names),
        simplified=tuple(removed[k] for k in sorted(removed)),
        method="REML" if reml else "ML",
        deviance=point.deviance,
        converged=converged,
        n=int(y.size),
        levels={factor_names[0]: levels[0], factor_names[1]: levels[1]},
        singular=singular,
        convergence=convergence,
        df_note=DF_NOTE if stencil is not None and stencil.ill_conditioned else "",
        vcov_gradient=vcov_gradient,
        varpar_covariance=varpar_covariance,
        df_fallback=_conservative_df([levels[k] for k in active], design),
    )


def _nested(matrix: np.ndarray) -> tuple[tuple[float, ...], ...]:
    return tuple(tuple(float(v) for v in row) for row in np.asarray(matrix))


#: Variation this small against the values' size is rounding error (1.0 and 0.9999999999999996), not data.
ROUNDING = 1e-9


def varies(values: np.ndarray) -> bool:
    """Whether ``values`` vary by more than rounding error: a model is fitted only to a response that does."""
    values = np.asarray(values, dtype=float)
    return values.size > 0 and float(np.ptp(values)) > ROUNDING * max(1.0, float(np.abs(values).max()))


def _checked(y, annotator, item, X, groups) -> tuple[np.ndarray, np.ndarray, CrossedGroups]:
    """The response, the fixed-effects matrix and the grouping, or a ValueError naming what is wrong."""
    y = np.asarray(y, dtype=float)
    X = np.ones((y.size, 1)) if X is None else np.asarray(X, dtype=float).reshape(y.size, -1)
    if y.size <= X.shape[1]:
        raise ValueError("Too few judgments to fit the model.")
    if groups is None:
        groups = CrossedGroups(annotator=annotator, item=item)
    if groups.n != y.size:
        raise ValueError("groups were built for another number of judgments.")
    if not varies(y):
        raise ValueError("The response does not vary (beyond rounding error): a mixed model cannot be fitted.")
    return y, X, groups


class _Stencil:
    """Central differences of the deviance's parts in the active θ around the optimum (3 or 9 fits), and from them
    lmerTest's Satterthwaite df in the parameters (θ, σ) and lme4's convergence check."""

    def __init__(self, design: _Design, theta: np.ndarray, active: list[int], reml: bool, center: _Point):
        self.active = active
        self.steps = STENCIL_STEP * theta[active]
        m = len(active)
        self.center = center

        def at(offset: tuple[int, ...]) -> _Point:
            shifted = theta.copy()
            shifted[active] += np.array(offset) * self.steps
            return design.evaluate(shifted, reml)

        unit = np.eye(m, dtype=int)
        self.plus = [at(tuple(unit[i])) for i in range(m)]
        self.minus = [at(tuple(-unit[i])) for i in range(m)]
        self.cross = {
            (i, j): [at(tuple(si * unit[i] + sj * unit[j])) for si, sj in ((1, 1), (1, -1), (-1, 1), (-1, -1))]
            for i, j in combinations(range(m), 2)
        }

    def _derivatives(self, value) -> tuple[np.ndarray, np.ndarray]:
        """Gradient and Hessian in the active θ of ``value(point)``."""
        m, h = len(self.active), self.steps
        f0 = value(self.center)
        gradient = np.array([(value(self.plus[i]) - value(self.minus[i])) / (2 * h[i]) for i in range(m)])
        hessian = np.diag([(value(self.plus[i]) - 2 * f0 + value(self.minus[i])) / h[i] ** 2 for i in range(m)])
        for (i, j), (pp, pm, mp, mm) in self.cross.items():
            hessian[i, j] = hessian[j, i] = (value(pp) - value(pm) - value(mp) + value(mm)) / (4 * h[i] * h[j])
        return gradient, hessian

    @functools.cached_property
    def deviance_derivatives(self) -> tuple[np.ndarray, np.ndarray]:
        """Gradient and Hessian of D(θ, σ) in (θ_active, σ) at the optimum (σ = σ̂)."""
        sigma2 = self.center.sigma2
        sigma = math.sqrt(sigma2)
        g_logdet, h_logdet = self._derivatives(lambda point: point.logdet)
        g_r2, h_r2 = self._derivatives(lambda point: point.r2)
        m = len(self.active)
        hessian = np.empty((m + 1, m + 1))
        hessian[:m, :m] = h_logdet + h_r2 / sigma2
        hessian[:m, m] = hessian[m, :m] = -2.0 * g_r2 / sigma**3
        hessian[m, m] = -2.0 * self.center.dof / sigma2 + 6.0 * self.center.r2 / sigma2**2
        gradient = np.append(g_logdet + g_r2 / sigma2, 0.0)
        return gradient, hessian

    #: Whether the deviance's Hessian was too near singular to invert accurately (set by ``satterthwaite``).
    ill_conditioned = False

    def satterthwaite(self, *, fallback: float) -> tuple[float, ...]:
        """df_k = 2·Var(β̂_k)² / (g'·2H⁻¹·g), g the gradient of Var(β̂_k) = σ²·inverse_kk in (θ, σ). A Hessian that
        SciPy finds ill-conditioned is still inverted (as lmerTest does) and marked ``ill_conditioned``; the fit
        says so in words (``DF_NOTE``) instead of SciPy's warning."""
        _, hessian = self.deviance_derivatives
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", linalg.LinAlgWarning)
                parameter_covariance = 2.0 * linalg.inv(hessian)
        except linalg.LinAlgError:
            return (fallback,) * self.center.inverse.shape[0]
        self.ill_conditioned = any(issubclass(record.category, linalg.LinAlgWarning) for record in caught)
        self.parameter_covariance = parameter_covariance
        sigma2 = self.center.sigma2
        df = []
        for k in range(self.center.inverse.shape[0]):
            g_theta, _ = self._derivatives(lambda point, k=k: point.inverse[k, k])
            g = np.append(sigma2 * g_theta, 2.0 * math.sqrt(sigma2) * self.center.inverse[k, k])
            variance = sigma2 * self.center.inverse[k, k]
            denominator = float(g @ parameter_covariance @ g)
            value = 2.0 * variance**2 / denominator if denominator > 0 else math.nan
            df.append(float(value) if math.isfinite(value) else fallback)
        return tuple(df)

    #: 2·H⁻¹, the covariance of the variance parameters (θ_active, σ); set by ``satterthwaite`` when H inverts.
    parameter_covariance: np.ndarray | None = None

    def vcov_gradient(self) -> list[np.ndarray]:
        """The gradient of Var(β̂) = σ²·inverse in (θ_active, σ): one p × p matrix per parameter."""
        sigma2 = self.center.sigma2
        gradient = [
            sigma2 * (self.plus[i].inverse - self.minus[i].inverse) / (2 * self.steps[i])
            for i in range(len(self.active))
        ]
        return [*gradient, 2.0 * math.sqrt(sigma2) * self.center.inverse]


DF_NOTE = (
    "the deviance's curvature at the optimum is nearly singular (a variance component close to 0), so the "
    "Satterthwaite df, and the p-value and CI that use them, are approximate"
)


def _degrees_of_freedom(method: str, stencil: "_Stencil | None", levels: list[int], design: _Design) -> tuple:
    """Per coefficient: Satterthwaite's df, or min(levels of the model's factors) − 1 ("conservative", and where
    the stencil cannot give it), or the residual df of least squares when no factor is left."""
    p = design.p
    if method == "none":
        return (math.nan,) * p
    conservative = _conservative_df(levels, design)
    if method == "conservative" or stencil is None:
        return (conservative,) * p
    return stencil.satterthwaite(fallback=conservative)


def _conservative_df(levels: list[int], design: _Design) -> float:
    return float(min(levels) - 1 if levels else design.n - design.p)


def _convergence(found: Search, stencil: _Stencil | None) -> tuple[bool, str]:
    """lme4's verdict: the optimiser stopped on its tolerances, and at the optimum H is positive definite and the
    Newton step H⁻¹g left in θ is below 0.002. Returns (converged, an account in words)."""
    if not found.success or stencil is None:
        return found.success, found.account
    gradient, hessian = stencil.deviance_derivatives
    theta_hessian = hessian[:-1, :-1]
    try:
        np.linalg.cholesky(theta_hessian)
    except np.linalg.LinAlgError:
        return False, f"the deviance's Hessian at the optimum is not positive definite; {found.account}"
    step = float(np.max(np.abs(linalg.solve(theta_hessian, gradient[:-1], assume_a="pos"))))
    if step > GRADIENT_TOLERANCE:
        return False, f"the gradient at the optimum is not 0 (Newton step {step:.2g}); {found.account}"
    return True, found.account
