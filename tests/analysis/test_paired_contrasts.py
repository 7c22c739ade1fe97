"""Pairwise contrasts of K-condition rating studies by each pair's own difference model (``paired_contrasts``)."""

import numpy as np
import pandas as pd
import pytest

from analysis.stats.conditions import compare_conditions
from analysis.stats.judgments import paired_judgments
from analysis.stats.multiplicity import adjust
from analysis.stats.paired_contrasts import paired_contrasts
from analysis.stats.report import mixed_model

NAMES = ("ref", "b", "c")


def simulate(rng, *, annotators=20, items=12, means=(5.0, 5.0, 5.0), slope_sd=0.5) -> pd.DataFrame:
    """Every annotator scores every item's K images; annotators and items each move the conditions apart by
    independent deviations of SD ``slope_sd`` (condition-by-annotator and condition-by-item variation)."""
    k = len(means)
    a, i, c = (g.ravel() for g in np.meshgrid(np.arange(annotators), np.arange(items), np.arange(k), indexing="ij"))
    score = (
        np.asarray(means)[c]
        + rng.normal(0, 1, annotators)[a]
        + rng.normal(0, 1, items)[i]
        + rng.normal(0, slope_sd, (annotators, k))[a, c]
        + rng.normal(0, slope_sd, (items, k))[i, c]
        + rng.normal(0, 1.5, a.size)
    )
    return pd.DataFrame(
        {"annotator": a, "item": i, "condition": np.array(NAMES[:k] if k <= 3 else range(k))[c], "score": score}
    )


def test_two_conditions_give_the_study_reports_primary_analysis():
    frame = simulate(np.random.default_rng(3), means=(5.0, 5.6), slope_sd=0.4)
    frame["condition"] = frame["condition"].map({"ref": "baseline", "b": "ours"})
    frame["position"] = "left"
    frame["seconds"] = 3.0
    expected = mixed_model(paired_judgments(frame)).effect
    (got,) = paired_contrasts(frame, reference="baseline").contrasts
    assert (got.condition, got.versus) == ("ours", "baseline")
    assert got.estimate == pytest.approx(expected.estimate, rel=1e-9)
    assert got.se == pytest.approx(expected.se, rel=1e-7)
    assert got.df == pytest.approx(expected.df, rel=1e-6)
    assert got.p == pytest.approx(expected.p, rel=1e-6)
    assert got.ci == pytest.approx(expected.ci, rel=1e-7)


def test_true_nulls_are_rejected_at_about_alpha_when_annotators_and_items_favour_conditions():
    """The random-intercept model's contrast rejects far too often here; the per-pair difference model does not."""
    rng = np.random.default_rng(2026)
    studies = 80
    paired = intercepts = 0
    for _ in range(studies):
        frame = simulate(rng)
        paired += paired_contrasts(frame, reference="ref", adjustment="none").contrasts[0].p < 0.05
        intercepts += compare_conditions(frame, reference="ref", adjustment="none").contrasts[0].p < 0.05
    assert paired / studies <= 0.1  # α = 0.05; binomial SE ≈ 0.024 at 80 studies
    assert intercepts / studies >= 0.25  # the check can fail: the simpler model's rate is about 0.4


def test_holm_adjusts_across_the_pairs_with_bonferroni_intervals_and_a_global_p():
    frame = simulate(np.random.default_rng(5), means=(5.0, 5.8, 6.4), slope_sd=0.2)
    result = paired_contrasts(frame, reference="ref")
    raw = paired_contrasts(frame, reference="ref", adjustment="none")
    assert [c.label for c in result.contrasts] == ["b − ref", "c − ref", "c − b"]
    assert [c.p_adjusted for c in result.contrasts] == pytest.approx(adjust([c.p for c in raw.contrasts]))
    for held, plain in zip(result.contrasts, raw.contrasts, strict=True):
        assert held.ci[0] < plain.ci[0] and held.ci[1] > plain.ci[1]  # Bonferroni's, wider
    assert result.global_p == pytest.approx(min(1.0, 3 * min(c.p for c in raw.contrasts)))
    assert all(fit.screens == 20 * 12 for fit in result.fits)


def test_each_pair_uses_the_screens_that_scored_both():
    frame = simulate(np.random.default_rng(8))
    dropped = frame[~((frame["condition"] == "c") & (frame["annotator"] < 5))]
    result = paired_contrasts(dropped, reference="ref")
    screens = {(fit.condition, fit.versus): fit.screens for fit in result.fits}
    assert screens == {("b", "ref"): 240, ("c", "ref"): 180, ("c", "b"): 180}


def test_bad_input_is_refused_by_name():
    frame = simulate(np.random.default_rng(1))
    with pytest.raises(ValueError, match="same item's condition twice"):
        paired_contrasts(pd.concat([frame, frame.iloc[:1]]), reference="ref")
    with pytest.raises(ValueError, match="Unknown adjustment 'tukey'"):
        paired_contrasts(frame, reference="ref", adjustment="tukey")
    lonely = frame[~((frame["condition"] == "c") & (frame["annotator"] > 0))]
    lonely = lonely[~((lonely["condition"] == "c") & (lonely["item"] > 1))]
    with pytest.raises(ValueError, match="share 2 screen"):
        paired_contrasts(lonely, reference="ref")


def test_a_pair_whose_differences_never_vary_is_exact_and_untested():
    frame = simulate(np.random.default_rng(4))
    frame["score"] = frame["score"].round()  # whole points, as people score
    b = frame["condition"] == "b"
    frame.loc[b, "score"] = frame.loc[frame["condition"] == "ref", "score"].to_numpy() + 1.0
    result = paired_contrasts(frame, reference="ref")
    exact = result.contrasts[0]
    assert (exact.estimate, exact.se, exact.p, exact.ci) == (1.0, 0.0, None, (1.0, 1.0))
    assert result.fits[0].model.startswith("not fitted")
    assert result.contrasts[1].p is not None
