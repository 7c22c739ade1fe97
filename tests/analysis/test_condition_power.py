"""Power planning for K-condition rating designs: each simulated study's p is the one ``compare_conditions``
reports for the same scores, power rises with annotators and with items, a zero effect is rejected at the rate α
(within Monte-Carlo error), for two conditions the simulated power agrees with the power computed from the
design's GLS covariance, pilots give their means and variance components, and arguments out of range are refused by
name."""

import math

import numpy as np
import pytest
from scipy import stats as sps

from analysis.stats.condition_power import (
    condition_power,
    contrast_p_values,
    paired_p_values,
    pilot_assumptions,
    schedule,
    screens_of,
    simulate_study,
)
from analysis.stats.conditions import compare_conditions
from analysis.stats.paired_contrasts import paired_contrasts

MEANS = {"plain": 5.0, "scaled": 5.5, "other": 6.5}
SDS = {"annotator_sd": 0.8, "item_sd": 0.6, "residual_sd": 1.0}


def within(value, expected, simulations, sds=3.5):
    """|value − expected| within ``sds`` Monte-Carlo SEs of a rate ``expected`` from ``simulations`` studies."""
    se = math.sqrt(expected * (1 - expected) / simulations)
    assert abs(value - expected) <= sds * se, (value, expected, se)


def test_the_schedule_spreads_items_over_annotators():
    full = schedule(annotators=4, items=3, conditions=3)
    assert full.annotator.size == 4 * 3 * 3
    cells = set(zip(full.annotator.tolist(), full.item.tolist(), full.condition.tolist(), strict=True))
    assert len(cells) == 36  # every annotator, item and condition once
    part = schedule(annotators=6, items=4, conditions=2, items_per_annotator=2)
    assert np.bincount(part.item).tolist() == [6, 6, 6, 6]  # each item three annotators × two images
    for annotator in range(6):
        assert np.unique(part.item[part.annotator == annotator]).size == 2


@pytest.mark.parametrize("adjustment", ["holm", "tukey", "none"])
def test_simulated_p_values_are_compare_conditions(adjustment):
    frame = simulate_study(means=MEANS, **SDS, annotators=7, items=5, seed=3, items_per_annotator=3)
    result = compare_conditions(frame, reference="plain", adjustment=adjustment)
    plan = schedule(annotators=7, items=5, conditions=3, items_per_annotator=3)
    p = contrast_p_values(frame["score"].to_numpy(), plan, tuple(MEANS), adjustment=adjustment, groups=None)
    assert list(p) == [(row.condition, row.versus) for row in result.contrasts]
    for row in result.contrasts:
        assert p[row.condition, row.versus] == pytest.approx(row.p_adjusted, rel=1e-6, abs=1e-12)


def test_power_rises_with_annotators_and_with_items():
    result = condition_power(
        means=MEANS, **SDS, annotators=[3, 12], items=[3, 12], seed=1, simulations=60, null_check=False
    )
    assert result.contrast == ("scaled", "plain") and result.difference == pytest.approx(0.5)
    power = {(d.annotators, d.items): d.power for d in result.grid}
    assert [(d.annotators, d.items) for d in result.grid] == [(3, 3), (3, 12), (12, 3), (12, 12)]
    assert power[3, 12] > power[3, 3] + 0.2 and power[12, 3] > power[3, 3] + 0.2
    assert power[12, 12] > max(power[3, 12], power[12, 3])
    for design in result.grid:
        assert design.mc_se == pytest.approx(math.sqrt(design.power * (1 - design.power) / 60))
        assert design.scores == design.annotators * design.items * 3 and design.failed == 0


def test_a_zero_effect_is_rejected_at_the_rate_alpha():
    equal = {"a": 5.0, "b": 5.0}
    result = condition_power(
        means=equal, contrast=("b", "a"), **SDS, annotators=[5], items=[4], seed=2, simulations=300,
        null_check=False, adjustment="none",
    )  # fmt: skip
    within(result.grid[0].power, 0.05, 300)
    three = condition_power(
        means={"a": 5.0, "b": 5.0, "c": 5.0}, contrast=("a", "c"), **SDS, annotators=[5], items=[4], seed=3,
        simulations=200, null_check=False,
    )  # fmt: skip
    assert three.grid[0].power <= 0.05 + 3.5 * math.sqrt(0.05 * 0.95 / 200)  # Holm: at most α
    assert three.contrast == ("a", "c") and three.difference == 0.0


def test_the_plan_reports_its_smallest_design_and_its_type_one_error():
    result = condition_power(
        means={"plain": 5.0, "scaled": 5.8}, **SDS, annotators=[4, 8], items=[6], seed=4, simulations=80
    )
    reaching = [d for d in result.grid if d.power >= 0.8]
    assert result.smallest == min(reaching, key=lambda d: d.scores)
    null = result.type_one_error
    assert (null.annotators, null.items, null.simulations) == (result.smallest.annotators, result.smallest.items, 80)
    within(null.power, 0.05, 80, sds=4)
    unreachable = condition_power(means={"a": 5.0, "b": 5.05}, **SDS, annotators=[2], items=[2], seed=0, simulations=5)
    assert unreachable.smallest is None and unreachable.type_one_error is None


def gls_variance(*, annotators, items, annotator_sd, item_sd, residual_sd) -> float:
    """Var(β̂₁) of ``score ~ condition + (1|annotator) + (1|item)`` for two conditions, fully crossed, from
    (X'V⁻¹X)⁻¹ with V = σ²_a Z_a Z_a' + σ²_i Z_i Z_i' + σ² I built cell by cell."""
    rows = [(a, i, k) for a in range(annotators) for i in range(items) for k in range(2)]
    Za = np.array([[float(a == level) for level in range(annotators)] for a, _, _ in rows])
    Zi = np.array([[float(i == level) for level in range(items)] for _, i, _ in rows])
    X = np.array([[1.0, float(k)] for _, _, k in rows])
    V = annotator_sd**2 * Za @ Za.T + item_sd**2 * Zi @ Zi.T + residual_sd**2 * np.eye(len(rows))
    return float(np.linalg.inv(X.T @ np.linalg.solve(V, X))[1, 1])


def test_two_conditions_agree_with_the_gls_power():
    annotators, items, effect, simulations = 8, 6, 0.5, 400
    variance = gls_variance(annotators=annotators, items=items, **SDS)
    assert variance == pytest.approx(2 * SDS["residual_sd"] ** 2 / (annotators * items))  # intercepts cancel
    df = 2 * annotators * items - annotators - items - 2 + 2  # the residual stratum of the balanced design
    critical = sps.t.isf(0.025, df)
    ncp = effect / math.sqrt(variance)
    expected = float(sps.nct.sf(critical, df, ncp) + sps.nct.cdf(-critical, df, ncp))
    assert 0.5 < expected < 0.8
    result = condition_power(
        means={"plain": 5.0, "scaled": 5.0 + effect}, **SDS, annotators=[annotators], items=[items], seed=5,
        simulations=simulations, null_check=False,
    )  # fmt: skip
    within(result.grid[0].power, expected, simulations)


def test_pilot_assumptions_take_the_means_and_components():
    frame = simulate_study(means=MEANS, **SDS, annotators=10, items=8, seed=6)
    comparison = compare_conditions(frame, reference="plain")
    assumed = pilot_assumptions(comparison)
    assert list(assumed["means"]) == ["plain", "scaled", "other"]
    assert assumed["means"]["scaled"] == pytest.approx(comparison.mean("scaled").estimate)
    assert assumed["residual_sd"] ** 2 == pytest.approx(comparison.fit.residual)
    assert assumed["annotator_sd"] ** 2 == pytest.approx(comparison.fit.variance["annotator"])
    assert pilot_assumptions(frame, reference="plain") == assumed
    with pytest.raises(ValueError, match="^reference"):
        pilot_assumptions(frame)
    with pytest.raises(TypeError, match="^pilot"):
        pilot_assumptions([1, 2])


GOOD = {"means": MEANS, **SDS, "annotators": [4], "items": [4], "seed": 0, "simulations": 2}


@pytest.mark.parametrize(
    "change, argument",
    [
        ({"means": {"a": 5.0}}, "means"),
        ({"means": {"a": 5.0, "b": math.nan}}, "means"),
        ({"means": {"a": 5.0, "b": "x"}}, "means"),
        ({"annotator_sd": -1.0}, "annotator_sd"),
        ({"item_sd": math.inf}, "item_sd"),
        ({"residual_sd": 0.0}, "residual_sd"),
        ({"alpha": 0.0}, "alpha"),
        ({"alpha": 1.0}, "alpha"),
        ({"target": 1.0}, "target"),
        ({"adjustment": "bh"}, "adjustment"),
        ({"simulations": 0}, "simulations"),
        ({"simulations": 2.5}, "simulations"),
        ({"annotators": []}, "annotators"),
        ({"annotators": [1]}, "annotators"),
        ({"items": [4, 0]}, "items"),
        ({"items_per_annotator": 0}, "items_per_annotator"),
        ({"items_per_annotator": 5}, "items_per_annotator"),
        ({"items": [12], "items_per_annotator": 2}, "items_per_annotator"),
        ({"contrast": ("plain", "plain")}, "contrast"),
        ({"contrast": ("plain", "nope")}, "contrast"),
        ({"means": {"a": 5.0, "b": 5.0}}, "contrast"),
    ],
)
def test_arguments_out_of_range_are_refused_by_name(change, argument):
    with pytest.raises(ValueError, match=f"^{argument}[ :]"):
        condition_power(**{**GOOD, **change})


def test_the_paired_analysis_reports_what_paired_contrasts_reports():
    means = {"ref": 5.0, "b": 5.4, "c": 4.8}
    frame = simulate_study(
        means=means, annotator_sd=1.0, item_sd=0.8, residual_sd=1.5, annotators=12, items=9, seed=3, slopes=(0.4, 0.3)
    )
    plan = schedule(annotators=12, items=9, conditions=3)
    got = paired_p_values(frame["score"].to_numpy(), screens_of(plan, 3), tuple(means), adjustment="holm")
    expected = paired_contrasts(frame, reference="ref")
    assert got == pytest.approx({(c.condition, c.versus): c.p_adjusted for c in expected.contrasts}, rel=1e-6)


def test_with_condition_by_annotator_variation_only_the_paired_analysis_holds_alpha():
    common = {
        "means": {"ref": 5.0, "b": 5.0, "c": 5.0},
        "contrast": ("b", "ref"),
        "annotator_sd": 1.0,
        "item_sd": 1.0,
        "residual_sd": 1.5,
        "annotators": [20],
        "items": [12],
        "seed": 11,
        "adjustment": "none",
        "simulations": 80,
        "null_check": False,
        "slope_sd_annotator": 0.5,
        "slope_sd_item": 0.5,
    }
    paired = condition_power(**common, analysis="paired")
    intercepts = condition_power(**common)
    assert paired.grid[0].power <= 0.1 and paired.analysis == "paired"  # α = 0.05, Monte-Carlo SE ≈ 0.024
    assert intercepts.grid[0].power >= 0.25  # the random-intercept model rejects true nulls too often here


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"analysis": "slopes"}, "analysis must be 'intercepts' or 'paired'"),
        ({"analysis": "paired", "adjustment": "tukey"}, "adjustment tukey needs analysis 'intercepts'"),
        ({"slope_sd_item": -0.1}, "slope_sd_item must be a finite number of at least 0"),
    ],
)
def test_slope_and_analysis_arguments_are_refused_by_name(change, message):
    arguments = {
        "means": {"ref": 5.0, "b": 5.5},
        "annotator_sd": 1.0,
        "item_sd": 1.0,
        "residual_sd": 1.5,
        "annotators": [10],
        "items": [10],
        "seed": 0,
        "simulations": 2,
    }
    with pytest.raises(ValueError, match=message):
        condition_power(**arguments | change)
