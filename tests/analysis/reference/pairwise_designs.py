"""Pairwise-preference studies without ties, written as CSV for R's glm and sandwich::vcovCL
(``pairwise_robust.R``) and for tests/analysis/test_pairwise_robust.py.

    python -m tests.analysis.reference.pairwise_designs   # (re)writes tests/analysis/reference/pairwise_data/*.csv

Each file holds one judgment a row: annotator, item, left, right, choice (left or right). Every annotator and every
prompt shifts each condition's log strength by its own normal deviation, so the judgments are clustered both ways.
The designs are drawn with fixed seeds; the stored files, not this script, are what the reference values were
computed from.

- ``crossed``: 4 conditions, 25 annotators × 12 prompts, 30 judgments each (so an annotator meets a prompt more than
  once: the annotator × prompt cells hold up to 3 judgments), the schedule of ``pairwise_power``.
- ``unbalanced``: 3 conditions, 400 judgments with annotator (of 18), prompt (of 30) and pair drawn at random.
- ``few``: 3 conditions, 4 annotators × 3 prompts: the two-way combination V_annotator + V_item − V_cell has a
  negative eigenvalue, so ``vcovCL(fix = TRUE)`` clips it.
"""

from pathlib import Path

import numpy as np
import pandas as pd

from analysis.stats.pairwise_power import simulate_study

DATA = Path(__file__).resolve().parent / "pairwise_data"
NAMES = ("plain", "entropy", "upscale", "refine")
FEW_SEED = 7  # the first seed whose two-way covariance is not positive semi-definite


def _mirror(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Show about half the pairs the other way round (left and right swapped, the choice with them)."""
    swap = rng.random(len(frame)) < 0.5
    out = frame.copy()
    out.loc[swap, "left"], out.loc[swap, "right"] = frame.loc[swap, "right"], frame.loc[swap, "left"]
    out.loc[swap, "choice"] = frame.loc[swap, "choice"].map({"left": "right", "right": "left"})
    return out


def _random(rng, *, n, annotators, items, strengths, sd_a, sd_i) -> pd.DataFrame:
    m = strengths.size
    a, i = rng.integers(0, annotators, n), rng.integers(0, items, n)
    left = rng.integers(0, m, n)
    right = (left + rng.integers(1, m, n)) % m
    shift = rng.normal(0, sd_a, (annotators, m))[a] + rng.normal(0, sd_i, (items, m))[i]
    s = strengths + shift
    rows = np.arange(n)
    p_left = 1 / (1 + np.exp(s[rows, right] - s[rows, left]))
    names = np.array(NAMES[:m])
    return pd.DataFrame(
        {
            "annotator": [f"a{k:02d}" for k in a],
            "item": [f"p{k:02d}" for k in i],
            "left": names[left],
            "right": names[right],
            "choice": np.where(rng.random(n) < p_left, "left", "right"),
        }
    )


def designs() -> dict[str, pd.DataFrame]:
    crossed = simulate_study(
        strengths=dict(zip(NAMES, (0.0, 0.3, -0.2, 0.5), strict=True)),
        annotator_sd=0.4,
        item_sd=0.4,
        pairs_per_annotator=30,
        annotators=25,
        prompts=12,
        seed=11,
    )
    rng = np.random.default_rng(12)
    unbalanced = _random(rng, n=400, annotators=18, items=30, strengths=np.array([0.0, 0.4, -0.3]), sd_a=0.5, sd_i=0.3)
    few = _random(
        np.random.default_rng(FEW_SEED), n=120, annotators=4, items=3, strengths=np.zeros(3), sd_a=0.0, sd_i=0.0
    )
    return {
        "crossed": _mirror(crossed, np.random.default_rng(13)),
        "unbalanced": unbalanced,
        "few": few,
    }


def load(name: str) -> pd.DataFrame:
    return pd.read_csv(DATA / f"{name}.csv", dtype=str)


if __name__ == "__main__":
    DATA.mkdir(exist_ok=True)
    for name, frame in designs().items():
        frame.to_csv(DATA / f"{name}.csv", index=False)
