"""Rating studies with K ≥ 2 conditions, one criterion at a time: a tidy frame of image scores in, one frozen
``ConditionComparison`` out.

Each annotator scores each of the K images of a prompt (one per condition, one condition the reference). The model
is ``score ~ condition + (1 | annotator) + (1 | item)``, REML, with treatment coding (the intercept is the
reference's mean, each other coefficient its difference to the reference), fitted by ``fit_crossed``. From the fit,
as R's lmerTest and emmeans compute them (``tests/analysis/reference/conditions.R`` holds the check):

- the omnibus F test that all K − 1 condition coefficients are 0, with lmerTest's Satterthwaite denominator df
  (``anova(fit)``, ``contest(fit, L)``);
- the estimated mean of each condition (emmeans' ``emmeans(fit, ~ condition)``) with SE, Satterthwaite df and CI;
- all K(K − 1)/2 pairwise differences, later level minus earlier (emmeans' ``revpairwise``, so a contrast with the
  reference reads "condition − reference"), each with its own Satterthwaite df, t test and CI. p is adjusted over
  the family by Holm (default; the CI is then Bonferroni's, as emmeans does, Holm having no interval), by Tukey's
  studentized range (emmeans' ``adjust = "tukey"``: each contrast's p and CI use the range distribution of K means
  with that contrast's own df), or not at all ("none");
- descriptive mean, SD and n per condition.

The levels are ordered reference first, then the other conditions in the order of a categorical column's
categories, or sorted. For two conditions the study report's difference model (``report.py``) stays the primary
analysis; this one is additional.
"""

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

from .mixed import CrossedFit, FTest, contrast, f_test, fit_crossed
from .multiplicity import adjust

COLUMNS = ("annotator", "item", "condition", "score")
ADJUSTMENTS = {"holm": "Holm", "tukey": "Tukey", "none": "none"}
#: How the pairwise CIs are made simultaneous under each adjustment (emmeans' choices).
CI_ADJUSTMENTS = {"holm": "bonferroni", "tukey": "tukey", "none": "none"}
FORMULA = "score ~ condition + (1 | annotator) + (1 | item)"


@dataclass(frozen=True)
class ConditionDescriptives:
    condition: str
    n: int
    mean: float
    sd: float  # NaN with one score


@dataclass(frozen=True)
class ConditionMean:
    """A condition's model-estimated mean score (β₀, or β₀ + β_k), emmeans-style."""

    condition: str
    estimate: float
    se: float
    df: float
    ci: tuple[float, float]
    level: float


@dataclass(frozen=True)
class Contrast:
    """``condition`` − ``versus`` with its t test; ``p_adjusted`` and ``ci`` carry the family's adjustment."""

    condition: str
    versus: str
    estimate: float
    se: float
    df: float
    t: float | None
    p: float | None  # unadjusted
    p_adjusted: float | None
    ci: tuple[float, float]
    level: float

    @property
    def label(self) -> str:
        return f"{self.condition} − {self.versus}"


@dataclass(frozen=True)
class ConditionComparison:
    """Everything about one criterion of a K-condition rating study (see the module's docstring)."""

    reference: str
    conditions: tuple[str, ...]  # the levels: reference first
    level: float
    adjustment: str  # "holm", "tukey" or "none": the pairwise p-values
    ci_adjustment: str  # "bonferroni", "tukey" or "none": the pairwise CIs
    fit: CrossedFit
    omnibus: FTest
    means: tuple[ConditionMean, ...]
    contrasts: tuple[Contrast, ...]
    descriptives: tuple[ConditionDescriptives, ...]
    counts: dict[str, int]  # annotators, items, scores
    formula: str = FORMULA

    def contrast(self, condition: str, versus: str) -> Contrast:
        """The contrast ``condition − versus`` (either order; the other is the stored one with its sign flipped)."""
        for row in self.contrasts:
            if (row.condition, row.versus) == (condition, versus):
                return row
            if (row.condition, row.versus) == (versus, condition):
                return Contrast(
                    condition,
                    versus,
                    -row.estimate,
                    row.se,
                    row.df,
                    None if row.t is None else -row.t,
                    row.p,
                    row.p_adjusted,
                    (-row.ci[1], -row.ci[0]),
                    row.level,
                )
        raise KeyError(
            f"No contrast of {condition!r} with {versus!r}; the conditions are {', '.join(self.conditions)}."
        )

    def mean(self, condition: str) -> ConditionMean:
        for row in self.means:
            if row.condition == condition:
                return row
        raise KeyError(f"No condition {condition!r}; the conditions are {', '.join(self.conditions)}.")

    def as_dict(self) -> dict:
        """JSON-ready (NaN and inf become None); the fit's df ingredients are left out."""
        from .report import to_jsonable  # report imports much more; only this needs it

        data = to_jsonable(self)
        for key in ("vcov_gradient", "varpar_covariance"):
            data["fit"].pop(key, None)
        for row, contrast_row in zip(data["contrasts"], self.contrasts, strict=True):
            row["label"] = contrast_row.label
        return data

    def summary(self) -> str:
        """A plain-text account: the omnibus test, the means and the pairwise contrasts."""
        percent = f"{100 * self.level:g}%"
        test = self.omnibus
        p = "n/a" if test.p is None else f"{test.p:.3g}"
        lines = [
            f"{self.formula}; {self.fit.method}, Satterthwaite df; reference {self.reference!r}",
            f"{self.counts['scores']} scores, {self.counts['annotators']} annotators, {self.counts['items']} items",
            f"Omnibus: F({test.numerator_df}, {test.denominator_df:.1f}) = {test.F:.3f}, p = {p}",
            "",
            f"{'condition':<20}{'mean':>9}{'SE':>9}{'df':>12}  {percent} CI",
        ]
        for row in self.means:
            ci = f"[{row.ci[0]:.3f}, {row.ci[1]:.3f}]"
            lines.append(f"{row.condition:<20}{row.estimate:>9.3f}{row.se:>9.3f}{row.df:>12.1f}  {ci}")
        lines += ["", f"{'contrast':<28}{'estimate':>9}{'SE':>9}{'df':>12}{'t':>9}{'p':>10}{'p adj.':>10}"]
        for row in self.contrasts:
            t = "" if row.t is None else f"{row.t:.2f}"
            p_raw = "" if row.p is None else f"{row.p:.3g}"
            p_adj = "" if row.p_adjusted is None else f"{row.p_adjusted:.3g}"
            lines.append(
                f"{row.label:<28}{row.estimate:>9.3f}{row.se:>9.3f}{row.df:>12.1f}{t:>9}{p_raw:>10}{p_adj:>10}"
            )
        lines.append(f"p adjusted by {ADJUSTMENTS[self.adjustment]}; CIs: {self.ci_adjustment}")
        return "\n".join(lines)


def compare_conditions(
    frame: pd.DataFrame, *, reference: str, level: float = 0.95, adjustment: str = "holm"
) -> ConditionComparison:
    """The K-condition analysis of one criterion from a tidy frame (``annotator, item, condition, score``, one row
    an image score; other columns are ignored). Bad input raises ValueError naming what is wrong."""
    if adjustment not in ADJUSTMENTS:
        raise ValueError(f"Unknown adjustment {adjustment!r}; choose from {', '.join(ADJUSTMENTS)}.")
    if not 0 < level < 1:
        raise ValueError(f"level must lie between 0 and 1, not {level!r}.")
    conditions, condition, score = _checked(frame, reference)
    k = len(conditions)
    annotator = pd.factorize(frame["annotator"])[0]
    item = pd.factorize(frame["item"])[0]
    X = np.zeros((score.size, k))
    X[:, 0] = 1.0
    others = condition > 0
    X[np.flatnonzero(others), condition[others]] = 1.0
    names = ("(Intercept)", *(f"condition[T.{name}]" for name in conditions[1:]))
    fit = fit_crossed(y=score, annotator=annotator, item=item, X=X, names=names)
    omnibus = f_test(fit, np.eye(k)[1:])
    weights = np.eye(k)
    weights[1:, 0] = 1.0  # mean of level j: β₀ + β_j
    means = tuple(_mean(fit, conditions[j], weights[j], level) for j in range(k))
    pairs = [(j, i) for j in range(1, k) for i in range(j)]  # later − earlier, in emmeans' revpairwise order
    contrasts = _contrasts(fit, conditions, weights, pairs, level, adjustment)
    return ConditionComparison(
        reference=conditions[0],
        conditions=conditions,
        level=level,
        adjustment=adjustment,
        ci_adjustment=CI_ADJUSTMENTS[adjustment] if len(pairs) > 1 else "none",
        fit=fit,
        omnibus=omnibus,
        means=means,
        contrasts=contrasts,
        descriptives=_descriptives(conditions, condition, score),
        counts={"annotators": int(annotator.max()) + 1, "items": int(item.max()) + 1, "scores": int(score.size)},
    )


def _checked(frame: pd.DataFrame, reference) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """The levels (reference first), each row's level code and the scores; or a ValueError naming the problem."""
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"Expected a pandas DataFrame with columns {', '.join(COLUMNS)}.")
    missing = [column for column in COLUMNS if column not in frame.columns]
    if missing:
        raise ValueError(f"Missing column(s): {', '.join(missing)} (needed: {', '.join(COLUMNS)}).")
    if len(frame) == 0:
        raise ValueError("No scores: the frame is empty.")
    for column in ("annotator", "item", "condition"):
        blank = frame[column].isna().to_numpy()
        if blank.any():
            raise ValueError(f"{int(blank.sum())} row(s) have no {column} (first at index {frame.index[blank][0]!r}).")
    try:
        score = frame["score"].to_numpy(dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"Column score must be numeric: {exc}") from None
    bad = ~np.isfinite(score)
    if bad.any():
        raise ValueError(
            f"{int(bad.sum())} score(s) are missing or not finite (first at index {frame.index[bad][0]!r}); "
            "drop unscored images before the analysis."
        )
    column = frame["condition"]
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy()
        labels = [str(c) for c in column.cat.categories]
        empty = [labels[j] for j in np.flatnonzero(np.bincount(codes, minlength=len(labels)) == 0)]
        if empty:
            raise ValueError(f"Condition(s) with no scores: {', '.join(empty)}.")
    else:  # factorised as they are (fast), then sorted by name
        codes, uniques = pd.factorize(column)
        names = [str(c) for c in uniques]
        sorted_order = sorted(range(len(names)), key=names.__getitem__)
        rank = np.empty(len(names), dtype=np.int64)
        rank[sorted_order] = np.arange(len(names))
        codes, labels = rank[codes], [names[j] for j in sorted_order]
    if len(set(labels)) != len(labels):
        raise ValueError("Two conditions have the same name once written as text.")
    if len(labels) < 2:
        raise ValueError(f"At least two conditions are needed; the frame has only {', '.join(labels)}.")
    reference = str(reference)
    if reference not in labels:
        raise ValueError(f"Unknown reference condition {reference!r}; the conditions are {', '.join(labels)}.")
    first = labels.index(reference)
    order = [first] + [j for j in range(len(labels)) if j != first]
    position = np.empty(len(labels), dtype=np.int64)
    position[order] = np.arange(len(labels))
    return tuple(labels[j] for j in order), position[codes], score


def _mean(fit: CrossedFit, name: str, weights: np.ndarray, level: float) -> ConditionMean:
    effect = contrast(fit, weights, level=level)
    return ConditionMean(name, effect.estimate, effect.se, effect.df, _floats(effect.ci), level)


def _contrasts(fit, conditions, weights, pairs, level, adjustment) -> tuple[Contrast, ...]:
    effects = [contrast(fit, weights[j] - weights[i], level=level) for j, i in pairs]
    p = [effect.p for effect in effects]
    m, k = len(pairs), len(conditions)
    if adjustment == "holm":
        p_adjusted = adjust(p, method="holm")
    elif adjustment == "tukey":
        p_adjusted = [None if e.t is None else _tukey_p(e.t, e.df, k, e.p, m) for e in effects]
    else:
        p_adjusted = list(p)
    rows = []
    for (j, i), effect, p_adj in zip(pairs, effects, p_adjusted, strict=True):
        ci = effect.ci
        if effect.t is not None and m > 1 and adjustment != "none":
            if adjustment == "holm":  # Bonferroni's interval
                quantile = sps.t.ppf(1 - (1 - level) / (2 * m), effect.df)
            else:
                quantile = sps.studentized_range.ppf(level, k, effect.df) / math.sqrt(2)
            ci = (effect.estimate - quantile * effect.se, effect.estimate + quantile * effect.se)
        if p_adj is not None:
            p_adj = min(p_adj, 1.0)
        rows.append(
            Contrast(
                conditions[j],
                conditions[i],
                effect.estimate,
                effect.se,
                effect.df,
                effect.t,
                effect.p,
                p_adj,
                _floats(ci),
                level,
            )
        )
    return tuple(rows)


def _tukey_p(t: float, df: float, k: int, p: float, m: int) -> float:
    """P(range of k means > √2·|t|) with ``df``, which lies between the contrast's own p and Bonferroni's m·p (the
    range exceeds the bound when this one difference does, and only when one of the m does). Held to those bounds:
    in the far tail the integration's absolute error (about 1e-12; R's ``ptukey``: about 4e-8) swamps the value."""
    return min(max(float(sps.studentized_range.sf(math.sqrt(2) * abs(t), k, df)), p), m * p)


def _floats(pair) -> tuple[float, float]:
    return float(pair[0]), float(pair[1])


def _descriptives(conditions, condition: np.ndarray, score: np.ndarray) -> tuple[ConditionDescriptives, ...]:
    k = len(conditions)
    n = np.bincount(condition, minlength=k).astype(float)
    mean = np.bincount(condition, weights=score, minlength=k) / n
    centred = score - mean[condition]
    squares = np.bincount(condition, weights=centred * centred, minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.where(n > 1, np.sqrt(squares / (n - 1)), math.nan)
    return tuple(ConditionDescriptives(conditions[j], int(n[j]), float(mean[j]), float(sd[j])) for j in range(k))
