"""Power planning for pairwise designs: the schedule balances pairs across prompts, each simulated study's
cluster-robust p is the one ``pairwise_study`` reports for the same judgments, power rises with the number of
judgments, a zero effect is rejected at the rate α (within Monte-Carlo error) with and without heterogeneity, the
plan reports that rate, and arguments out of range are refused by name."""

import math
from collections import Counter

import numpy as np
import pytest

from analysis.stats import pairwise_power
from analysis.stats.multiplicity import adjust
from analysis.stats.pairwise import pairwise_study
from analysis.stats.pairwise_power import (
    adjusted,
    pair_p_values,
    pilot_assumptions,
    schedule,
    simulate_study,
    tie_parameter,
)

plan_power = pairwise_power.pairwise_power

STRENGTHS = {"base": 0.0, "ours": 0.25, "other": 0.5}
EQUAL = {"a": 0.0, "b": 0.0, "c": 0.0}


def test_the_schedule_balances_pairs_across_prompts():
    plan = schedule(annotators=9, prompts=8, pairs_per_annotator=16, conditions=4)  # 144 judgments = 3 × 8 × 6
    cells = Counter(zip(plan.item.tolist(), plan.pair.tolist(), strict=True))
    assert len(cells) == 8 * 6 and set(cells.values()) == {3}  # every (prompt, pair) three times
    assert set(plan.pair[:6].tolist()) == set(range(6))  # the first P judgments hold every pair
    small = schedule(annotators=12, prompts=20, pairs_per_annotator=10, conditions=3)
    for annotator in range(12):
        items = small.item[small.annotator == annotator]
        assert items.size == 10 and np.unique(items).size == 10  # m ≤ I: ten different prompts each
    assert np.bincount(small.pair).tolist() == [40, 40, 40]


def test_simulated_p_values_are_pairwise_studys():
    frame = simulate_study(
        strengths={"a": 0.0, "b": 0.3, "c": -0.2, "d": 0.5},
        tie_rate=0.2,
        annotator_sd=0.3,
        item_sd=0.2,
        pairs_per_annotator=12,
        annotators=20,
        prompts=10,
        seed=3,
    )
    result = pairwise_study(frame, seed=0, resamples=5)
    plan = schedule(annotators=20, prompts=10, pairs_per_annotator=12, conditions=4)
    outcome = frame["choice"].map({"left": 0, "right": 1, "tie": 2}).to_numpy()[None]
    p, fitted = pair_p_values(outcome, plan, 4)
    assert fitted.all()
    np.testing.assert_allclose(p[0], [t.p for t in result.pair_tests], rtol=1e-7)
    assert {t.df for t in result.pair_tests} == {19 * 9 / 28}  # (A − 1)(I − 1) / (A + I − 2)
    np.testing.assert_allclose(adjusted(p, "holm")[0], [t.p_adjusted for t in result.pair_tests], rtol=1e-7)


def test_a_study_without_ties_is_fitted_as_bradley_terry():
    frame = simulate_study(
        strengths={"a": 0.0, "b": 0.4, "c": 0.8}, pairs_per_annotator=10, annotators=30, prompts=10, seed=4
    )
    assert (frame["choice"] != "tie").all()
    result = pairwise_study(frame, seed=0, resamples=5)
    plan = schedule(annotators=30, prompts=10, pairs_per_annotator=10, conditions=3)
    outcome = frame["choice"].map({"left": 0, "right": 1}).to_numpy()[None]
    p, _ = pair_p_values(outcome, plan, 3)
    np.testing.assert_allclose(p[0], [t.p for t in result.pair_tests], rtol=1e-7)


def test_a_study_without_a_maximum_counts_as_failed():
    plan = schedule(annotators=6, prompts=4, pairs_per_annotator=6, conditions=3)
    outcome = np.random.default_rng(0).integers(0, 3, size=(2, plan.pair.size))
    outcome[1, plan.pair < 2] = 0  # the first condition wins every judgment of its pairs (0 v 1 and 0 v 2)
    p, fitted = pair_p_values(outcome, plan, 3)
    assert fitted.tolist() == [True, False] and np.isfinite(p[0]).all() and np.isnan(p[1]).all()


@pytest.mark.parametrize("method", ["holm", "bh"])
def test_the_vectorised_adjustment_is_multiplicitys(method):
    p = np.random.default_rng(1).random((50, 6)) ** 3
    p[0, :2] = p[0, 2]  # ties among the p-values
    expected = np.array([adjust(list(row), method=method) for row in p])
    np.testing.assert_allclose(adjusted(p, method), expected, rtol=1e-12)


def test_the_tie_rate_is_that_of_equal_conditions_and_a_pilot_gives_it_back():
    frame = simulate_study(strengths=EQUAL, tie_rate=0.3, pairs_per_annotator=100, annotators=100, prompts=50, seed=5)
    assert (frame["choice"] == "tie").mean() == pytest.approx(0.3, abs=0.015)
    assert tie_parameter(0.3) == pytest.approx(0.6 / 0.7)
    truth = {"a": 0.0, "b": 0.5, "c": -0.4}
    pilot = simulate_study(strengths=truth, tie_rate=0.2, pairs_per_annotator=100, annotators=100, prompts=50, seed=6)
    stated = pilot_assumptions(pilot)
    assert stated["strengths"] == pytest.approx(truth, abs=0.08)
    assert stated["tie_rate"] == pytest.approx(0.2, abs=0.02)
    result = pairwise_study(pilot, seed=0, resamples=5)
    from_result = pilot_assumptions(result)
    assert from_result["strengths"] == pytest.approx(stated["strengths"], abs=1e-8)
    assert from_result["tie_rate"] == pytest.approx(stated["tie_rate"], abs=1e-8)


def test_power_rises_with_the_number_of_annotators_and_the_smallest_design_reaches_the_target():
    plan = plan_power(
        strengths=STRENGTHS,
        contrast=("ours", "base"),
        tie_rate=0.2,
        pairs_per_annotator=20,
        annotators=[10, 40, 160],
        prompts=[30],
        simulations=400,
        seed=1,
    )
    powers = [design.power for design in plan.grid]
    for low, high in zip(plan.grid, plan.grid[1:], strict=False):
        assert high.power - low.power > 3 * math.hypot(low.mc_se, high.mc_se), powers
    assert powers[-1] > 0.8 and plan.smallest == plan.grid[-1]
    assert plan.difference == pytest.approx(0.25) and plan.contrast == ("ours", "base")
    for design in plan.grid:
        assert design.mc_se == pytest.approx(math.sqrt(design.power * (1 - design.power) / 400))
        assert design.judgments == design.annotators * 20 and design.failed == 0
    # the stated contrast is the default: the two conditions whose strengths differ least (0.25 apart)
    default = plan_power(strengths=STRENGTHS, pairs_per_annotator=20, annotators=[10], prompts=[30], seed=1)
    assert default.contrast == ("base", "ours")


def test_a_zero_effect_is_rejected_at_the_rate_alpha():
    simulations = 3000
    plan = plan_power(
        strengths=EQUAL,
        contrast=("a", "b"),
        tie_rate=0.2,
        pairs_per_annotator=20,
        annotators=[30],
        prompts=[20],
        simulations=simulations,
        seed=2,
    )
    (design,) = plan.grid
    assert abs(design.power - 0.05) < 3 * math.sqrt(0.05 * 0.95 / simulations), design
    assert plan.smallest is None and plan.type_one_error is None
    holm = plan_power(
        strengths=EQUAL,
        contrast=("a", "b"),
        tie_rate=0.2,
        pairs_per_annotator=20,
        annotators=[30],
        prompts=[20],
        simulations=simulations,
        seed=2,
        adjustment="holm",
    )
    # the same simulated studies (same seed), each p adjusted upwards: fewer rejections, never more
    assert holm.grid[0].rejections < design.rejections
    assert holm.grid[0].power < 0.05


def test_under_heterogeneity_the_plans_type_one_error_stays_near_alpha():
    # Annotators and prompts shift the log strengths (SD 0.5 each): the inverse information alone would reject a
    # zero effect about a third of the time here; the cluster-robust test keeps it at α.
    simulations = 1000
    plan = plan_power(
        strengths={"a": 0.0, "b": 0.6},
        annotator_sd=0.5,
        item_sd=0.5,
        pairs_per_annotator=20,
        annotators=[60],
        prompts=[20],
        simulations=simulations,
        seed=3,
    )
    null = plan.type_one_error
    assert plan.smallest is not None and null is not None
    assert (null.annotators, null.prompts) == (plan.smallest.annotators, plan.smallest.prompts)
    assert abs(null.power - 0.05) < 3 * math.sqrt(0.05 * 0.95 / simulations), null


def test_a_designs_estimate_does_not_depend_on_the_grid_and_the_seed_repeats_it():
    options = {"strengths": STRENGTHS, "pairs_per_annotator": 10, "prompts": [12], "simulations": 200, "seed": 7}
    alone = plan_power(annotators=[20], **options).grid[0]
    in_grid = plan_power(annotators=[10, 20, 30], **options).grid[1]
    assert alone == in_grid == plan_power(annotators=[20], **options).grid[0]
    assert plan_power(annotators=[20], **{**options, "seed": 8}).grid[0] != alone


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"strengths": {"a": 0.0}}, "strengths must map at least two"),
        ({"strengths": {"a": 0.0, "b": float("nan")}}, "strengths: the log strength of 'b'"),
        ({"tie_rate": 1.0}, "tie_rate must be"),
        ({"annotator_sd": -0.1}, "annotator_sd must be"),
        ({"item_sd": float("inf")}, "item_sd must be"),
        ({"alpha": 0.0}, "alpha must be"),
        ({"target": 1.5}, "target must be"),
        ({"adjustment": "bonferroni"}, "adjustment must be"),
        ({"pairs_per_annotator": 0}, "pairs_per_annotator must be"),
        ({"simulations": 0}, "simulations must be"),
        ({"annotators": []}, "annotators must list"),
        ({"prompts": [0]}, "prompts must be"),
        (
            {"strengths": {"a": 0.0, "b": 0.3, "c": 0.1}, "annotators": [1], "pairs_per_annotator": 2},
            "annotators: 1 annotators × 2 pairs each cannot cover the 3 condition pairs",
        ),
        ({"contrast": ("a", "a")}, "contrast must name two different"),
        ({"contrast": ("a", "zz")}, "contrast: 'zz'"),
        ({"strengths": EQUAL}, "contrast must be given"),
    ],
)
def test_arguments_out_of_range_are_refused_by_name(change, message):
    arguments = {
        "strengths": {"a": 0.0, "b": 0.3},
        "pairs_per_annotator": 5,
        "annotators": [10],
        "prompts": [5],
        "simulations": 10,
        "seed": 1,
        **change,
    }
    with pytest.raises(ValueError, match=message):
        plan_power(**arguments)
