"""Agreement against the krippendorff package and the McGraw–Wong mean-square formula; quality flags and the
exclusion counts against hand-built annotators."""

import krippendorff
import numpy as np
import pandas as pd
import pytest

from analysis.stats.agreement import agreement, alpha_bootstrap_ci, icc_a1, krippendorff_alpha
from analysis.stats.judgments import paired_judgments
from analysis.stats.quality import ExclusionRules, apply_exclusions
from tests.analysis.simulate import simulate_ratings


def reliability_matrix(judgments) -> np.ndarray:
    """annotators × images (2·item + condition), NaN where unrated."""
    matrix = np.full((judgments.n_annotators, 2 * judgments.n_items), np.nan)
    matrix[judgments.annotator, 2 * judgments.item] = judgments.baseline
    matrix[judgments.annotator, 2 * judgments.item + 1] = judgments.ours
    return matrix


@pytest.mark.parametrize("missing", [0.0, 0.4])
def test_alpha_matches_the_krippendorff_package(missing):
    judgments = paired_judgments(simulate_ratings(annotators=8, items=10, missing=missing, seed=4))
    expected = krippendorff.alpha(reliability_data=reliability_matrix(judgments), level_of_measurement="interval")
    assert krippendorff_alpha(judgments) == pytest.approx(expected, rel=1e-9)


def test_alpha_ci_resamples_items_and_is_seeded():
    judgments = paired_judgments(simulate_ratings(annotators=8, items=15, seed=4))
    low, high = alpha_bootstrap_ci(judgments, seed=3, resamples=400)
    assert low < krippendorff_alpha(judgments) < high
    assert alpha_bootstrap_ci(judgments, seed=3, resamples=400) == (low, high)
    # the same percentiles from explicit resamples of items with the package
    rng = np.random.default_rng(3)
    matrix = reliability_matrix(judgments)
    items = judgments.n_items
    values = []
    draws = rng.integers(0, items, size=(400, items))
    for row in draws:
        columns = np.concatenate([[2 * item, 2 * item + 1] for item in row])
        values.append(krippendorff.alpha(reliability_data=matrix[:, columns], level_of_measurement="interval"))
    assert (low, high) == pytest.approx(tuple(np.percentile(values, [2.5, 97.5])), rel=1e-9)


def test_icc_a1_matches_mcgraw_wong_on_complete_data():
    judgments = paired_judgments(simulate_ratings(annotators=7, items=9, seed=6, rounded=False))
    table = reliability_matrix(judgments).T  # targets (images) × raters (annotators)
    n, k = table.shape
    grand = table.mean()
    ms_r = k * ((table.mean(axis=1) - grand) ** 2).sum() / (n - 1)
    ms_c = n * ((table.mean(axis=0) - grand) ** 2).sum() / (k - 1)
    resid = table - table.mean(axis=1, keepdims=True) - table.mean(axis=0, keepdims=True) + grand
    ms_e = (resid**2).sum() / ((n - 1) * (k - 1))
    expected = (ms_r - ms_e) / (ms_r + (k - 1) * ms_e + k / n * (ms_c - ms_e))
    value, model = icc_a1(judgments)
    assert value == pytest.approx(expected, rel=1e-4)
    assert model == "crossed random intercepts for annotators and images"
    result = agreement(judgments, seed=1, resamples=200)
    assert result.icc_a1 == value and result.units == 18 and result.annotators == 7


def quality_frame() -> pd.DataFrame:
    rows = []
    plan = {
        "careful": ([(3, 7), (4, 8), (2, 6), (5, 9)], 12.0),
        "flat": ([(5, 5), (5, 5), (5, 5), (5, 5)], 10.0),
        "hasty": ([(2, 9), (3, 8), (4, 6), (1, 7)], 0.8),
        "careless": ([(6, 3), (7, 2), (8, 4), (5, 5)], 9.0),
        "solid": ([(4, 6), (5, 7), (3, 8), (6, 6)], 8.0),
    }
    for annotator, (scores, seconds) in plan.items():
        for index, (baseline, ours) in enumerate(scores):
            left = index % 2 == 0
            rows.append((annotator, f"item {index}", "baseline", baseline, "right" if left else "left", seconds))
            rows.append((annotator, f"item {index}", "ours", ours, "left" if left else "right", seconds))
    return pd.DataFrame(rows, columns=["annotator", "item", "condition", "score", "position", "seconds"])


def test_flags_and_what_each_rule_removed():
    judgments = paired_judgments(quality_frame())
    attention = pd.DataFrame({"annotator": ["careless", "flat", "solid"], "failures": [2, 1, 0], "checks": [3, 3, 3]})
    rules = ExclusionRules(min_seconds_per_item=2.0, exclude_straightliners=True, max_attention_failures=0)
    kept, report, quality = apply_exclusions(judgments, rules=rules, attention=attention)
    flags = {q.annotator: q for q in quality}
    assert flags["flat"].straightliner and flags["flat"].distinct_scores == 1
    assert flags["hasty"].too_fast and flags["hasty"].median_seconds == 0.8
    assert flags["careless"].failed_attention and flags["careless"].attention_failures == 2
    assert not any([flags["careful"].straightliner, flags["careful"].too_fast, flags["careful"].failed_attention])
    assert flags["careful"].attention_checks is None  # no attention-check row: unknown, not failed
    # rules in order: attention (careless, flat), straight-lining (nothing new), speed (hasty)
    assert [(s.rule, s.annotators, s.ratings) for s in report.steps] == [
        ("attention", 2, 8),
        ("straight-lining", 0, 0),
        ("speed", 1, 4),
    ]
    assert flags["flat"].excluded_by == "attention"
    assert (report.annotators_removed, report.ratings_removed) == (3, 12)
    assert sorted(kept.annotator_labels) == ["careful", "solid"] and kept.n == 8
    assert report.excluded == ("careless", "flat", "hasty")


def test_rules_off_and_flag_only():
    judgments = paired_judgments(quality_frame())
    kept, report, quality = apply_exclusions(judgments, rules=ExclusionRules(exclude_straightliners=False))
    assert kept is judgments and report.annotators_removed == 0
    assert any(q.straightliner for q in quality)  # still flagged
    kept, report, _ = apply_exclusions(judgments, rules=ExclusionRules(), apply=False)
    assert kept is judgments and report.ratings_removed == 0
    with pytest.raises(ValueError, match="lacks"):
        apply_exclusions(judgments, rules=ExclusionRules(), attention=pd.DataFrame({"annotator": ["x"]}))


def frame_of(scores: dict) -> pd.DataFrame:
    """Tidy ratings from {(annotator, item): (baseline, ours)}; ours alternates sides."""
    rows = []
    for index, ((annotator, item), (baseline, ours)) in enumerate(scores.items()):
        left = index % 2 == 0
        rows.append((annotator, item, "baseline", baseline, "right" if left else "left", 5.0))
        rows.append((annotator, item, "ours", ours, "left" if left else "right", 5.0))
    return pd.DataFrame(rows, columns=["annotator", "item", "condition", "score", "position", "seconds"])


@pytest.mark.parametrize(
    "scores, reason",
    [
        ({("a1", "cat"): (3, 8), ("a1", "dog"): (5, 6), ("a1", "car"): (7, 4)}, "only one annotator"),
        (
            {("a1", "cat"): (3, 8), ("a2", "dog"): (5, 6), ("a3", "car"): (7, 4), ("a1", "sun"): (2, 9)},
            "one judgment per image",
        ),
    ],
)
def test_icc_is_none_with_the_reason_when_the_components_cannot_be_estimated(scores, reason):
    judgments = paired_judgments(frame_of(scores))
    assert krippendorff_alpha(judgments) is None  # no image rated twice: alpha is undefined too
    value, model = icc_a1(judgments)
    assert value is None and "not estimable" in model and reason in model
    result = agreement(judgments, seed=1, resamples=50)
    assert result.icc_a1 is None and result.icc_model == model


def test_icc_of_zero_is_kept_when_the_image_variance_is_estimated_at_zero():
    """Every image has the same mean over the annotators; annotators differ: the estimate is 0, not unknown."""
    offsets = {"a1": 0.0, "a2": 1.0, "a3": 2.0}
    noise = [(1.0, -1.0, 0.0), (0.0, 1.0, -1.0), (-1.0, 0.0, 1.0), (0.5, -0.5, 0.0), (0.0, 0.5, -0.5)]
    scores = {}
    for item in range(3):
        for k, (annotator, offset) in enumerate(offsets.items()):
            baseline, ours = noise[2 * item][k], noise[(2 * item + 1) % 5][k]
            scores[(annotator, f"item {item}")] = (5.0 + offset + baseline, 5.0 + offset + ours)
    value, model = icc_a1(paired_judgments(frame_of(scores)))
    assert value == 0.0
    assert "image variance estimated at 0" in model
