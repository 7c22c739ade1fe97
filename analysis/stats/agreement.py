"""Inter-annotator agreement over images (each item's baseline and ours image is one unit).

Krippendorff's alpha, interval metric, from per-unit sums (O(n)), with a percentile bootstrap CI that resamples
items; ICC(A,1) — two-way random effects, absolute agreement, single rater (McGraw & Wong 1996) — from the
variance components of ``score ~ 1 + (1 | annotator) + (1 | image)``, which for complete data equal the ANOVA
estimates and so reproduce the mean-square formula, and which also serve incomplete designs.
"""

from dataclasses import dataclass

import numpy as np

from .judgments import Judgments
from .mixed import fit_crossed, not_estimable

ALPHA_METHOD = "Krippendorff's alpha, interval metric; units are images, coders annotators"
ICC_METHOD = "ICC(A,1) from REML variance components of score ~ 1 + (1|annotator) + (1|image)"


@dataclass(frozen=True)
class Agreement:
    alpha: float | None
    alpha_ci: tuple[float | None, float | None]
    alpha_method: str
    resamples: int
    seed: int
    icc_a1: float | None
    icc_method: str
    icc_model: str
    units: int
    annotators: int


def _long(judgments: Judgments) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(annotator, image, score) with image = 2·item + (0 baseline, 1 ours)."""
    annotator = np.concatenate([judgments.annotator, judgments.annotator])
    image = np.concatenate([2 * judgments.item, 2 * judgments.item + 1])
    score = np.concatenate([judgments.baseline, judgments.ours])
    return annotator, image, score


def _item_sums(judgments: Judgments) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per item, over its pairable images: within-image disagreement q, values n, Σv and Σv²."""
    _, image, score = _long(judgments)
    units = 2 * judgments.n_items
    m = np.bincount(image, minlength=units).astype(float)
    s1 = np.bincount(image, weights=score, minlength=units)
    s2 = np.bincount(image, weights=score * score, minlength=units)
    pairable = m >= 2
    q = np.zeros(units)
    q[pairable] = 2 * (m[pairable] * s2[pairable] - s1[pairable] ** 2) / (m[pairable] - 1)
    keep = pairable.astype(float)
    per_item = [(values * keep).reshape(-1, 2).sum(axis=1) for values in (q, m, s1, s2)]
    return tuple(per_item)  # type: ignore[return-value]


def _alpha(q, n, s1, s2) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        observed = q / n
        expected = 2 * (n * s2 - s1 * s1) / (n * (n - 1))
        return 1 - observed / expected


def krippendorff_alpha(judgments: Judgments) -> float | None:
    q, m, s1, s2 = (values.sum() for values in _item_sums(judgments))
    value = float(_alpha(q, m, s1, s2))
    return value if np.isfinite(value) else None


def alpha_bootstrap_ci(
    judgments: Judgments, *, seed: int, resamples: int = 2000, level: float = 0.95
) -> tuple[float | None, float | None]:
    """Percentile CI of alpha over resamples of items (vectorised: per-item sums weighted by draw counts)."""
    sums = np.column_stack(_item_sums(judgments))  # items × 4
    items = sums.shape[0]
    rng = np.random.default_rng(seed)
    values = np.empty(resamples)
    batch = max(1, min(resamples, 2_000_000 // max(items, 1)))
    for start in range(0, resamples, batch):
        size = min(batch, resamples - start)
        draws = rng.integers(0, items, size=(size, items)) + (np.arange(size) * items)[:, None]
        weights = np.bincount(draws.ravel(), minlength=size * items).reshape(size, items).astype(float)
        totals = weights @ sums
        values[start : start + size] = _alpha(*totals.T)
    values = values[np.isfinite(values)]
    if values.size < 2:
        return (None, None)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def icc_a1(judgments: Judgments) -> tuple[float | None, str]:
    """ICC(A,1) and the model it came from.

    None, with the reason, when the variance components cannot be estimated: one annotator, or one judgment per
    image (no image rated twice: Krippendorff's alpha is None for the same data), or scores that do not vary. A
    component estimated at the boundary 0 is an estimate, and so is an ICC of 0 when the image variance is 0.
    """
    annotator, image, score = _long(judgments)
    try:
        fit = fit_crossed(
            y=score, annotator=annotator, item=image, df_method="none", factor_names=("annotator", "image")
        )
    except ValueError as exc:
        return None, f"not estimable: {exc}"
    reasons = not_estimable((fit.levels["annotator"], fit.levels["image"]), fit.n, ("annotator", "image"))
    if reasons:
        return None, "not estimable: " + "; ".join(reasons[k] for k in sorted(reasons))
    target, rater = fit.variance["image"], fit.variance["annotator"]
    return float(target / (target + rater + fit.residual)), fit.model


def agreement(judgments: Judgments, *, seed: int, resamples: int = 2000, level: float = 0.95) -> Agreement:
    icc, model = icc_a1(judgments)
    return Agreement(
        alpha=krippendorff_alpha(judgments),
        alpha_ci=alpha_bootstrap_ci(judgments, seed=seed, resamples=resamples, level=level),
        alpha_method=ALPHA_METHOD,
        resamples=resamples,
        seed=seed,
        icc_a1=icc,
        icc_method=ICC_METHOD,
        icc_model=model,
        units=2 * judgments.n_items,
        annotators=judgments.n_annotators,
    )
