"""Descriptives, robustness tests, effect sizes, position, multiplicity and the two-way bootstrap, each against an
independent computation (pandas, scipy, statsmodels, explicit loops, numbers worked by hand) on hand-built or
simulated tidy frames."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from analysis.stats.bootstrap import two_way_bootstrap
from analysis.stats.descriptives import describe
from analysis.stats.judgments import paired_judgments
from analysis.stats.multiplicity import adjust
from analysis.stats.position import position_bias
from analysis.stats.robustness import analyse_units, sign_test
from tests.analysis.simulate import simulate_ratings
from tests.analysis.test_mixed import gls_standard_errors, statsmodels_fit

# (annotator, item) -> (baseline score, ours score); 3 annotators x 4 items.
SCORES = {
    ("a1", "cat"): (3, 8),
    ("a2", "cat"): (4, 7),
    ("a3", "cat"): (2, 9),
    ("a1", "dog"): (5, 5),
    ("a2", "dog"): (6, 6),
    ("a3", "dog"): (4, 4),
    ("a1", "car"): (7, 6),
    ("a2", "car"): (8, 5),
    ("a3", "car"): (6, 6),
    ("a1", "sun"): (1, 4),
    ("a2", "sun"): (2, 2),
    ("a3", "sun"): (3, 9),
}


def tidy(scores: dict) -> pd.DataFrame:
    rows = []
    for index, ((annotator, item), (baseline, ours)) in enumerate(scores.items()):
        ours_left = index % 2 == 0
        rows.append(
            {
                "annotator": annotator,
                "item": item,
                "condition": "baseline",
                "score": baseline,
                "position": "right" if ours_left else "left",
                "seconds": 3.0 + index,
            }
        )
        rows.append(
            {
                "annotator": annotator,
                "item": item,
                "condition": "ours",
                "score": ours,
                "position": "left" if ours_left else "right",
                "seconds": 3.0 + index,
            }
        )
    return pd.DataFrame(rows)


def unit_frame(scores: dict, unit: int) -> pd.Series:
    """Per-unit mean difference with pandas (unit 0: annotator, 1: item)."""
    rows = [(key[unit], ours - baseline) for key, (baseline, ours) in scores.items()]
    return pd.DataFrame(rows, columns=["unit", "d"]).groupby("unit")["d"].mean()


def test_descriptives_and_shares():
    judgments = paired_judgments(tidy(SCORES))
    result = describe(judgments)
    baseline = np.array([b for b, _ in SCORES.values()], dtype=float)
    ours = np.array([o for _, o in SCORES.values()], dtype=float)
    assert result.baseline.n == 12 and result.ours.n == 12
    assert result.baseline.mean == pytest.approx(baseline.mean())
    assert result.ours.sd == pytest.approx(np.std(ours, ddof=1))
    assert result.difference_mean == pytest.approx((ours - baseline).mean())
    low, high = result.ours.ci
    assert low < result.ours.mean < high
    d = ours - baseline
    assert (result.shares.wins, result.shares.ties, result.shares.losses) == (
        (d > 0).sum(),
        (d == 0).sum(),
        (d < 0).sum(),
    )
    assert result.shares.win + result.shares.tie + result.shares.loss == pytest.approx(1)


def test_condition_ci_matches_statsmodels_on_the_scores():
    frame = simulate_ratings(annotators=10, items=12, missing=0.2, seed=2)
    judgments = paired_judgments(frame)
    result = describe(judgments)
    reference = statsmodels_fit(judgments.annotator, judgments.item, judgments.ours)
    se = np.asarray(reference.bse_fe)[0]
    # CI half-width / SE is a t quantile with the model's df: between the normal's and df=5's
    half = (result.ours.ci[1] - result.ours.ci[0]) / 2
    assert sps.norm.ppf(0.975) * se * 0.99 < half < sps.t.ppf(0.975, 5) * se


@pytest.mark.parametrize("unit", ["item", "annotator"])
def test_unit_tests_match_scipy(unit):
    result = analyse_units(paired_judgments(tidy(SCORES)), unit=unit)
    d = unit_frame(SCORES, 1 if unit == "item" else 0).to_numpy()
    assert result.n == d.size
    assert result.mean_difference == pytest.approx(d.mean())
    t = sps.ttest_1samp(d, 0)
    assert result.paired_t.statistic == pytest.approx(t.statistic)
    assert result.paired_t.p_value == pytest.approx(t.pvalue)
    half = sps.t.ppf(0.975, d.size - 1) * d.std(ddof=1) / math.sqrt(d.size)
    assert result.ci == pytest.approx((d.mean() - half, d.mean() + half))
    w = sps.wilcoxon(d, zero_method="wilcox")
    assert result.wilcoxon.p_value == pytest.approx(w.pvalue)
    assert result.d_z == pytest.approx(d.mean() / d.std(ddof=1))
    # matched-pairs rank-biserial by hand: ranks of |d| among non-zero d
    nonzero = d[d != 0]
    order = np.abs(nonzero).argsort().argsort() + 1.0  # no ties among these |d|
    if len(set(np.abs(nonzero))) == nonzero.size:
        r = (order[nonzero > 0].sum() - order[nonzero < 0].sum()) / order.sum()
        assert result.rank_biserial == pytest.approx(r)


def test_wilcoxon_counts_and_handles_zeros_explicitly():
    result = analyse_units(paired_judgments(tidy(SCORES)), unit="item")
    d = unit_frame(SCORES, 1).to_numpy()
    assert (d == 0).sum() == 1
    assert result.wilcoxon.note.startswith("1 zero difference(s) dropped")
    assert result.wilcoxon.statistic == pytest.approx(sps.wilcoxon(d[d != 0]).statistic)
    pratt = analyse_units(paired_judgments(tidy(SCORES)), unit="item", zero_method="pratt")
    assert pratt.wilcoxon.p_value == pytest.approx(sps.wilcoxon(d, zero_method="pratt").pvalue)
    assert "Pratt" in pratt.wilcoxon.note


def test_sign_test_on_item_wins_with_ties():
    result = sign_test(paired_judgments(tidy(SCORES)))
    d = unit_frame(SCORES, 1)
    wins, losses, ties = int((d > 0).sum()), int((d < 0).sum()), int((d == 0).sum())
    assert (result.wins, result.losses, result.ties) == (wins, losses, ties) == (2, 1, 1)
    assert result.p_value == pytest.approx(sps.binomtest(wins, wins + losses).pvalue)
    assert "1 tied item" in result.note


def test_units_are_not_judgments():
    """A judgment-level t test treats 12 judgments as independent; per-item means are the unit here."""
    judgments = paired_judgments(tidy(SCORES))
    naive = sps.ttest_1samp(judgments.difference, 0)
    assert analyse_units(judgments, unit="item").paired_t.p_value != pytest.approx(naive.pvalue)


# p = 0.01, 0.04, 0.03, 0.2, 0.005 (m = 5); sorted: 0.005, 0.01, 0.03, 0.04, 0.2.
# Holm, (m - rank + 1) p then running maximum: 0.025, 0.04, 0.09, 0.08 -> 0.09, 0.2.
# BH, p m / rank then running minimum from the largest: 0.025, 0.025, 0.05, 0.05, 0.2.
HAND_WORKED = {
    "holm": [0.04, 0.09, 0.09, 0.2, 0.025],
    "bh": [0.025, 0.05, 0.05, 0.2, 0.025],
}


@pytest.mark.parametrize("method", ["holm", "bh"])
def test_adjustment_by_hand(method):
    assert adjust([0.01, 0.04, 0.03, 0.2, 0.005], method=method) == pytest.approx(HAND_WORKED[method])
    # capped at 1: Holm 3 x 0.01, 2 x 0.5 = 1.0, then 1 x 0.5 raised to 1.0; BH 3 x 0.01, 0.5 x 3/2 = 0.75
    # lowered to 0.5 x 3/3
    assert adjust([0.5, 0.5, 0.01], method=method) == pytest.approx(
        {"holm": [1.0, 1.0, 0.03], "bh": [0.5, 0.5, 0.03]}[method]
    )
    # a missing p stays missing and does not count: m = 2, so 0.01 -> 0.02 and 0.04 stays 0.04 under both
    with_missing = adjust([0.01, None, 0.04], method=method)
    assert with_missing[1] is None
    assert [with_missing[0], with_missing[2]] == pytest.approx([0.02, 0.04])
    assert adjust([None, None], method=method) == [None, None]
    assert adjust([], method=method) == []
    with pytest.raises(ValueError):
        adjust([0.01], method="bonferroni")


def test_position_share_and_left_minus_right_match_binomial_and_statsmodels():
    frame = simulate_ratings(annotators=10, items=12, seed=8, rounded=False)
    # add a left bonus of 0.5 to whichever image was on the left
    frame.loc[frame["position"] == "left", "score"] += 0.5
    judgments = paired_judgments(frame)
    result = position_bias(judgments)
    left = int(judgments.ours_left.sum())
    assert result.ours_left == left
    assert result.balance_p == pytest.approx(sps.binomtest(left, judgments.n).pvalue)
    x = np.where(judgments.ours_left, 1.0, -1.0)
    reference = statsmodels_fit(judgments.annotator, judgments.item, judgments.difference, x)
    assert result.left_minus_right.estimate == pytest.approx(np.asarray(reference.fe_params)[1], abs=1e-5)
    X = np.column_stack([np.ones_like(x), x])
    assert result.left_minus_right.se == pytest.approx(
        gls_standard_errors(judgments.annotator, judgments.item, X, reference)[1], rel=1e-3
    )
    assert result.left_minus_right.ci[0] < 0.5 < result.left_minus_right.ci[1]


def test_position_not_estimable_when_ours_is_always_left():
    frame = tidy(SCORES)
    frame["position"] = np.where(frame["condition"] == "ours", "left", "right")
    result = position_bias(paired_judgments(frame))
    assert result.ours_left_share == 1.0 and result.balance_p < 0.001
    assert result.left_minus_right is None and "not estimable" in result.note


def reference_bootstrap(judgments, *, seed, resamples):
    """The two-way bootstrap written as explicit resampled data sets, with the same random draws."""
    rng = np.random.default_rng(seed)
    A, I = judgments.n_annotators, judgments.n_items
    d = judgments.difference
    cells = {(a, i): d[(judgments.annotator == a) & (judgments.item == i)] for a in range(A) for i in range(I)}
    estimates = []
    for start in range(0, resamples, 250):
        size = min(250, resamples - start)
        draws_a = rng.integers(0, A, size=(size, A))
        draws_i = rng.integers(0, I, size=(size, I))
        for row_a, row_i in zip(draws_a, draws_i, strict=False):
            values = np.concatenate([cells[(a, i)] for a in row_a for i in row_i])
            estimates.append(values.mean() if values.size else np.nan)
    return np.array(estimates)


def test_two_way_bootstrap_equals_the_explicit_resampling():
    frame = simulate_ratings(annotators=6, items=7, missing=0.2, seed=11)
    judgments = paired_judgments(frame)
    result = two_way_bootstrap(judgments, seed=5, resamples=300)
    estimates = reference_bootstrap(judgments, seed=5, resamples=300)
    estimates = estimates[np.isfinite(estimates)]
    assert result.valid_resamples == estimates.size
    assert result.ci == pytest.approx(tuple(np.percentile(estimates, [2.5, 97.5])))
    assert result.se == pytest.approx(estimates.std(ddof=1))
    assert result.estimate == pytest.approx(judgments.difference.mean())
    assert two_way_bootstrap(judgments, seed=5, resamples=300) == result  # the seed fixes it
    assert two_way_bootstrap(judgments, seed=6, resamples=300).ci != result.ci


def test_two_way_bootstrap_is_wider_than_a_judgment_level_one():
    """With annotator and item variation, resampling judgments alone understates the uncertainty."""
    judgments = paired_judgments(simulate_ratings(annotators=20, items=20, seed=3, sd_annotator=0.6, sd_item=0.8))
    result = two_way_bootstrap(judgments, seed=0, resamples=1000)
    naive_se = judgments.difference.std(ddof=1) / math.sqrt(judgments.n)
    assert result.se > 2 * naive_se


@pytest.mark.parametrize(
    "scores",
    [
        {("a1", "cat"): (3, 8)},
        {("a1", "cat"): (3, 8), ("a2", "cat"): (4, 6)},
        {("a1", "cat"): (3, 5), ("a1", "dog"): (4, 6), ("a2", "cat"): (1, 3)},
    ],
)
def test_tiny_studies_give_a_report_that_states_its_limits(scores):
    from analysis.stats.report import study_report

    report = study_report(tidy(scores), study="tiny", resamples=100, exclusions=False)
    d = np.array([o - b for b, o in scores.values()], dtype=float)
    assert report.mixed_model.effect.estimate == pytest.approx(d.mean())
    if np.ptp(d) == 0:
        assert report.mixed_model.model.startswith("not fitted")
        assert report.mixed_model.effect.p is None
    else:
        assert report.mixed_model.simplified
    json_ready = report.as_dict()
    assert json_ready["counts"]["ratings"] == len(scores)


def test_missing_condition_and_empty_frames_are_refused():
    from analysis.stats.report import study_report

    frame = tidy(SCORES)
    with pytest.raises(ValueError, match="no ours scores"):
        study_report(frame[frame["condition"] != "ours"], study="s")
    with pytest.raises(ValueError, match="no ratings"):
        study_report(frame.iloc[0:0], study="s")
    with pytest.raises(ValueError, match="exactly one baseline and one ours"):
        study_report(frame.iloc[1:], study="s")


@pytest.mark.parametrize("n", [1, 2, 3])
def test_position_with_fewer_than_four_judgments_says_so(n):
    scores = dict(list(SCORES.items())[:n])  # ours alternates sides, so both sides occur from n = 2
    result = position_bias(paired_judgments(tidy(scores)))
    assert result.n == n and result.left_minus_right is None and result.adjusted_effect is None
    assert "fewer than 4" in result.note and "not estimable" in result.note
    assert "same side" not in result.note
