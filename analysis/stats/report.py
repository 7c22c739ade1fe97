"""The full analysis of one study — a tidy DataFrame in, a frozen ``StudyReport`` out — and the adjustment of
p-values across several studies."""

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

from .agreement import Agreement, agreement
from .bootstrap import BootstrapCI, two_way_bootstrap
from .descriptives import Descriptives, describe
from .judgments import Judgments, paired_judgments
from .mixed import CrossedGroups, Effect, effect_of, fit_crossed, varies
from .multiplicity import METHODS, adjust
from .position import PositionCheck, position_bias
from .quality import AnnotatorQuality, ExclusionReport, ExclusionRules, apply_exclusions
from .robustness import SignTest, UnitAnalysis, analyse_units, sign_test

SCHEMA = "evalsite.results/1"


@dataclass(frozen=True)
class Counts:
    annotators: int
    items: int
    ratings: int  # judgments: one per (annotator, item), each scoring both images
    scores: int  # image scores: two per rating


@dataclass(frozen=True)
class MixedModel:
    """The primary analysis: ours − baseline per judgment ~ 1 + (1 | annotator) + (1 | item)."""

    effect: Effect
    variance: dict[str, float]  # by-annotator and by-item variation in the effect, and residual
    model: str
    simplified: tuple[str, ...]
    method: str
    converged: bool
    singular: bool = False  # a variance component estimated at the boundary 0 (lme4's isSingular)
    deviance: float | None = None  # REML criterion at the optimum (lme4's REMLcrit)
    convergence: str = ""  # how the optimum was found, and what failed if it did
    formula: str = "ours − baseline ~ 1 + (1 | annotator) + (1 | item)"
    df_note: str = ""  # why the df (and so p and CI) are only approximate, when they are


@dataclass(frozen=True)
class EffectSizes:
    raw_difference: float  # mixed-model estimate, score points on the 1–10 scale
    d_z: float | None
    d_z_unit: str
    d_z_annotators: float | None
    rank_biserial: float | None
    rank_biserial_unit: str


@dataclass(frozen=True)
class UnitDifference:
    """One item's (or annotator's) mean difference with a t interval over its judgments."""

    label: str
    n: int
    mean: float
    ci: tuple[float | None, float | None]


@dataclass(frozen=True)
class StudyReport:
    study: str
    seed: int
    level: float
    exclusions_applied: bool
    counts: Counts
    descriptives: Descriptives
    mixed_model: MixedModel
    by_item: UnitAnalysis
    by_annotator: UnitAnalysis
    sign_test: SignTest
    bootstrap: BootstrapCI
    effect_sizes: EffectSizes
    position: PositionCheck
    agreement: Agreement
    exclusions: ExclusionReport
    annotator_quality: tuple[AnnotatorQuality, ...]
    item_differences: tuple[UnitDifference, ...]
    annotator_differences: tuple[UnitDifference, ...]
    score_counts: dict[str, tuple[int, ...]]  # per condition, how many scores of 1..10
    p_adjusted: float | None = None
    adjustment: str = "holm"

    def as_dict(self, *, detail: bool = False) -> dict:
        """JSON-ready, with the documented keys (docs/results.md); ``detail`` adds per-item and per-annotator rows."""
        data = to_jsonable(self)
        if not detail:
            for key in ("annotator_quality", "item_differences", "annotator_differences"):
                data.pop(key)
            data["flagged_annotators"] = [
                to_jsonable(record)
                for record in self.annotator_quality
                if record.failed_attention or record.straightliner or record.too_fast
            ]
        return data


def to_jsonable(value):
    """Dataclasses, tuples, numpy scalars and NaN to plain JSON values (NaN and inf become None)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: to_jsonable(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [to_jsonable(item) for item in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def unit_differences(judgments: Judgments, *, unit: str, level: float = 0.95) -> tuple[UnitDifference, ...]:
    """Per item (or annotator): mean difference and a t interval over its judgments (none with one judgment)."""
    codes, labels = (
        (judgments.item, judgments.item_labels) if unit == "item" else (judgments.annotator, judgments.annotator_labels)
    )
    d = judgments.difference
    n = np.bincount(codes, minlength=labels.size).astype(float)
    mean = np.bincount(codes, weights=d, minlength=labels.size) / n
    squares = np.bincount(codes, weights=d * d, minlength=labels.size)
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.sqrt(np.maximum(squares - n * mean**2, 0) / (n - 1))
        half = sps.t.ppf(0.5 + level / 2, np.maximum(n - 1, 1)) * sd / np.sqrt(n)
    rows = []
    for code in range(labels.size):
        ci = (float(mean[code] - half[code]), float(mean[code] + half[code])) if n[code] > 1 else (None, None)
        rows.append(UnitDifference(str(labels[code]), int(n[code]), float(mean[code]), ci))
    return tuple(rows)


def _score_counts(judgments: Judgments) -> dict[str, tuple[int, ...]]:
    return {
        condition: tuple(int(c) for c in np.bincount(np.clip(scores.astype(int), 1, 10), minlength=11)[1:])
        for condition, scores in (("baseline", judgments.baseline), ("ours", judgments.ours))
    }


def mixed_model(judgments: Judgments, *, groups: CrossedGroups | None = None, level: float = 0.95) -> MixedModel:
    """The primary test; refuses (ValueError) when the differences do not vary at all."""
    fit = fit_crossed(
        y=judgments.difference,
        annotator=judgments.annotator,
        item=judgments.item,
        names=("ours − baseline",),
        groups=groups,
    )
    variance = {**fit.variance, "residual": fit.residual}
    return MixedModel(
        effect_of(fit, level=level),
        variance,
        fit.model,
        fit.simplified,
        f"{fit.method}; {fit.df_method} df",
        fit.converged,
        fit.singular,
        fit.deviance,
        fit.convergence,
        df_note=fit.df_note,
    )


def _constant_model(judgments: Judgments, level: float) -> MixedModel:
    value = float(judgments.difference.mean())  # one value, up to rounding error
    effect = Effect(value, 0.0, (value, value), math.nan, "none", None, None, level)
    return MixedModel(
        effect,
        {"annotator": 0.0, "item": 0.0, "residual": 0.0},
        "not fitted: every judgment has the same difference",
        ("no variation in the differences",),
        "none",
        True,
    )


DEFAULT_RULES = ExclusionRules()


def study_report(
    frame: pd.DataFrame,
    *,
    study: str,
    seed: int = 0,
    rules: ExclusionRules = DEFAULT_RULES,
    attention: pd.DataFrame | None = None,
    exclusions: bool = True,
    resamples: int = 2000,
    level: float = 0.95,
) -> StudyReport:
    """Every statistic of one study from its tidy ratings; randomness (bootstraps) from ``seed``.

    ``exclusions`` False flags annotators by ``rules`` but keeps them all (the analysis without exclusions).
    """
    try:
        all_judgments = paired_judgments(frame)
    except ValueError as exc:
        raise ValueError(f"Study {study!r}: {exc}") from exc
    judgments, removed, quality = apply_exclusions(all_judgments, rules=rules, attention=attention, apply=exclusions)
    groups = CrossedGroups(annotator=judgments.annotator, item=judgments.item) if judgments.n > 1 else None
    d = judgments.difference
    model = mixed_model(judgments, groups=groups, level=level) if varies(d) else _constant_model(judgments, level)
    by_item = analyse_units(judgments, unit="item", level=level)
    by_annotator = analyse_units(judgments, unit="annotator", level=level)
    return StudyReport(
        study=study,
        seed=seed,
        level=level,
        exclusions_applied=exclusions,
        counts=Counts(judgments.n_annotators, judgments.n_items, judgments.n, 2 * judgments.n),
        descriptives=describe(judgments, groups=groups, level=level),
        mixed_model=model,
        by_item=by_item,
        by_annotator=by_annotator,
        sign_test=sign_test(judgments),
        bootstrap=two_way_bootstrap(judgments, seed=seed, resamples=resamples, level=level),
        effect_sizes=EffectSizes(
            raw_difference=model.effect.estimate,
            d_z=by_item.d_z,
            d_z_unit="per-item mean differences",
            d_z_annotators=by_annotator.d_z,
            rank_biserial=by_item.rank_biserial,
            rank_biserial_unit="per-item mean differences",
        ),
        position=position_bias(judgments, groups=groups, level=level),
        agreement=agreement(judgments, seed=seed + 1, resamples=resamples, level=level),
        exclusions=removed,
        annotator_quality=tuple(quality),
        item_differences=unit_differences(judgments, unit="item", level=level),
        annotator_differences=unit_differences(judgments, unit="annotator", level=level),
        score_counts=_score_counts(judgments),
    )


def adjust_reports(reports: Sequence[StudyReport], *, method: str = "holm") -> list[StudyReport]:
    """The reports with ``p_adjusted``: the mixed-model p adjusted across them (Holm, or "bh")."""
    if method not in METHODS:
        raise ValueError(f"Unknown adjustment {method!r}; choose from {', '.join(METHODS)}.")
    adjusted = adjust([report.mixed_model.effect.p for report in reports], method=method)
    return [
        dataclasses.replace(report, p_adjusted=p, adjustment=method)
        for report, p in zip(reports, adjusted, strict=True)
    ]
