"""Reads of stored studies for the analysis: studies by slug, their analysis settings and exclusion rules, the tidy
ratings frame, the attention-check table, all of it as ``analysis.rendering``'s plain ``StudyData``, a study's
report computed from them, and its results bundles."""

import hashlib
import json
from collections import Counter
from collections.abc import Mapping, Sequence

import pandas as pd
from django.core.exceptions import ValidationError
from django.db.models import Count, Max
from django.forms.models import model_to_dict

from annotations.models import CheckResponse, Criterion, Rating, Study
from annotations.selectors import (
    JUDGMENT_COLUMNS,
    TIDY_COLUMNS,
    attention_check_results,
    judgment_rows,
    tidy_rows,
)
from metrics.models import MetricResult
from metrics.selectors import metric_rows

from .formats import unit_protocol
from .labels import Labels, labels_with
from .models import AnalysisSettings, ResultsBundle
from .protocol import study_protocol
from .rendering import AnalysisOptions, StudyData, analyse_all
from .stats.quality import ExclusionRules
from .stats.report import StudyReport
from .stats.tidy import unit_name


def find_studies(slugs: Sequence[str]) -> list[Study]:
    """The studies in the order given; a slug given twice is refused (it would count twice in the adjustment)."""
    repeated = [slug for slug, count in Counter(slugs).items() if count > 1]
    if repeated:
        raise ValidationError(f"Study {', '.join(repr(slug) for slug in repeated)} given more than once.")
    studies = {study.slug: study for study in Study.objects.filter(slug__in=slugs)}
    missing = [slug for slug in slugs if slug not in studies]
    if missing:
        raise ValidationError(f"No study with slug {', '.join(repr(slug) for slug in missing)}.")
    return [studies[slug] for slug in slugs]


def settings_for(study: Study) -> AnalysisSettings:
    """The study's analysis settings, or the defaults (unsaved) when it has none."""
    return AnalysisSettings.objects.filter(study=study).first() or AnalysisSettings(study=study)


def rules_from(settings: AnalysisSettings) -> ExclusionRules:
    return ExclusionRules(
        min_seconds_per_item=settings.min_seconds_per_item,
        exclude_straightliners=settings.exclude_straightliners,
        max_attention_failures=settings.max_attention_failures,
    )


def ratings_frame(*, study: Study, criterion: str | None = None) -> pd.DataFrame:
    """The tidy ratings on a criterion (its key; None: the study's first), one row per image rating: columns
    ``TIDY_COLUMNS``; score is an integer, seconds a float (NaN when unknown). A pairwise study's are its tidy
    judgments instead, one row per choice (``JUDGMENT_COLUMNS``)."""
    key = criterion or criterion_or_first(study, None).key
    if study.task == Study.Task.PAIRWISE:
        frame = pd.DataFrame.from_records(
            list(judgment_rows(study=study, criterion=key)), columns=list(JUDGMENT_COLUMNS)
        )
        frame["seconds"] = frame["seconds"].astype("float64")
        return frame
    rows = tidy_rows(study=study, criterion=key)
    frame = pd.DataFrame.from_records(list(rows), columns=list(TIDY_COLUMNS))
    frame["score"] = frame["score"].astype("int64")
    frame["seconds"] = frame["seconds"].astype("float64")
    return frame


def attention_table(study: Study) -> pd.DataFrame:
    """Per annotator: failed and answered attention checks (empty when the study has none)."""
    results = attention_check_results(study=study)
    return pd.DataFrame(
        [{"annotator": label, "failures": failed, "checks": answered} for label, (failed, answered) in results.items()],
        columns=["annotator", "failures", "checks"],
    )


def analysis_options(settings: AnalysisSettings) -> AnalysisOptions:
    """The plain analysis options of a study's settings."""
    return AnalysisOptions(
        seed=settings.seed,
        bootstrap_resamples=settings.bootstrap_resamples,
        rules=rules_from(settings),
        apply_exclusions=settings.apply_exclusions_by_default,
    )


def criteria_of(study: Study) -> list[Criterion]:
    """The study's criteria in order: its analysis has a unit for each (``analysis_units``)."""
    return list(study.criteria.order_by("position"))


def analysis_units(study: Study) -> list[tuple[str, Criterion]]:
    """What the study's analysis reports on, in order: the study, when it has one criterion; else each criterion,
    named ``<slug>.<key>`` (``analysis.stats.tidy.unit_name``)."""
    criteria = criteria_of(study)
    several = len(criteria) > 1
    return [(unit_name(study.slug, criterion.key, several=several), criterion) for criterion in criteria]


def criterion_or_first(study: Study, key: str | None) -> Criterion:
    """The study's criterion ``key`` (None: its first); a ValidationError names a key the study lacks."""
    criteria = criteria_of(study)
    if key is None:
        return criteria[0]
    for criterion in criteria:
        if criterion.key == key:
            return criterion
    keys = ", ".join(criterion.key for criterion in criteria)
    raise ValidationError(f"Study {study.slug!r} has no criterion {key!r}; it has {keys}.")


def study_labels(study: Study, texts: Mapping[str, str] | None = None, *, criterion: Criterion | None = None) -> Labels:
    """What the study's results call its two conditions (their names, by the data's keys ``baseline`` and ``ours``)
    and its scores (the name of ``criterion``, else of the study's first), ``texts`` (name → text, e.g. from
    ``--label``) put over them; a bad one is refused with a ValidationError naming it."""
    names = dict(study.conditions.values_list("key", "name"))
    criterion = criterion or criterion_or_first(study, None)
    own = Labels(baseline=names["baseline"], ours=names["ours"], question=criterion.label)
    try:
        return labels_with(own, texts or {})
    except ValueError as exc:
        raise ValidationError(f"Study {study.slug!r}: {exc}") from exc


def study_data(
    study: Study,
    *,
    criterion: Criterion | None = None,
    frame: pd.DataFrame | None = None,
    documents: bool = False,
    labels: Mapping[str, str] | None = None,
) -> StudyData:
    """What ``analysis.rendering`` needs of a stored study's ratings on ``criterion`` (None: its first): the
    ratings (``frame`` when read already), analysis options, attention checks, labels (``labels`` over its own) and
    scale; with ``documents``, also its protocol and metric rows (the first criterion's unit carries these: the
    paper table has a row per resolution, not per criterion)."""
    settings = settings_for(study)
    units = analysis_units(study)
    criterion = criterion or units[0][1]
    (name,) = [name for name, own in units if own.pk == criterion.pk]
    first = criterion.pk == units[0][1].pk
    return StudyData(
        slug=name,
        ratings=ratings_frame(study=study, criterion=criterion.key) if frame is None else frame,
        options=analysis_options(settings),
        attention=attention_table(study),
        protocol=unit_protocol(study_protocol(study=study), name) if documents else None,
        metric_rows=metric_rows(study) if documents and first else (),
        labels=study_labels(study, labels, criterion=criterion),
        scale_points=criterion.scale_points,
    )


def report_for(
    study: Study,
    *,
    criterion: Criterion | None = None,
    frame: pd.DataFrame | None = None,
    exclusions: bool | None = None,
) -> StudyReport:
    """The report of one study's ratings on ``criterion`` (None: its first) with its settings; ``exclusions`` None
    follows the study's default. Its adjusted p is the one a document of this study alone shows (Holm over one
    study: its own p)."""
    try:
        (report,) = analyse_all([study_data(study, criterion=criterion, frame=frame)], exclusions=exclusions)
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc
    return report


def bundle_fingerprint(study: Study) -> str:
    """A hash of everything a study's results bundle is made from: its ratings and attention-check answers (how
    many, the newest), its analysis settings, its protocol (texts, generation settings, counts) and its metric
    results. A bundle whose fingerprint differs from the study's is out of date."""
    answers = {"assignment__annotator__study": study, "assignment__annotator__is_pilot": False}  # pilots count nowhere
    ratings = Rating.objects.filter(**answers).aggregate(n=Count("pk"), last=Max("pk"))
    checks = CheckResponse.objects.filter(**answers).aggregate(n=Count("pk"), last=Max("pk"))
    metrics = MetricResult.objects.filter(run__study=study).aggregate(n=Count("pk"), last=Max("computed_at"))
    settings = model_to_dict(settings_for(study), exclude=["id", "study"])
    inputs = [ratings, checks, metrics, settings, study_protocol(study=study)]
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()


def latest_bundle(study: Study) -> ResultsBundle | None:
    """The study's most recently requested results bundle, whatever its state, or None."""
    return ResultsBundle.objects.filter(study=study).first()
