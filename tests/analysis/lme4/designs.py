"""Incomplete crossed designs of the kinds a crowd produces, written as CSV for R's lmerTest and for the tests.

    python -m tests.analysis.lme4.designs          # (re)writes tests/analysis/lme4/data/*.csv

Each file holds one judgment a row: annotator, item, d (ours − baseline on the 1–10 scale, so exact integers)
and x (+1 when ours was on the left, −1 when on the right). The designs are drawn with fixed seeds; the stored
files, not this script, are what the reference values were computed from.
"""

from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path(__file__).resolve().parent / "data"


def _scores(rng, a, i, *, annotators, items, effect, sd_a, sd_i, sd_e=1.5):
    """Rounded 1–10 scores of both arms; their difference carries the crossed effects."""
    n = a.size
    base = 5.0 + rng.normal(0, 0.8, annotators)[a] + rng.normal(0, 1.0, items)[i] + rng.normal(0, 1.0, n)
    d = effect + rng.normal(0, sd_a, annotators)[a] + rng.normal(0, sd_i, items)[i] + rng.normal(0, sd_e, n)
    baseline, ours = np.clip(np.rint(base), 1, 10), np.clip(np.rint(base + d), 1, 10)
    x = np.where(rng.random(n) < 0.5, 1, -1)
    return pd.DataFrame({"annotator": a, "item": i, "d": (ours - baseline).astype(int), "x": x})


def subset_per_annotator(rng, annotators, items, low, high):
    """Each annotator rates a random ``low``–``high`` distinct items."""
    a, i = [], []
    for k in range(annotators):
        m = int(rng.integers(low, high + 1))
        a.append(np.full(m, k))
        i.append(rng.choice(items, m, replace=False))
    return np.concatenate(a), np.concatenate(i)


def design_crowd(seed=20261206):
    """120 annotators × 200 prompts, each annotator rating 1–60 prompts (about 15% of cells): both interior."""
    rng = np.random.default_rng(seed)
    a, i = subset_per_annotator(rng, 120, 200, 1, 60)
    return _scores(rng, a, i, annotators=120, items=200, effect=0.3, sd_a=0.4, sd_i=0.6)


def design_dropouts(seed=11):
    """The paper's 45 × 50, with 15 annotators who stopped after 1–20 items and 4 excluded whole."""
    rng = np.random.default_rng(seed)
    a, i = [], []
    order = [rng.permutation(50) for _ in range(45)]
    stops = dict(zip(rng.choice(45, 15, replace=False), rng.integers(1, 21, 15), strict=False))
    excluded = set(rng.choice([k for k in range(45) if k not in stops], 4, replace=False))
    for k in range(45):
        if k in excluded:
            continue
        m = int(stops.get(k, 50))
        a.append(np.full(m, k))
        i.append(order[k][:m])
    frame = _scores(rng, np.concatenate(a), np.concatenate(i), annotators=45, items=50, effect=0.25, sd_a=0.5, sd_i=0.7)
    return frame


def design_no_annotator_variance(seed=5):
    """30 × 40 with 35% of cells, no annotator variation in the effect: a singular fit."""
    rng = np.random.default_rng(seed)
    a, i = np.repeat(np.arange(30), 40), np.tile(np.arange(40), 30)
    keep = rng.random(a.size) < 0.35
    return _scores(rng, a[keep], i[keep], annotators=30, items=40, effect=0.2, sd_a=0.0, sd_i=0.8)


def design_single_ratings(seed=3):
    """200 annotators × 30 items: half rate one item only, the rest 5–30; large annotator variance."""
    rng = np.random.default_rng(seed)
    a, i = [], []
    for k in range(200):
        m = 1 if k % 2 == 0 else int(rng.integers(5, 31))
        a.append(np.full(m, k))
        i.append(rng.choice(30, m, replace=False))
    return _scores(rng, np.concatenate(a), np.concatenate(i), annotators=200, items=30, effect=0.5, sd_a=1.2, sd_i=0.4)


def design_no_variance(seed=8):
    """25 × 20 with 30% of cells and neither annotator nor item variation: both components at 0."""
    rng = np.random.default_rng(seed)
    a, i = np.repeat(np.arange(25), 20), np.tile(np.arange(20), 25)
    keep = rng.random(a.size) < 0.3
    return _scores(rng, a[keep], i[keep], annotators=25, items=20, effect=0.1, sd_a=0.0, sd_i=0.0)


def design_large_components(seed=21):
    """60 × 25 with 20% of cells, annotator SD 2 and item SD 3 in the effect (scores hit the scale's ends)."""
    rng = np.random.default_rng(seed)
    a, i = np.repeat(np.arange(60), 25), np.tile(np.arange(25), 60)
    keep = rng.random(a.size) < 0.2
    return _scores(rng, a[keep], i[keep], annotators=60, items=25, effect=0.4, sd_a=2.0, sd_i=3.0)


DESIGNS = {
    "crowd": design_crowd,
    "dropouts": design_dropouts,
    "no-annotator-variance": design_no_annotator_variance,
    "single-ratings": design_single_ratings,
    "no-variance": design_no_variance,
    "large-components": design_large_components,
}


def load(name: str) -> pd.DataFrame:
    return pd.read_csv(DATA / f"{name}.csv")


if __name__ == "__main__":
    DATA.mkdir(exist_ok=True)
    for name, make in DESIGNS.items():
        frame = make()
        frame.to_csv(DATA / f"{name}.csv", index=False)
        print(name, len(frame), frame.annotator.nunique(), frame.item.nunique())
