"""Robustness tests on aggregated units: paired t and Wilcoxon on per-item and per-annotator means, the sign test
on per-item wins, and the effect sizes d_z and matched-pairs rank-biserial."""

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from .judgments import Judgments
from .mixed import varies

UNITS = ("item", "annotator")


@dataclass(frozen=True)
class HypothesisTest:
    statistic: float | None
    p_value: float | None
    note: str = ""


@dataclass(frozen=True)
class UnitAnalysis:
    """Tests on per-unit mean differences (ours − baseline), the unit being items or annotators."""

    unit: str
    n: int
    mean_difference: float
    sd: float | None
    ci: tuple[float | None, float | None]  # t interval over units
    paired_t: HypothesisTest
    wilcoxon: HypothesisTest
    d_z: float | None  # mean / SD of the per-unit differences
    rank_biserial: float | None  # matched-pairs, zeros dropped (Kerby 2014)


@dataclass(frozen=True)
class SignTest:
    """Per-item wins (mean difference > 0) against losses, exact binomial; ties are counted and set aside."""

    wins: int
    losses: int
    ties: int
    p_value: float | None
    note: str


def unit_means(judgments: Judgments, *, unit: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-unit mean baseline and ours scores (units in label order)."""
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {UNITS}")
    codes = judgments.item if unit == "item" else judgments.annotator
    size = judgments.n_items if unit == "item" else judgments.n_annotators
    counts = np.bincount(codes, minlength=size)
    baseline = np.bincount(codes, weights=judgments.baseline, minlength=size) / counts
    ours = np.bincount(codes, weights=judgments.ours, minlength=size) / counts
    return baseline, ours


def paired_t(differences: np.ndarray) -> HypothesisTest:
    n = differences.size
    if n < 2:
        return HypothesisTest(None, None, "fewer than two units")
    if not varies(differences):
        return HypothesisTest(None, None, "every unit has the same difference; the t statistic is undefined")
    result = sps.ttest_1samp(differences, 0.0)
    return HypothesisTest(float(result.statistic), float(result.pvalue), f"df = {n - 1}")


def wilcoxon(differences: np.ndarray, *, zero_method: str = "wilcox") -> HypothesisTest:
    """Wilcoxon signed-rank; zeros: "wilcox" drops them, "pratt" ranks then drops them, "zsplit" splits them."""
    zeros = int(np.sum(differences == 0))
    label = {"wilcox": "dropped", "pratt": "ranked, then dropped (Pratt)", "zsplit": "split between signs"}
    note = f"{zeros} zero difference(s) {label[zero_method]}"
    if np.all(differences == 0):
        return HypothesisTest(None, None, note + "; no non-zero differences")
    values = differences[differences != 0] if zero_method == "wilcox" else differences
    result = sps.wilcoxon(values, zero_method=zero_method)
    return HypothesisTest(float(result.statistic), float(result.pvalue), note)


def rank_biserial(differences: np.ndarray) -> float | None:
    """(R⁺ − R⁻) / (R⁺ + R⁻) with ranks of |d| over the non-zero differences."""
    nonzero = differences[differences != 0]
    if nonzero.size == 0:
        return None
    ranks = sps.rankdata(np.abs(nonzero))
    positive, negative = ranks[nonzero > 0].sum(), ranks[nonzero < 0].sum()
    return float((positive - negative) / (positive + negative))


def analyse_units(judgments: Judgments, *, unit: str, level: float = 0.95, zero_method: str = "wilcox") -> UnitAnalysis:
    baseline, ours = unit_means(judgments, unit=unit)
    differences = ours - baseline
    n = differences.size
    mean = float(differences.mean())
    sd = float(differences.std(ddof=1)) if n > 1 else math.nan
    spread = n > 1 and varies(differences)  # rounding error is no spread: the sd is then 0
    sd = 0.0 if n > 1 and not spread else sd
    if spread:
        half = sps.t.ppf(0.5 + level / 2, n - 1) * sd / math.sqrt(n)
        ci = (mean - half, mean + half)
    elif n > 1:
        ci = (mean, mean)
    else:
        ci = (None, None)
    return UnitAnalysis(
        unit=unit,
        n=n,
        mean_difference=mean,
        sd=sd if math.isfinite(sd) else None,
        ci=ci,
        paired_t=paired_t(differences),
        wilcoxon=wilcoxon(differences, zero_method=zero_method),
        d_z=mean / sd if spread else None,
        rank_biserial=rank_biserial(differences),
    )


def sign_test(judgments: Judgments) -> SignTest:
    baseline, ours = unit_means(judgments, unit="item")
    differences = ours - baseline
    wins, losses = int((differences > 0).sum()), int((differences < 0).sum())
    ties = int((differences == 0).sum())
    note = f"{ties} tied item(s) set aside"
    if wins + losses == 0:
        return SignTest(wins, losses, ties, None, note + "; no untied items")
    p = sps.binomtest(wins, wins + losses, 0.5).pvalue
    return SignTest(wins, losses, ties, float(p), note)
