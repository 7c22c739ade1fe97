"""Simulated tidy ratings of crossed designs, for tests and benchmarks."""

import numpy as np
import pandas as pd


def simulate_ratings(
    *,
    annotators: int,
    items: int,
    effect: float = 0.3,
    sd_annotator: float = 0.4,
    sd_item: float = 0.6,
    sd_residual: float = 1.5,
    seed: int = 0,
    missing: float = 0.0,
    rounded: bool = True,
) -> pd.DataFrame:
    """Tidy ratings (annotator, item, condition, score, position, seconds) of an annotators × items design.

    The difference ours − baseline is effect + annotator effect + item effect + noise; ``missing`` drops that
    share of judgments at random (an unbalanced design); ``rounded`` puts scores on the 1–10 scale.
    """
    rng = np.random.default_rng(seed)
    a = np.repeat(np.arange(annotators), items)
    i = np.tile(np.arange(items), annotators)
    if missing:
        keep = rng.random(a.size) >= missing
        a, i = a[keep], i[keep]
    n = a.size
    base = 5.0 + rng.normal(0, 0.8, annotators)[a] + rng.normal(0, 1.0, items)[i] + rng.normal(0, 1.0, n)
    d = (
        effect
        + rng.normal(0, sd_annotator, annotators)[a]
        + rng.normal(0, sd_item, items)[i]
        + rng.normal(0, sd_residual, n)
    )
    baseline, ours = base, base + d
    if rounded:
        baseline, ours = np.clip(np.rint(baseline), 1, 10), np.clip(np.rint(ours), 1, 10)
    left = rng.random(n) < 0.5
    seconds = rng.gamma(4.0, 2.0, n)
    annotator_labels = np.array([f"a{k:04d}" for k in range(annotators)], dtype=object)
    item_labels = np.array([f"item {k:04d}" for k in range(items)], dtype=object)
    return pd.DataFrame(
        {
            "annotator": pd.Categorical.from_codes(np.concatenate([a, a]), annotator_labels),
            "item": pd.Categorical.from_codes(np.concatenate([i, i]), item_labels),
            "condition": np.repeat(["baseline", "ours"], n),
            "score": np.concatenate([baseline, ours]) if not rounded else np.concatenate([baseline, ours]).astype(int),
            "position": np.concatenate([np.where(left, "right", "left"), np.where(left, "left", "right")]),
            "seconds": np.concatenate([seconds, seconds]),
        }
    )


def incomplete_judgments(
    rng: np.random.Generator,
    *,
    annotators: int = 45,
    items: int = 50,
    per_annotator: int = 20,
    dropout: float = 0.25,
    excluded: float = 0.1,
    effect: float = 0.0,
    sd_annotator: float = 0.4,
    sd_item: float = 0.6,
    sd_residual: float = 1.5,
    rounded: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(annotator, item, ours − baseline) of a crowd study: each annotator is given ``per_annotator`` random items,
    a ``dropout`` share stops after 1 to per_annotator − 1 of them, and an ``excluded`` share is removed whole (as
    the speed and straight-lining rules remove annotators). Codes are renumbered over what is left."""
    a, i = [], []
    for k in range(annotators):
        if rng.random() < excluded:
            continue
        m = int(rng.integers(1, per_annotator)) if rng.random() < dropout else per_annotator
        a.append(np.full(m, k))
        i.append(rng.choice(items, m, replace=False))
    a, i = np.concatenate(a), np.concatenate(i)
    d = (
        effect
        + rng.normal(0, sd_annotator, annotators)[a]
        + rng.normal(0, sd_item, items)[i]
        + rng.normal(0, sd_residual, a.size)
    )
    if rounded:
        d = np.rint(d)
    return np.unique(a, return_inverse=True)[1], np.unique(i, return_inverse=True)[1], d
