"""Annotator quality: failed attention checks, straight-lining and too-fast answers; exclusion rules and what
each removed.

Rules are applied in a fixed order — attention checks, straight-lining, speed — and each step counts only the
annotators (and their ratings) that no earlier rule removed, so the steps add up to the total.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .judgments import Judgments, subset

ATTENTION_COLUMNS = ("annotator", "failures", "checks")


@dataclass(frozen=True)
class ExclusionRules:
    """Study settings; ``None`` switches a rule off."""

    min_seconds_per_item: float | None = None  # median seconds per item below this: too fast
    exclude_straightliners: bool = True  # one score for every image they rated
    max_attention_failures: int | None = None  # more failed attention checks than this: excluded

    def describe(self) -> dict[str, str]:
        return {
            "attention": "off"
            if self.max_attention_failures is None
            else f"more than {self.max_attention_failures} failed attention check(s)",
            "straight-lining": "one score for every image" if self.exclude_straightliners else "off",
            "speed": "off"
            if self.min_seconds_per_item is None
            else f"median under {self.min_seconds_per_item:g} s per item",
        }


@dataclass(frozen=True)
class AnnotatorQuality:
    annotator: str
    ratings: int
    median_seconds: float | None
    distinct_scores: int
    attention_failures: int | None
    attention_checks: int | None
    failed_attention: bool
    straightliner: bool
    too_fast: bool
    excluded_by: str | None  # the first rule that removed this annotator, when rules are applied


@dataclass(frozen=True)
class ExclusionStep:
    rule: str
    description: str
    annotators: int
    ratings: int


@dataclass(frozen=True)
class ExclusionReport:
    rules: dict[str, str]
    steps: tuple[ExclusionStep, ...]
    annotators_before: int
    ratings_before: int
    annotators_removed: int
    ratings_removed: int
    excluded: tuple[str, ...]


def annotator_quality(
    judgments: Judgments, *, rules: ExclusionRules, attention: pd.DataFrame | None = None
) -> list[AnnotatorQuality]:
    """One record per annotator (label order); ``attention``: columns annotator, failures, checks (optional)."""
    A = judgments.n_annotators
    codes = judgments.annotator
    ratings = np.bincount(codes, minlength=A)
    scores = np.concatenate([judgments.baseline, judgments.ours])
    owners = np.concatenate([codes, codes])
    distinct = pd.Series(scores).groupby(owners).nunique().reindex(range(A), fill_value=0).to_numpy()
    medians = pd.Series(judgments.seconds).groupby(codes).median().reindex(range(A)).to_numpy()
    checks: dict[str, tuple[int, int]] = {}
    if attention is not None and not attention.empty:
        missing = [c for c in ATTENTION_COLUMNS if c not in attention.columns]
        if missing:
            raise ValueError(f"The attention-check table lacks {', '.join(missing)}.")
        for row in attention.itertuples(index=False):
            checks[str(row.annotator)] = (int(row.failures), int(row.checks))
    records = []
    for code in range(A):
        label = str(judgments.annotator_labels[code])
        failures, total = checks.get(label, (None, None))
        median = float(medians[code]) if np.isfinite(medians[code]) else None
        failed = (
            rules.max_attention_failures is not None
            and failures is not None
            and (failures > rules.max_attention_failures)
        )
        straight = bool(ratings[code] > 1 and distinct[code] == 1)
        fast = rules.min_seconds_per_item is not None and median is not None and median < rules.min_seconds_per_item
        records.append(
            AnnotatorQuality(
                label,
                int(ratings[code]),
                median,
                int(distinct[code]),
                failures,
                total,
                bool(failed),
                straight,
                bool(fast),
                None,
            )
        )
    return records


def screen_quality(frame: pd.DataFrame, *, rules: ExclusionRules) -> list[AnnotatorQuality]:
    """``annotator_quality``'s flags without attention checks, for screens of any number of images: ``frame`` holds
    one row per image (columns annotator, item, score, seconds: each screen's seconds on each of its rows). A
    screen is one rating; straight-lining is one score for every image, over more than one screen; speed is the
    median seconds per screen."""
    records = []
    for label, rows in frame.groupby("annotator", sort=True):
        screens = rows.groupby("item", sort=False)["seconds"].first()
        seconds = screens.dropna()
        median = float(seconds.median()) if len(seconds) else None
        distinct = int(rows["score"].nunique())
        fast = rules.min_seconds_per_item is not None and median is not None and median < rules.min_seconds_per_item
        straight = len(screens) > 1 and distinct == 1
        records.append(
            AnnotatorQuality(str(label), len(screens), median, distinct, None, None, False, straight, fast, None)
        )
    return records


RULE_ORDER = (("attention", "failed_attention"), ("straight-lining", "straightliner"), ("speed", "too_fast"))


def apply_exclusions(
    judgments: Judgments, *, rules: ExclusionRules, attention: pd.DataFrame | None = None, apply: bool = True
) -> tuple[Judgments, ExclusionReport, list[AnnotatorQuality]]:
    """The kept judgments, what each rule removed, and every annotator's flags (``apply=False``: flag only)."""
    quality = annotator_quality(judgments, rules=rules, attention=attention)
    removed_by: dict[int, str] = {}
    steps = []
    for rule, flag in RULE_ORDER:
        active = {
            "attention": rules.max_attention_failures is not None,
            "straight-lining": rules.exclude_straightliners,
            "speed": rules.min_seconds_per_item is not None,
        }[rule]
        newly = [
            code
            for code, record in enumerate(quality)
            if active and apply and getattr(record, flag) and code not in removed_by
        ]
        for code in newly:
            removed_by[code] = rule
        steps.append(
            ExclusionStep(rule, rules.describe()[rule], len(newly), int(sum(quality[code].ratings for code in newly)))
        )
    quality = [
        AnnotatorQuality(**{**record.__dict__, "excluded_by": removed_by.get(code)})
        for code, record in enumerate(quality)
    ]
    keep = ~np.isin(judgments.annotator, list(removed_by))
    report = ExclusionReport(
        rules=rules.describe(),
        steps=tuple(steps),
        annotators_before=judgments.n_annotators,
        ratings_before=judgments.n,
        annotators_removed=len(removed_by),
        ratings_removed=int(judgments.n - keep.sum()),
        excluded=tuple(quality[code].annotator for code in sorted(removed_by)),
    )
    if not keep.any():
        raise ValueError("The exclusion rules removed every annotator.")
    return (subset(judgments, keep) if removed_by else judgments), report, quality
