"""Rating studies with K conditions, written as CSV for R's lmerTest/emmeans (``conditions.R``) and for the tests.

    python -m tests.analysis.reference.designs          # (re)writes tests/analysis/reference/data/*.csv

Each file holds one image score a row: annotator, item, condition, score (an integer on the 1–10 scale). The
reference condition is ``plain``; the other names sort before and after it, so the order of the levels (reference
first, then the others sorted) is tested too. The designs are drawn with fixed seeds; the stored files, not this
script, are what the reference values were computed from.
"""

from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path(__file__).resolve().parent / "data"
REFERENCE = "plain"
CONDITIONS = ("plain", "entropy", "upscale", "refine")


def _scores(rng, a, i, c, *, annotators, items, effects, sd_a, sd_i, sd_e=1.5):
    """Rounded 1–10 scores: a condition effect, crossed annotator and item intercepts and noise."""
    latent = (
        5.0
        + np.asarray(effects)[c]
        + rng.normal(0, sd_a, annotators)[a]
        + rng.normal(0, sd_i, items)[i]
        + rng.normal(0, sd_e, a.size)
    )
    score = np.clip(np.rint(latent), 1, 10).astype(int)
    return pd.DataFrame({"annotator": a, "item": i, "condition": np.asarray(CONDITIONS)[c], "score": score})


def _complete(annotators, items, k):
    a = np.repeat(np.arange(annotators), items * k)
    i = np.tile(np.repeat(np.arange(items), k), annotators)
    c = np.tile(np.arange(k), annotators * items)
    return a, i, c


def design_k3_balanced(seed=20261207):
    """24 annotators × 30 prompts × 3 conditions, every image scored: a complete, balanced design."""
    rng = np.random.default_rng(seed)
    a, i, c = _complete(24, 30, 3)
    return _scores(rng, a, i, c, annotators=24, items=30, effects=(0.0, 0.5, 0.2), sd_a=0.8, sd_i=1.0)


def design_k4_unbalanced(seed=41):
    """60 annotators × 80 prompts × 4 conditions: each annotator sees 5–40 prompts and 8% of the image scores are
    missing, so conditions, annotators and prompts all have unequal counts."""
    rng = np.random.default_rng(seed)
    a, i = [], []
    for k in range(60):
        m = int(rng.integers(5, 41))
        a.append(np.full(m, k))
        i.append(rng.choice(80, m, replace=False))
    a, i = np.repeat(np.concatenate(a), 4), np.repeat(np.concatenate(i), 4)
    c = np.tile(np.arange(4), a.size // 4)
    keep = rng.random(a.size) >= 0.08
    return _scores(
        rng, a[keep], i[keep], c[keep], annotators=60, items=80, effects=(0.0, 0.4, -0.3, 0.1), sd_a=0.6, sd_i=0.9
    )


def design_k3_near_singular(seed=7):
    """20 annotators × 25 prompts × 3 conditions with 60% of the images scored and almost no annotator variation:
    the annotator component sits at or near the boundary 0."""
    rng = np.random.default_rng(seed)
    a, i, c = _complete(20, 25, 3)
    keep = rng.random(a.size) < 0.6
    return _scores(
        rng, a[keep], i[keep], c[keep], annotators=20, items=25, effects=(0.0, 0.3, 0.6), sd_a=0.02, sd_i=0.7
    )


def design_k2_sparse(seed=12):
    """40 annotators × 30 prompts × 2 conditions, each annotator on 6–20 prompts: the seed study's shape."""
    rng = np.random.default_rng(seed)
    a, i = [], []
    for k in range(40):
        m = int(rng.integers(6, 21))
        a.append(np.full(m, k))
        i.append(rng.choice(30, m, replace=False))
    a, i = np.repeat(np.concatenate(a), 2), np.repeat(np.concatenate(i), 2)
    c = np.tile(np.arange(2), a.size // 2)
    return _scores(rng, a, i, c, annotators=40, items=30, effects=(0.0, 0.35), sd_a=0.7, sd_i=0.8)


DESIGNS = {
    "k3-balanced": design_k3_balanced,
    "k4-unbalanced": design_k4_unbalanced,
    "k3-near-singular": design_k3_near_singular,
    "k2-sparse": design_k2_sparse,
}


def load(name: str) -> pd.DataFrame:
    return pd.read_csv(DATA / f"{name}.csv")


if __name__ == "__main__":
    DATA.mkdir(exist_ok=True)
    for name, make in DESIGNS.items():
        frame = make()
        frame.to_csv(DATA / f"{name}.csv", index=False)
        print(name, len(frame), frame.annotator.nunique(), frame.item.nunique(), frame.condition.nunique())
