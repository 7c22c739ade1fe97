"""Calibration of the primary test on incomplete designs: type I error and CI coverage over simulated crowd studies.

    python bench/calibration.py                        # every design, 2,000 studies each for both checks
    python bench/calibration.py --studies 500 --designs dropouts

Each simulated study gives each annotator a random subset of the items; part of the annotators stop part-way and
part are excluded whole (as the speed and straight-lining rules do), then the crossed model is fitted as the report
fits it (REML, Satterthwaite df). Under no effect the test should reject 5% ± 2% of studies; with a known effect
(0.3) the 95% CI should cover it in 93–97%. The judgment-level t test, which ignores the crossed structure, is
printed beside it. Studies are drawn from fixed seeds, so a run is reproducible; the two processes share the work.
"""

import argparse
import math
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DESIGNS = {
    "dropouts": dict(annotators=45, items=50, per_annotator=20, dropout=0.25, excluded=0.1),
    "dropouts-rounded": dict(annotators=45, items=50, per_annotator=20, dropout=0.25, excluded=0.1, rounded=True),
    "sparse-crowd": dict(annotators=120, items=200, per_annotator=30, dropout=0.5, excluded=0.1),
    "no-annotator-variance": dict(
        annotators=30, items=40, per_annotator=15, dropout=0.3, excluded=0.1, sd_annotator=0.0
    ),
}
EFFECT = 0.3


def run(design: str, effect: float, seeds: range) -> tuple[int, int, int, int]:
    """(rejections, covered, naive rejections, singular fits) over the studies of ``seeds``."""
    import numpy as np
    from scipy import stats as sps

    from analysis.stats.mixed import effect_of, fit_crossed
    from tests.analysis.simulate import incomplete_judgments

    rejections = covered = naive = singular = 0
    for seed in seeds:
        rng = np.random.default_rng([seed, int(effect * 1000)])
        a, i, y = incomplete_judgments(rng, effect=effect, **DESIGNS[design])
        fit = fit_crossed(y=y, annotator=a, item=i)
        result = effect_of(fit)
        rejections += result.p < 0.05
        covered += result.ci[0] <= effect <= result.ci[1]
        naive += sps.ttest_1samp(y, 0).pvalue < 0.05
        singular += fit.singular
    return rejections, covered, naive, singular


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--studies", type=int, default=2000)
    parser.add_argument("--designs", nargs="+", default=list(DESIGNS), choices=list(DESIGNS))
    args = parser.parse_args()
    n = args.studies
    halves = [range(0, n // 2), range(n // 2, n)]
    print(f"{n} studies per design and check; binomial SE of a 5% rate {100 * math.sqrt(0.05 * 0.95 / n):.2f} points")
    print("| design | type I error (mixed) | naive t test | 95% CI coverage of 0.3 | singular fits (null) |")
    print("|---|---|---|---|---|")
    with ProcessPoolExecutor(2) as pool:
        for design in args.designs:
            null = [pool.submit(run, design, 0.0, seeds) for seeds in halves]
            alternative = [pool.submit(run, design, EFFECT, seeds) for seeds in halves]
            rejected, _, naive, singular = (sum(v) for v in zip(*(f.result() for f in null), strict=False))
            _, covered, _, _ = (sum(v) for v in zip(*(f.result() for f in alternative), strict=False))
            print(
                f"| {design} | {100 * rejected / n:.1f}% | {100 * naive / n:.1f}% | {100 * covered / n:.1f}% "
                f"| {100 * singular / n:.0f}% |",
                flush=True,
            )


if __name__ == "__main__":
    main()
