"""Speed and memory of the K-condition analysis (``analysis.stats.conditions.compare_conditions``).

    python bench/conditions.py                                  # 1,000 annotators × 1,000 prompts × 4 conditions
    python bench/conditions.py --annotators 200 --items 300 --keep 0.2

Simulates a rating study (not timed): every annotator scores all K images of each prompt it sees (``--keep``, the
share of prompts each annotator sees, 1 by default: 4,000,000 scores), with annotator SD 0.8, prompt SD 1.0,
residual SD 1.5 and condition effects 0, +0.3, +0.5, −0.2 (and so on) on the 1–10 scale, rounded and clipped. The
frame holds text labels for annotator, item and condition, as the tidy ratings do. Then it times the whole analysis
(the REML fit, the Satterthwaite stencil, the omnibus F test, the estimated means and all pairwise contrasts, and
the descriptives) with Holm's adjustment and again with Tukey's, and prints the seconds of each. Memory: the peak
RSS of the process (the interpreter, the frame and the simulation's temporaries included; the RSS before the analysis
is printed too), and, from a third, untimed run under ``tracemalloc``, the analysis's own peak allocation. Targets:
under 30 s and 2 GiB.
"""

import argparse
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS, TARGET_GIB = 30.0, 2.0
EFFECTS = (0.0, 0.3, 0.5, -0.2, 0.1, 0.4, -0.1, 0.2)


def simulate(*, annotators: int, items: int, conditions: int, keep: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    if keep >= 1.0:
        a = np.repeat(np.arange(annotators, dtype=np.int64), items)
        i = np.tile(np.arange(items, dtype=np.int64), annotators)
    else:
        seen = rng.random((annotators, items)) < keep
        a, i = np.nonzero(seen)
    a, i = np.repeat(a, conditions), np.repeat(i, conditions)
    c = np.tile(np.arange(conditions), a.size // conditions)
    effects = np.resize(np.asarray(EFFECTS), conditions)
    latent = (
        5.0 + effects[c] + rng.normal(0, 0.8, annotators)[a] + rng.normal(0, 1.0, items)[i] + rng.normal(0, 1.5, a.size)
    )
    labels = (
        np.array([f"annotator-{k}" for k in range(annotators)], dtype=object),
        np.array([f"prompt-{k}" for k in range(items)], dtype=object),
        np.array(["plain", *(f"method-{k}" for k in range(1, conditions))], dtype=object),
    )
    return pd.DataFrame(
        {
            "annotator": labels[0][a],
            "item": labels[1][i],
            "condition": labels[2][c],
            "score": np.clip(np.rint(latent), 1, 10),
        }
    )


def peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # Linux: KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--annotators", type=int, default=1000)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--conditions", type=int, default=4)
    parser.add_argument("--keep", type=float, default=1.0, help="share of prompts each annotator sees")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from analysis.stats.conditions import compare_conditions

    frame = simulate(
        annotators=args.annotators, items=args.items, conditions=args.conditions, keep=args.keep, seed=args.seed
    )
    frame_gib = frame.memory_usage(deep=False).sum() / 2**30  # the columns' arrays; the few labels are shared
    before = peak_gib()
    print(f"{len(frame):,} scores, {args.annotators} × {args.items} × {args.conditions}; frame {frame_gib:.2f} GiB")
    print(f"peak RSS before the analysis: {before:.2f} GiB")
    seconds = {}
    for adjustment in ("holm", "tukey"):
        start = time.perf_counter()
        result = compare_conditions(frame, reference="plain", adjustment=adjustment)
        seconds[adjustment] = time.perf_counter() - start
        print(f"{adjustment}: {seconds[adjustment]:.2f} s")
    peak = peak_gib()
    tracemalloc.start()
    compare_conditions(frame, reference="plain")
    traced = tracemalloc.get_traced_memory()[1] / 2**30
    tracemalloc.stop()
    print(result.summary())
    print(f"fit: {result.fit.model}; converged {result.fit.converged}; {result.fit.convergence}")
    worst = max(seconds.values())
    verdict = "met" if worst < TARGET_SECONDS and peak < TARGET_GIB else "MISSED"
    print(
        f"seconds: holm {seconds['holm']:.2f}, tukey {seconds['tukey']:.2f}; peak RSS {peak:.2f} GiB, the analysis's "
        f"own peak {traced:.2f} GiB (targets {TARGET_SECONDS:g} s, {TARGET_GIB:g} GiB: {verdict})"
    )


if __name__ == "__main__":
    main()
