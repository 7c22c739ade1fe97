"""Descriptive statistics: per-condition mean, SD and 95% CI; the difference; win / tie / loss shares."""

import math
from dataclasses import dataclass

import numpy as np

from .judgments import Judgments
from .mixed import CrossedGroups, effect_of, fit_crossed, varies

CONDITION_CI_METHOD = (
    "crossed random-intercept model of the condition's scores (annotators and items), REML, Satterthwaite df"
)


@dataclass(frozen=True)
class ConditionDescriptives:
    """Mean and SD over all judgments of one condition; the CI of the mean accounts for annotators and items."""

    n: int
    mean: float
    sd: float | None
    ci: tuple[float | None, float | None]


@dataclass(frozen=True)
class Shares:
    """Counts and shares of judgments where ours scored higher (win), the same (tie), or lower (loss)."""

    wins: int
    ties: int
    losses: int
    win: float
    tie: float
    loss: float


@dataclass(frozen=True)
class Descriptives:
    baseline: ConditionDescriptives
    ours: ConditionDescriptives
    difference_mean: float  # mean over judgments of ours − baseline
    difference_sd: float | None
    shares: Shares
    ci_method: str = CONDITION_CI_METHOD


def _none_if_nan(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def condition_descriptives(
    scores: np.ndarray, *, judgments: Judgments, groups: CrossedGroups | None = None, level: float = 0.95
) -> ConditionDescriptives:
    n = int(scores.size)
    mean = float(scores.mean())
    sd = _none_if_nan(float(scores.std(ddof=1))) if n > 1 else None
    if n < 3 or not varies(scores):
        ci = (mean, mean) if n > 1 and not varies(scores) else (None, None)
        return ConditionDescriptives(n, mean, sd, ci)
    fit = fit_crossed(y=scores, annotator=judgments.annotator, item=judgments.item, groups=groups)
    effect = effect_of(fit, level=level)
    return ConditionDescriptives(n, mean, sd, (_none_if_nan(effect.ci[0]), _none_if_nan(effect.ci[1])))


def win_tie_loss(judgments: Judgments) -> Shares:
    d = judgments.difference
    wins, ties, losses = int((d > 0).sum()), int((d == 0).sum()), int((d < 0).sum())
    n = max(d.size, 1)
    return Shares(wins, ties, losses, wins / n, ties / n, losses / n)


def describe(judgments: Judgments, *, groups: CrossedGroups | None = None, level: float = 0.95) -> Descriptives:
    """Descriptives per condition and of the difference; shares are of judgments and descriptive only."""
    d = judgments.difference
    return Descriptives(
        baseline=condition_descriptives(judgments.baseline, judgments=judgments, groups=groups, level=level),
        ours=condition_descriptives(judgments.ours, judgments=judgments, groups=groups, level=level),
        difference_mean=float(d.mean()),
        difference_sd=_none_if_nan(float(d.std(ddof=1))) if d.size > 1 else None,
        shares=win_tie_loss(judgments),
    )
