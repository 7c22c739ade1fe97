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
``CrossedGroups``). 1,000 × 1,000 fits in seconds. θ is optimised with SLSQP on θ ≥ 0 (bounds), central-difference
gradients.

Degrees of freedom: Satterthwaite (as lmerTest), from the numerical Hessian of the REML deviance in
(σ², σ²_a, σ²_b) and the numerical gradient of Var(β̂_k). A variance component that cannot be estimated (fewer
than two levels, or one judgment per level) or whose estimate is at the boundary 0 is removed and the model refitted;
the result says so in ``model`` and ``simplified``.
"""
import math
from dataclasses import dataclass, field

import numpy as np
from scipy import linalg, optimize, sparse
from scipy import stats as sps

COMPONENTS = ("annotator", "item")
#: θ (σ_k / σ) below this is treated as an estimate at the boundary 0 (lme4's singular-fit tolerance).
BOUNDARY_THETA = 1e-4
DENSE_LIMIT = 25_000_000  # cells of the count matrix held densely; larger designs use a sparse one


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
    estimate, se, df = fit.coefficients[k], fit.se(k), fit.df[k]
    if not se > 0 or not math.isfinite(df) or df <= 0:
        return Effect(estimate, se, (math.nan, math.nan), df, fit.df_method, None, None, level)
    quantile = sps.t.ppf(0.5 + level / 2, df)
    t = estimate / se
    return Effect(estimate, se, (estimate - quantile * se, estimate + quantile * se), df, fit.df_method, t,
                  float(2 * sps.t.sf(abs(t), df)), level)


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
        self.counts = [np.bincount(g, minlength=m).astype(float) for g, m in zip(self.codes, self.levels)]
        self.big = 0 if self.levels[0] >= self.levels[1] else 1
        self.small = 1 - self.big
        big_levels, small_levels = self.levels[self.big], self.levels[self.small]
        cells = np.bincount(self.codes[self.big] * small_levels + self.codes[self.small],
                            minlength=big_levels * small_levels).astype(float).reshape(big_levels, small_levels)
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
            for g, m in zip(groups.codes, groups.levels)
        ]
        self.XtX = X.T @ X
        self.Xty = X.T @ y
        self.yty = float(y @ y)
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
            quad = tb * tb * sum(w * R for w, R in zip(weights, self.R))
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
                gram = sum(w * G for w, G in zip(weights, groups.grams))
                NwB = sum(w * P for w, P in zip(weights, self.P))  # N' diag(w) B_big
                S = np.diag(diagonal) - c * c * gram
                chol = linalg.cho_factor(S, lower=True, check_finite=False)
                rhs = ts * Bs - c * tb * NwB
                us = linalg.cho_solve(chol, rhs, check_finite=False)
                quad = quad + ts * (Bs.T @ us) - c * tb * (NwB.T @ us)
                logdet_m += 2.0 * float(np.log(np.diag(chol[0])).sum())
        else:
            nb = self.counts[self.big]
            w = 1.0 / (tb * tb * nb + 1.0)
            rb, rs = tb * Bb, ts * Bs
            if sparse.issparse(groups.N):
                weighted = sparse.diags(np.sqrt(w)) @ groups.N
                gram = (weighted.T @ weighted).toarray()
            else:
                weighted = groups.N * np.sqrt(w)[:, None]
                gram = weighted.T @ weighted
            S = np.diag(diagonal) - c * c * gram
            chol = linalg.cho_factor(S, lower=True, check_finite=False)
            us = linalg.cho_solve(chol, rs - c * (groups.N.T @ (w[:, None] * rb)), check_finite=False)
            ub = w[:, None] * (rb - c * (groups.N @ us))
            quad = rb.T @ ub + rs.T @ us
            logdet_m = -float(np.log(w).sum()) + 2.0 * float(np.log(np.diag(chol[0])).sum())
        xhx = self.XtX - quad[1:, 1:]
        xhy = self.Xty - quad[1:, 0]
        yhy = self.yty - quad[0, 0]
        return logdet_m, xhx, xhy, yhy

    def profiled(self, theta: np.ndarray, reml: bool) -> tuple[float, np.ndarray, np.ndarray, float]:
        """The deviance (−2 log-likelihood) profiled over β and σ²; also β̂, (X'H⁻¹X)⁻¹ and σ̂²."""
        logdet_m, xhx, xhy, yhy = self.solve(theta)
        chol = linalg.cho_factor(xhx, lower=True, check_finite=False)
        beta = linalg.cho_solve(chol, xhy, check_finite=False)
        r2 = max(yhy - xhy @ beta, 1e-300)
        dof = self.n - self.p if reml else self.n
        deviance = logdet_m + dof * (1.0 + math.log(2.0 * math.pi * r2 / dof))
        if reml:
            deviance += 2.0 * np.log(np.diag(chol[0])).sum()
        inverse = linalg.cho_solve(chol, np.eye(self.p), check_finite=False)
        return float(deviance), beta, inverse, r2 / dof

    def deviance_at(self, sigma2: float, variances: np.ndarray, reml: bool) -> float:
        """The REML/ML deviance at given σ² and component variances (not profiled): for the Hessian."""
        theta = np.sqrt(np.maximum(variances, 0.0) / sigma2)
        logdet_m, xhx, xhy, yhy = self.solve(theta)
        chol = linalg.cho_factor(xhx, lower=True, check_finite=False)
        beta = linalg.cho_solve(chol, xhy, check_finite=False)
        r2 = yhy - xhy @ beta
        dof = self.n - self.p if reml else self.n
        deviance = dof * math.log(2.0 * math.pi * sigma2) + logdet_m + r2 / sigma2
        if reml:
            deviance += 2.0 * np.log(np.diag(chol[0])).sum()
        return float(deviance)

    def beta_variance(self, sigma2: float, variances: np.ndarray) -> np.ndarray:
        theta = np.sqrt(np.maximum(variances, 0.0) / sigma2)
        _, xhx, _, _ = self.solve(theta)
        return sigma2 * np.diag(linalg.inv(xhx))


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
    y = np.asarray(y, dtype=float)
    X = np.ones((y.size, 1)) if X is None else np.asarray(X, dtype=float).reshape(y.size, -1)
    if len(names) != X.shape[1]:
        raise ValueError("One name per column of X is needed.")
    if y.size <= X.shape[1]:
        raise ValueError("Too few judgments to fit the model.")
    if groups is None:
        groups = CrossedGroups(annotator=annotator, item=item)
    if groups.n != y.size:
        raise ValueError("groups were built for another number of judgments.")
    if float(np.ptp(y)) == 0.0:
        raise ValueError("The response does not vary: a mixed model cannot be fitted.")
    levels = groups.levels
    design = _Design(y, groups, X)
    removed = not_estimable(levels, y.size, factor_names)
    active = [k for k in range(2) if k not in removed]
    converged = True
    while True:
        theta = np.zeros(2)
        if active:
            start = _start(design, y, active)
            base = design.profiled(start, reml)[0]

            def objective(values: np.ndarray) -> float:
                full = np.zeros(2)
                full[active] = values
                return design.profiled(full, reml)[0] - base

            result = optimize.minimize(
                objective, start[active], method="SLSQP", jac="3-point",
                bounds=[(0.0, None)] * len(active), options={"ftol": 1e-12, "maxiter": 300},
            )
            converged = bool(result.success) or "Positive directional derivative" in str(result.message)
            theta[active] = result.x
            at_zero = [k for k in active if theta[k] < BOUNDARY_THETA]
            if at_zero:
                for k in at_zero:
                    removed[k] = f"{factor_names[k]} variance estimated at 0"
                active = [k for k in active if k not in at_zero]
                continue
        break
    deviance, beta, inverse, sigma2 = design.profiled(theta, reml)
    variances = sigma2 * theta**2
    covariance = sigma2 * inverse
    df = _degrees_of_freedom(design, sigma2, variances, active, levels, reml, df_method, covariance)
    return CrossedFit(
        names=tuple(names),
        coefficients=tuple(float(b) for b in beta),
        covariance=tuple(tuple(float(v) for v in row) for row in covariance),
        df=df,
        df_method=df_method,
        variance={factor_names[k]: float(variances[k]) for k in range(2)},
        residual=float(sigma2),
        model=_describe(active, removed, factor_names),
        simplified=tuple(removed[k] for k in sorted(removed)),
        method="REML" if reml else "ML",
        deviance=deviance,
        converged=converged,
        n=int(y.size),
        levels={factor_names[0]: levels[0], factor_names[1]: levels[1]},
    )


def _degrees_of_freedom(design, sigma2, variances, active, levels, reml, method, covariance) -> tuple[float, ...]:
    p = design.p
    if method == "none":
        return (math.nan,) * p
    if method == "conservative" or not active:
        dof = min(levels[k] for k in active) - 1 if active else design.n - p
        return (float(dof),) * p
    if method != "satterthwaite":
        raise ValueError(f"Unknown df method {method!r}.")
    phi = np.array([sigma2, *variances[active]])

    def unpack(values: np.ndarray) -> tuple[float, np.ndarray]:
        full = np.zeros(2)
        full[active] = values[1:]
        return float(values[0]), full

    steps = 1e-3 * phi
    size = phi.size
    hessian = np.empty((size, size))
    f0 = design.deviance_at(*unpack(phi), reml)
    shifted = {}

    def f(offset: tuple[int, ...]) -> float:
        if offset not in shifted:
            values = phi + np.array(offset) * steps
            shifted[offset] = design.deviance_at(*unpack(values), reml)
        return shifted[offset]

    unit = np.eye(size, dtype=int)
    for i in range(size):
        ei = tuple(unit[i])
        minus_i = tuple(-unit[i])
        hessian[i, i] = (f(ei) - 2 * f0 + f(minus_i)) / steps[i] ** 2
        for j in range(i):
            pp = tuple(unit[i] + unit[j])
            pm = tuple(unit[i] - unit[j])
            mp = tuple(-unit[i] + unit[j])
            mm = tuple(-unit[i] - unit[j])
            hessian[i, j] = hessian[j, i] = (f(pp) - f(pm) - f(mp) + f(mm)) / (4 * steps[i] * steps[j])
    try:
        phi_covariance = 2.0 * linalg.inv(hessian)
    except linalg.LinAlgError:
        phi_covariance = None
    gradients = np.empty((size, p))
    for i in range(size):
        up, down = phi.copy(), phi.copy()
        up[i] += steps[i]
        down[i] -= steps[i]
        gradients[i] = (design.beta_variance(*unpack(up)) - design.beta_variance(*unpack(down))) / (2 * steps[i])
    df = []
    for k in range(p):
        g = gradients[:, k]
        denominator = float(g @ phi_covariance @ g) if phi_covariance is not None else math.nan
        value = 2.0 * covariance[k][k] ** 2 / denominator if denominator > 0 else math.nan
        df.append(float(value) if math.isfinite(value) else float(min(levels[a] for a in active) - 1))
    return tuple(df)
