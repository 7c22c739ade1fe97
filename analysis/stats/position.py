"""Position bias: whether "ours" was on the left half of the time, and how much the left side itself scores.

With ``x = +1`` when ours was on the left and ``−1`` when on the right, the model ``d ~ 1 + x`` with crossed
random intercepts gives the left-minus-right effect as the coefficient of ``x`` (a score on the left gains that
much over the same score on the right) and the position-adjusted effect of ours as the intercept.
"""

from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from .judgments import Judgments
from .mixed import CrossedGroups, Effect, effect_of, fit_crossed


@dataclass(frozen=True)
class PositionCheck:
    ours_left: int
    n: int
    ours_left_share: float
    share_ci: tuple[float, float]  # Clopper–Pearson
    balance_p: float  # exact binomial test of a 50% share: a check of the randomisation
    left_minus_right: Effect | None
    adjusted_effect: Effect | None  # ours − baseline adjusted for position
    model: str
    note: str = ""


def position_bias(judgments: Judgments, *, groups: CrossedGroups | None = None, level: float = 0.95) -> PositionCheck:
    left = int(judgments.ours_left.sum())
    n = judgments.n
    test = sps.binomtest(left, n, 0.5)
    interval = test.proportion_ci(confidence_level=level, method="exact")
    if n < 4:
        return PositionCheck(
            left,
            n,
            left / n,
            (float(interval.low), float(interval.high)),
            float(test.pvalue),
            None,
            None,
            "",
            f"only {n} judgment{'s' if n != 1 else ''} (fewer than 4): the position effect is not estimable",
        )
    if left in (0, n):
        return PositionCheck(
            left,
            n,
            left / n,
            (float(interval.low), float(interval.high)),
            float(test.pvalue),
            None,
            None,
            "",
            "ours was always on the same side: the position effect is not estimable",
        )
    x = np.where(judgments.ours_left, 1.0, -1.0)
    X = np.column_stack([np.ones(n), x])
    try:
        fit = fit_crossed(
            y=judgments.difference,
            annotator=judgments.annotator,
            item=judgments.item,
            X=X,
            names=("ours − baseline", "left − right"),
            groups=groups,
        )
    except ValueError as exc:
        return PositionCheck(
            left, n, left / n, (float(interval.low), float(interval.high)), float(test.pvalue), None, None, "", str(exc)
        )
    return PositionCheck(
        ours_left=left,
        n=n,
        ours_left_share=left / n,
        share_ci=(float(interval.low), float(interval.high)),
        balance_p=float(test.pvalue),
        left_minus_right=effect_of(fit, 1, level=level),
        adjusted_effect=effect_of(fit, 0, level=level),
        model=f"ours − baseline ~ 1 + side (±1); {fit.model}; {fit.method}, {fit.df_method} df",
    )
