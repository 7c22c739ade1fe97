"""Time the pairwise (Davidson) fit and 1,000 two-way bootstrap refits on 50,000 judgments of 10 conditions.

    python bench/pairwise.py [--judgments 50000] [--conditions 10] [--resamples 1000] [--seed 1]

Simulating the judgments is not timed. Target: under 30 s.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.stats.pairwise import pairwise_study  # noqa: E402


def simulate(judgments: int, conditions: int, seed: int, annotators: int = 100, items: int = 500) -> pd.DataFrame:
    """Davidson-model judgments with strengths spread over [-1, 1] and tie parameter 0.5."""
    rng = np.random.default_rng(seed)
    strength = np.linspace(-1.0, 1.0, conditions)
    left = rng.integers(0, conditions, judgments)
    right = (left + rng.integers(1, conditions, judgments)) % conditions
    a, b, t = np.exp(strength[left]), np.exp(strength[right]), 0.5 * np.exp((strength[left] + strength[right]) / 2)
    u = rng.random(judgments) * (a + b + t)
    choice = np.where(u < a, "left", np.where(u < a + b, "right", "tie"))
    names = np.array([f"c{i:02d}" for i in range(conditions)])
    return pd.DataFrame(
        {
            "annotator": rng.integers(0, annotators, judgments),
            "item": rng.integers(0, items, judgments),
            "left": names[left],
            "right": names[right],
            "choice": choice,
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--judgments", type=int, default=50_000)
    parser.add_argument("--conditions", type=int, default=10)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    frame = simulate(args.judgments, args.conditions, args.seed)
    start = time.perf_counter()
    result = pairwise_study(frame, seed=args.seed, resamples=args.resamples)
    seconds = time.perf_counter() - start
    print(
        f"{args.judgments} judgments × {args.conditions} conditions, fit + {args.resamples} resamples "
        f"({result.valid_resamples} valid): {seconds:.2f} s"
    )


if __name__ == "__main__":
    main()
