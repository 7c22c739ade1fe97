"""Pairwise contrasts of a K-condition rating study, each by today's two-condition model on its own differences.

Each annotator scores each of a prompt's K images, so every screen (annotator, item) gives, for each pair of
conditions (c, c'), a within-screen difference d = score_c − score_c'. Each pair is analysed as the study report
analyses its two arms: ``d ~ 1 + (1 | annotator) + (1 | item)`` by REML with Satterthwaite df (``fit_crossed``),
where the two random intercepts are the by-annotator and by-item variation *in that difference*: the maximal model
for the contrast, i.e. random slopes of condition by annotator and by item. For K = 2 the one contrast is the study
report's primary analysis, number for number.

Why not only ``compare_conditions``' ``score ~ condition + (1 | annotator) + (1 | item)``: it assumes every annotator
and every prompt moves all conditions alike. When they do not (an annotator who favours one method, a prompt on which
one method fails), that model's contrasts are far too precise. Simulated with 30 annotators × 20 prompts × 3
conditions, no true difference, and condition-by-annotator and condition-by-item deviations of SD 0.5 (scores' SD
about 2), its contrast rejected at α = 0.05 in 42% of 300 studies (14% with SD 0.2), this one in 4%
(``tests/analysis/test_paired_contrasts.py`` holds a smaller version of the check).

p-values are adjusted over the K(K − 1)/2 pairs by Holm (default; CIs then Bonferroni's), Benjamini–Hochberg (CIs
unadjusted) or not at all. The global test that no two conditions differ is Bonferroni's on the smallest p (the
Holm-adjusted p of the most significant pair): valid whatever the dependence between the pairs.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

from .conditions import Contrast, _checked
from .mixed import CrossedFit, effect_of, fit_crossed, varies
from .multiplicity import adjust

ADJUSTMENTS = {"holm": "Holm", "bh": "Benjamini–Hochberg", "none": "none"}
FORMULA = "score[c] − score[c'] ~ 1 + (1 | annotator) + (1 | item), for each pair of conditions"


@dataclass(frozen=True)
class PairFit:
    """The model of one pair's differences: how it was fitted, on how many screens."""

    condition: str
    versus: str
    screens: int
    model: str
    singular: bool
    converged: bool
    df_note: str = ""


@dataclass(frozen=True)
class PairedContrasts:
    """All pairwise contrasts of one criterion, each from its own difference model (see the module's docstring)."""

    reference: str
    conditions: tuple[str, ...]  # reference first, as ``compare_conditions`` orders them
    level: float
    adjustment: str
    contrasts: tuple[Contrast, ...]  # later − earlier, as ``compare_conditions``
    fits: tuple[PairFit, ...]
    global_p: float | None  # Bonferroni on the smallest p: no two conditions differ
    formula: str = FORMULA

    @property
    def ci_adjustment(self) -> str:
        """How the CIs are made simultaneous: Bonferroni's under Holm over several pairs, else not at all."""
        return "bonferroni" if self.adjustment == "holm" and len(self.contrasts) > 1 else "none"


def paired_contrasts(
    frame: pd.DataFrame, *, reference: str, level: float = 0.95, adjustment: str = "holm"
) -> PairedContrasts:
    """Every pair of conditions' contrast from a tidy frame (``annotator, item, condition, score``, one row an image
    score), each on the screens that scored both. Bad input raises ValueError naming what is wrong."""
    if adjustment not in ADJUSTMENTS:
        raise ValueError(f"Unknown adjustment {adjustment!r}; choose from {', '.join(ADJUSTMENTS)}.")
    if not 0 < level < 1:
        raise ValueError(f"level must lie between 0 and 1, not {level!r}.")
    conditions, condition, score = _checked(frame, reference)
    annotator = pd.factorize(frame["annotator"])[0]
    item = pd.factorize(frame["item"])[0]
    screens = annotator.astype(np.int64) * (int(item.max()) + 1) + item
    grid = pd.DataFrame({"screen": screens, "condition": condition, "score": score})
    if grid.duplicated(["screen", "condition"]).any():
        first = frame.index[grid.duplicated(["screen", "condition"]).to_numpy()][0]
        raise ValueError(f"An annotator scored the same item's condition twice (first repeat at index {first!r}).")
    wide = grid.pivot(index="screen", columns="condition", values="score")
    codes = wide.index.to_numpy()
    screen_annotator, screen_item = np.divmod(codes, int(item.max()) + 1)
    pairs = [(j, i) for j in range(1, len(conditions)) for i in range(j)]
    effects, fits = [], []
    for j, i in pairs:
        both = wide[j].notna().to_numpy() & wide[i].notna().to_numpy()
        if both.sum() < 3:
            raise ValueError(
                f"Conditions {conditions[j]!r} and {conditions[i]!r} share {int(both.sum())} screen(s); "
                "at least 3 are needed to compare them."
            )
        difference = (wide[j] - wide[i]).to_numpy()[both]
        fit = _fit(difference, screen_annotator[both], screen_item[both], f"{conditions[j]} − {conditions[i]}")
        # every screen gave the same difference: an exact value, no test
        effects.append(_Constant(float(difference[0]), level) if fit is None else effect_of(fit, level=level))
        fits.append(_pair_fit(conditions[j], conditions[i], int(both.sum()), fit))
    p = [effect.p for effect in effects]
    p_adjusted = list(p) if adjustment == "none" else adjust(p, method=adjustment)
    contrasts = tuple(
        _contrast(conditions[j], conditions[i], effect, p_adj, level, len(pairs), adjustment)
        for (j, i), effect, p_adj in zip(pairs, effects, p_adjusted, strict=True)
    )
    tested = [value for value in p if value is not None]
    return PairedContrasts(
        reference=conditions[0],
        conditions=conditions,
        level=level,
        adjustment=adjustment,
        contrasts=contrasts,
        fits=tuple(fits),
        global_p=min(1.0, len(tested) * min(tested)) if tested else None,
    )


@dataclass(frozen=True)
class _Constant:
    estimate: float
    level: float
    se: float = 0.0
    df: float = float("nan")
    t: None = None
    p: None = None

    @property
    def ci(self) -> tuple[float, float]:
        return (self.estimate, self.estimate)


def _fit(difference: np.ndarray, annotator: np.ndarray, item: np.ndarray, name: str) -> CrossedFit | None:
    """Today's model on one pair's differences (codes renumbered from 0); None when they do not vary (beyond rounding
    error)."""
    if not varies(difference):
        return None
    return fit_crossed(y=difference, annotator=pd.factorize(annotator)[0], item=pd.factorize(item)[0], names=(name,))


def _pair_fit(condition: str, versus: str, screens: int, fit: CrossedFit | None) -> PairFit:
    if fit is None:
        return PairFit(condition, versus, screens, "not fitted: every screen gave the same difference", False, True)
    return PairFit(condition, versus, screens, fit.model, fit.singular, fit.converged, fit.df_note)


def _contrast(condition, versus, effect, p_adjusted, level, m, adjustment) -> Contrast:
    """The contrast row; with Holm over several pairs the CI is Bonferroni's (Holm has no interval)."""
    ci = effect.ci
    if effect.t is not None and m > 1 and adjustment == "holm":
        quantile = sps.t.ppf(1 - (1 - level) / (2 * m), effect.df)
        ci = (effect.estimate - quantile * effect.se, effect.estimate + quantile * effect.se)
    return Contrast(
        condition,
        versus,
        float(effect.estimate),
        float(effect.se),
        float(effect.df),
        None if effect.t is None else float(effect.t),
        None if effect.p is None else float(effect.p),
        None if p_adjusted is None else min(float(p_adjusted), 1.0),
        (float(ci[0]), float(ci[1])),
        level,
    )
