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

from annotations.models import CheckResponse, Rating, Study
from annotations.selectors import TIDY_COLUMNS, attention_check_results, scale_points, tidy_rows
from metrics.models import MetricResult
from metrics.selectors import metric_rows

from .labels import Labels, labels_with
from .models import AnalysisSettings, ResultsBundle
from .protocol import study_protocol
from .rendering import AnalysisOptions, StudyData, analyse_all
from .stats.quality import ExclusionRules
from .stats.report import StudyReport


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


def ratings_frame(*, study: Study) -> pd.DataFrame:
    """The tidy ratings, one row per image rating: columns ``TIDY_COLUMNS``; score is an integer, seconds a float
    (NaN when unknown)."""
    frame = pd.DataFrame.from_records(list(tidy_rows(study=study)), columns=list(TIDY_COLUMNS))
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


def study_labels(study: Study, texts: Mapping[str, str] | None = None) -> Labels:
    """What the study's results call its two conditions (their names, by the data's keys ``baseline`` and ``ours``)
    and its scores (its criterion's name), ``texts`` (name → text, e.g. from ``--label``) put over them; a bad one
    is refused with a ValidationError naming it."""
    names = dict(study.conditions.values_list("key", "name"))
    criterion = study.criteria.order_by("position").values_list("label", flat=True).first()
    own = Labels(baseline=names["baseline"], ours=names["ours"], question=criterion)
    try:
        return labels_with(own, texts or {})
    except ValueError as exc:
        raise ValidationError(f"Study {study.slug!r}: {exc}") from exc


def study_data(
    study: Study,
    *,
    frame: pd.DataFrame | None = None,
    documents: bool = False,
    labels: Mapping[str, str] | None = None,
) -> StudyData:
    """What ``analysis.rendering`` needs of a stored study: its ratings (``frame`` when read already), analysis
    options, attention checks and labels (``labels`` over its own); with ``documents``, also its protocol and
    metric rows."""
    settings = settings_for(study)
    return StudyData(
        slug=study.slug,
        ratings=ratings_frame(study=study) if frame is None else frame,
        options=analysis_options(settings),
        attention=attention_table(study),
        protocol=study_protocol(study=study) if documents else None,
        metric_rows=metric_rows(study) if documents else (),
        labels=study_labels(study, labels),
        scale_points=scale_points(study_id=study.pk),
    )


def report_for(study: Study, *, frame: pd.DataFrame | None = None, exclusions: bool | None = None) -> StudyReport:
    """One study's report with its settings; ``exclusions`` None follows the study's default. Its adjusted p is
    the one a document of this study alone shows (Holm over one study: its own p)."""
    try:
        (report,) = analyse_all([study_data(study, frame=frame)], exclusions=exclusions)
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
