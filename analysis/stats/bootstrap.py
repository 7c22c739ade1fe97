"""Two-way (annotator × item) bootstrap of the mean difference, vectorised over resamples.

Each resample draws annotators with replacement and, independently, items with replacement; a judgment enters
with weight (times its annotator was drawn) × (times its item was drawn). With S and C the annotator × item sums
and counts of d, a batch of resamples is two matrix products: (Wa S) ⊙ Wi and (Wa C) ⊙ Wi summed over items.
This "pigeonhole" bootstrap (Owen 2007) is somewhat conservative for crossed data: it counts the residual variance
in both directions.
"""

import math
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from .judgments import Judgments

METHOD = "two-way (annotator × item) bootstrap, percentile interval"
BATCH = 250


@dataclass(frozen=True)
class BootstrapCI:
    estimate: float
    ci: tuple[float | None, float | None]
    se: float | None
    level: float
    resamples: int
    valid_resamples: int
    seed: int
    method: str = METHOD


def _counts(rng: np.random.Generator, size: int, levels: int) -> np.ndarray:
    """``size`` rows of multinomial draw counts: ``levels`` draws with replacement among ``levels`` levels."""
    draws = rng.integers(0, levels, size=(size, levels))
    offsets = (np.arange(size) * levels)[:, None]
    return np.bincount((draws + offsets).ravel(), minlength=size * levels).reshape(size, levels).astype(float)


def two_way_bootstrap(judgments: Judgments, *, seed: int, resamples: int = 2000, level: float = 0.95) -> BootstrapCI:
    """Percentile CI of the mean of ours − baseline over judgments, resampling annotators and items."""
    A, I = judgments.n_annotators, judgments.n_items
    d = judgments.difference
    cells = judgments.annotator * I + judgments.item
    if A * I <= 25_000_000:
        sums = np.bincount(cells, weights=d, minlength=A * I).reshape(A, I)
        counts = np.bincount(cells, minlength=A * I).astype(float).reshape(A, I)
    else:
        sums = sparse.csr_matrix((d, (judgments.annotator, judgments.item)), shape=(A, I))
        counts = sparse.csr_matrix((np.ones_like(d), (judgments.annotator, judgments.item)), shape=(A, I))
    rng = np.random.default_rng(seed)
    estimates = np.empty(resamples)
    for start in range(0, resamples, BATCH):
        size = min(BATCH, resamples - start)
        wa, wi = _counts(rng, size, A), _counts(rng, size, I)
        numerator = (
            (np.asarray(sums.T @ wa.T).T * wi).sum(axis=1) if sparse.issparse(sums) else ((wa @ sums) * wi).sum(axis=1)
        )
        denominator = (
            (np.asarray(counts.T @ wa.T).T * wi).sum(axis=1)
            if sparse.issparse(counts)
            else ((wa @ counts) * wi).sum(axis=1)
        )
        with np.errstate(invalid="ignore", divide="ignore"):
            estimates[start : start + size] = numerator / denominator
    valid = estimates[np.isfinite(estimates)]
    estimate = float(d.mean())
    if valid.size < 2:
        return BootstrapCI(estimate, (None, None), None, level, resamples, int(valid.size), seed)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(valid, [tail, 100 - tail])
    se = float(valid.std(ddof=1))
    return BootstrapCI(
        estimate, (float(low), float(high)), se if math.isfinite(se) else None, level, resamples, int(valid.size), seed
    )
