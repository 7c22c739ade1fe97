"""summarize() against independent computations with numpy and scipy on hand-built tidy frames."""
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from analysis.stats import summarize

# (annotator, item) -> (baseline score, ours score); 3 annotators x 4 items.
SCORES = {
    ("a1", "cat"): (3, 8), ("a2", "cat"): (4, 7), ("a3", "cat"): (2, 9),
    ("a1", "dog"): (5, 5), ("a2", "dog"): (6, 6), ("a3", "dog"): (4, 4),
    ("a1", "car"): (7, 6), ("a2", "car"): (8, 5), ("a3", "car"): (6, 6),
    ("a1", "sun"): (1, 4), ("a2", "sun"): (2, 2), ("a3", "sun"): (3, 9),
}


def tidy(scores: dict) -> pd.DataFrame:
    rows = []
    for index, ((annotator, item), (baseline, ours)) in enumerate(scores.items()):
        ours_left = index % 2 == 0
        rows.append({"annotator": annotator, "item": item, "condition": "baseline", "score": baseline,
                     "position": "right" if ours_left else "left", "seconds": 3.0 + index})
        rows.append({"annotator": annotator, "item": item, "condition": "ours", "score": ours,
                     "position": "left" if ours_left else "right", "seconds": 3.0 + index})
    return pd.DataFrame(rows)


def reference(scores: dict):
    """Per-item mean differences (ours - baseline), computed by hand."""
    items = sorted({item for _, item in scores})
    baseline = np.array([np.mean([b for (_, i), (b, _) in scores.items() if i == item]) for item in items])
    ours = np.array([np.mean([o for (_, i), (_, o) in scores.items() if i == item]) for item in items])
    return items, baseline, ours


def test_summary_matches_independent_computation():
    summary = summarize(tidy(SCORES), study="s")
    items, baseline, ours = reference(SCORES)
    differences = ours - baseline
    # dog's per-item difference is exactly zero, the others are not
    assert list(differences == 0) == [False, False, True, False]  # car, cat, dog, sun

    assert summary.study == "s"
    assert (summary.annotators, summary.items, summary.ratings) == (3, 4, 12)

    all_baseline = np.array([b for b, _ in SCORES.values()], dtype=float)
    all_ours = np.array([o for _, o in SCORES.values()], dtype=float)
    assert summary.baseline.n == 12 and summary.ours.n == 12
    assert summary.baseline.mean == pytest.approx(all_baseline.mean())
    assert summary.ours.mean == pytest.approx(all_ours.mean())
    assert summary.baseline.sd == pytest.approx(np.std(all_baseline, ddof=1))
    assert summary.ours.sd == pytest.approx(np.std(all_ours, ddof=1))

    assert summary.difference == pytest.approx(differences.mean())
    half = sps.t.ppf(0.975, len(differences) - 1) * np.std(differences, ddof=1) / math.sqrt(len(differences))
    assert summary.difference_ci[0] == pytest.approx(differences.mean() - half)
    assert summary.difference_ci[1] == pytest.approx(differences.mean() + half)

    t = sps.ttest_rel(ours, baseline)
    assert summary.paired_t.statistic == pytest.approx(t.statistic)
    assert summary.paired_t.p_value == pytest.approx(t.pvalue)
    assert "df = 3" in summary.paired_t.note

    nonzero = differences[differences != 0]
    w = sps.wilcoxon(nonzero)
    assert summary.wilcoxon.statistic == pytest.approx(w.statistic)
    assert summary.wilcoxon.p_value == pytest.approx(w.pvalue)
    assert summary.wilcoxon.note.startswith("1 zero difference(s) dropped")
    assert summary.unit == "per-item means"


def test_units_are_items_not_judgments():
    """Judgment-level tests would differ; the summary must use per-item means."""
    frame = tidy(SCORES)
    wide = frame.pivot_table(index=["annotator", "item"], columns="condition", values="score")
    judgment_level = sps.ttest_rel(wide["ours"], wide["baseline"])
    summary = summarize(frame, study="s")
    assert summary.paired_t.p_value != pytest.approx(judgment_level.pvalue)


def test_as_dict_round_trips_the_values():
    summary = summarize(tidy(SCORES), study="s")
    data = summary.as_dict()
    assert data["baseline"]["mean"] == summary.baseline.mean
    assert data["paired_t"]["p_value"] == summary.paired_t.p_value
    assert tuple(data["difference_ci"]) == summary.difference_ci


def test_single_item_has_no_ci_and_no_t_test():
    scores = {("a1", "cat"): (3, 8), ("a2", "cat"): (4, 6)}
    summary = summarize(tidy(scores), study="s")
    assert (summary.annotators, summary.items, summary.ratings) == (2, 1, 2)
    assert summary.difference == pytest.approx(3.5)
    assert summary.difference_ci == (None, None)
    assert summary.paired_t.statistic is None and summary.paired_t.p_value is None
    assert "fewer than two items" in summary.paired_t.note
    # Wilcoxon on one non-zero difference still runs (and cannot be significant)
    assert summary.wilcoxon.p_value == pytest.approx(sps.wilcoxon([3.5]).pvalue)


def test_single_rating_has_no_sd():
    summary = summarize(tidy({("a1", "cat"): (3, 8)}), study="s")
    assert summary.baseline.sd is None and summary.ours.sd is None
    assert (summary.baseline.mean, summary.ours.mean) == (3.0, 8.0)


def test_all_differences_zero():
    scores = {("a1", "cat"): (3, 3), ("a2", "cat"): (5, 5), ("a1", "dog"): (7, 7), ("a2", "dog"): (2, 2)}
    summary = summarize(tidy(scores), study="s")
    assert summary.difference == 0
    assert summary.difference_ci == (0.0, 0.0)
    assert summary.wilcoxon.statistic is None and summary.wilcoxon.p_value is None
    assert "2 zero difference(s) dropped" in summary.wilcoxon.note
    assert "no non-zero differences" in summary.wilcoxon.note
    assert summary.paired_t.p_value is None and summary.paired_t.note


def test_constant_nonzero_difference_has_no_t_statistic():
    scores = {("a1", "cat"): (3, 5), ("a1", "dog"): (4, 6), ("a1", "sun"): (1, 3)}
    summary = summarize(tidy(scores), study="s")
    assert summary.difference == pytest.approx(2)
    assert summary.paired_t.p_value is None
    assert "same difference" in summary.paired_t.note


@pytest.mark.parametrize("missing", ["ours", "baseline"])
def test_missing_condition_is_a_value_error(missing):
    frame = tidy(SCORES)
    frame = frame[frame["condition"] != missing]
    with pytest.raises(ValueError, match=missing):
        summarize(frame, study="s")


def test_empty_frame_is_a_value_error():
    frame = tidy(SCORES).iloc[0:0]
    with pytest.raises(ValueError, match="no ratings"):
        summarize(frame, study="s")
