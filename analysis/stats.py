"""Summary statistics of a study: pure functions over the tidy ratings."""
import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

CONDITIONS = ("baseline", "ours")


@dataclass(frozen=True)
class ConditionSummary:
    n: int
    mean: float
    sd: float | None


@dataclass(frozen=True)
class TestResult:
    statistic: float | None
    p_value: float | None
    note: str = ""


@dataclass(frozen=True)
class StudySummary:
    """Counts, per-condition descriptives, and the ours − baseline difference on per-item means."""

    study: str
    annotators: int
    items: int
    ratings: int
    baseline: ConditionSummary
    ours: ConditionSummary
    difference: float
    difference_ci: tuple[float | None, float | None]
    paired_t: TestResult
    wilcoxon: TestResult
    unit: str = "per-item means"

    def as_dict(self) -> dict:
        return asdict(self)


def _nan_to_none(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def item_means(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per item, a column per condition: the mean score over its annotators."""
    means = frame.pivot_table(index="item", columns="condition", values="score", aggfunc="mean")
    missing = [condition for condition in CONDITIONS if condition not in means.columns]
    if missing:
        raise ValueError(f"The ratings have no {' or '.join(missing)} scores.")
    return means[list(CONDITIONS)].dropna()


def mean_difference_ci(differences: np.ndarray, level: float = 0.95) -> tuple[float, tuple[float, float]]:
    """The mean of paired differences and its t-based confidence interval."""
    n = len(differences)
    mean = float(np.mean(differences))
    if n < 2:
        return mean, (math.nan, math.nan)
    half = stats.t.ppf(0.5 + level / 2, n - 1) * np.std(differences, ddof=1) / math.sqrt(n)
    return mean, (mean - half, mean + half)


def paired_t(ours: np.ndarray, baseline: np.ndarray) -> TestResult:
    differences = ours - baseline
    if len(differences) < 2:
        return TestResult(None, None, "fewer than two items")
    if np.all(differences == differences[0]):
        return TestResult(None, None, "every item has the same difference; the t statistic is undefined")
    result = stats.ttest_rel(ours, baseline)
    return TestResult(float(result.statistic), float(result.pvalue), f"df = {len(differences) - 1}")


def wilcoxon(ours: np.ndarray, baseline: np.ndarray) -> TestResult:
    """Wilcoxon signed-rank on paired values; zero differences are dropped and counted."""
    differences = ours - baseline
    zeros = int(np.sum(differences == 0))
    nonzero = differences[differences != 0]
    note = f"{zeros} zero difference(s) dropped"
    if len(nonzero) == 0:
        return TestResult(None, None, note + "; no non-zero differences")
    result = stats.wilcoxon(nonzero)
    return TestResult(float(result.statistic), float(result.pvalue), note)


def summarize(frame: pd.DataFrame, *, study: str) -> StudySummary:
    """Summarise one study's tidy ratings; tests run on per-item means (items as the unit)."""
    if frame.empty:
        raise ValueError(f"Study {study!r} has no ratings.")
    by_condition = {
        condition: frame.loc[frame["condition"] == condition, "score"].astype(float) for condition in CONDITIONS
    }
    conditions = {
        condition: ConditionSummary(
            n=int(scores.size), mean=float(scores.mean()), sd=_nan_to_none(scores.std(ddof=1))
        )
        for condition, scores in by_condition.items()
    }
    means = item_means(frame)
    ours, baseline = means["ours"].to_numpy(), means["baseline"].to_numpy()
    difference, ci = mean_difference_ci(ours - baseline)
    return StudySummary(
        study=study,
        annotators=int(frame["annotator"].nunique()),
        items=int(frame["item"].nunique()),
        ratings=int(len(frame) // 2),
        baseline=conditions["baseline"],
        ours=conditions["ours"],
        difference=difference,
        difference_ci=(_nan_to_none(ci[0]), _nan_to_none(ci[1])),
        paired_t=paired_t(ours, baseline),
        wilcoxon=wilcoxon(ours, baseline),
    )
