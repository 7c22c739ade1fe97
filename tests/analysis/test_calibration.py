"""Calibration of the primary test on simulated crossed data.

400 simulated studies per design (annotator SD 0.4, item SD 0.6 in the effect, residual SD 1.5). Under no effect the
test should reject about 5% of the time: the binomial SD of a 5% rate over 400 studies is 1.1 points, so
[2%, 9%] is roughly a ±3.3 SD band (a false alarm about once in a thousand seeds; the seeds are fixed, so the test
is deterministic). With a known effect the 95% CI should cover it about 95% of the time: SD 1.1 points, band
[91.5%, 98.5%]. The judgment-level t test on the same data, which treats every judgment as independent, must fail
the same check: that is what the crossed model is for.

Two designs: complete 8 × 10, and a crowd's incomplete one (30 annotators given 15 of 40 items each, a quarter
dropping out part-way, a tenth excluded whole). ``bench/calibration.py`` runs the tighter check (2,000 studies
per design, type I error 5% ± 2% and coverage 93–97%); its numbers are in docs/results.md.
"""

import numpy as np
import pytest
from scipy import stats as sps

from analysis.stats.mixed import CrossedGroups, effect_of, fit_crossed
from tests.analysis.simulate import incomplete_judgments

A, I, SIMULATIONS = 8, 10, 400
SD_ANNOTATOR, SD_ITEM, SD_RESIDUAL = 0.4, 0.6, 1.5


def complete_effects(effect: float, seed: int):
    rng = np.random.default_rng(seed)
    a, i = np.repeat(np.arange(A), I), np.tile(np.arange(I), A)
    groups = CrossedGroups(annotator=a, item=i)
    for _ in range(SIMULATIONS):
        y = (
            effect
            + rng.normal(0, SD_ANNOTATOR, A)[a]
            + rng.normal(0, SD_ITEM, I)[i]
            + rng.normal(0, SD_RESIDUAL, a.size)
        )
        yield y, effect_of(fit_crossed(y=y, annotator=a, item=i, groups=groups))


def incomplete_effects(effect: float, seed: int):
    rng = np.random.default_rng(seed)
    for _ in range(SIMULATIONS):
        a, i, y = incomplete_judgments(rng, annotators=30, items=40, per_annotator=15, effect=effect)
        yield y, effect_of(fit_crossed(y=y, annotator=a, item=i))


DESIGNS = {"complete": complete_effects, "incomplete": incomplete_effects}


@pytest.fixture(scope="module", params=sorted(DESIGNS))
def null_runs(request):
    return list(DESIGNS[request.param](0.0, seed=20261127))


def test_type_one_error_is_nominal(null_runs):
    rate = np.mean([result.p < 0.05 for _, result in null_runs])
    assert 0.02 <= rate <= 0.09, rate


def test_naive_judgment_level_test_is_anticonservative(null_runs):
    naive = np.mean([sps.ttest_1samp(y, 0).pvalue < 0.05 for y, _ in null_runs])
    assert naive > 0.15, naive


@pytest.mark.parametrize("design", sorted(DESIGNS))
def test_confidence_interval_covers_a_known_effect(design):
    effect = 0.5
    covered = np.mean([result.ci[0] <= effect <= result.ci[1] for _, result in DESIGNS[design](effect, seed=7)])
    assert 0.915 <= covered <= 0.985, covered
