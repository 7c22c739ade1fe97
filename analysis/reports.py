"""Export of results: the functions behind ``manage.py export_results``, ``plan_study`` and the results page."""
import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from django.core.exceptions import ValidationError

from annotations.models import Study
from annotations.selectors import attention_check_results
from metrics.tables import paper_table_documents

from .exports import (
    FILE_NAMES,
    FORMATS,
    manifest_json,
    ratings_csv,
    summaries_json,
    summaries_latex,
    summaries_markdown,
)
from .judgments import paired_judgments
from .models import AnalysisSettings
from .multiplicity import METHODS
from .plots import figure_bytes, study_plots
from .power import Components, PowerPlan, plan
from .protocol import study_protocol
from .quality import ExclusionRules, apply_exclusions
from .report import StudyReport, adjust_reports, mixed_model, study_report
from .tidy import ratings_frame


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


def attention_table(study: Study) -> pd.DataFrame:
    """Per annotator: failed and answered attention checks (empty when the study has none)."""
    results = attention_check_results(study=study)
    return pd.DataFrame(
        [{"annotator": label, "failures": failed, "checks": answered} for label, (failed, answered) in results.items()],
        columns=["annotator", "failures", "checks"],
    )


def report_for(study: Study, *, frame: pd.DataFrame | None = None, exclusions: bool | None = None) -> StudyReport:
    """One study's report with its settings; ``exclusions`` None follows the study's default."""
    settings = settings_for(study)
    frame = ratings_frame(study=study) if frame is None else frame
    apply = settings.apply_exclusions_by_default if exclusions is None else exclusions
    try:
        return study_report(frame, study=study.slug, seed=settings.seed, rules=rules_from(settings),
                            attention=attention_table(study), exclusions=apply,
                            resamples=settings.bootstrap_resamples)
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc


def study_reports(studies: Sequence[Study], *, frames=None, adjustment: str = "holm",
                  exclusions: bool | None = None) -> list[StudyReport]:
    if adjustment not in METHODS:
        raise ValidationError(f"Unknown adjustment {adjustment!r}; choose from {', '.join(METHODS)}.")
    frames = frames or {}
    reports = [report_for(study, frame=frames.get(study.slug), exclusions=exclusions) for study in studies]
    return adjust_reports(reports, method=adjustment)


def render_results(
    *, slugs: Sequence[str], formats: Sequence[str], adjustment: str = "holm", exclusions: bool | None = None
) -> dict[str, str | bytes]:
    """Every requested document, by file name, computed in full before anything is written."""
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise ValidationError(f"Unknown format {', '.join(unknown)}; choose from {', '.join(FORMATS)}.")
    studies = find_studies(slugs)
    frames = {study.slug: ratings_frame(study=study) for study in studies}
    documents: dict[str, str | bytes] = {}
    if "csv" in formats:
        for slug, frame in frames.items():
            documents[f"{slug}-ratings.csv"] = ratings_csv(frame)
    if set(formats) & {"json", "latex", "markdown", "plots", "manifest"}:
        reports = study_reports(studies, frames=frames, adjustment=adjustment, exclusions=exclusions)
        protocols = [study_protocol(study=study) for study in studies]
        if "json" in formats:
            documents[FILE_NAMES["json"]] = summaries_json(reports, protocols)
        if "latex" in formats:
            documents[FILE_NAMES["latex"]] = summaries_latex(reports)
        if "markdown" in formats:
            documents[FILE_NAMES["markdown"]] = summaries_markdown(reports)
        if "manifest" in formats:
            documents[FILE_NAMES["manifest"]] = manifest_json(reports, protocols)
        # FID / CLIP score beside the human-study difference, one row per resolution (when a study has metrics).
        documents.update(paper_table_documents(studies, {r.study: r.mixed_model.effect for r in reports}, formats))
        if "plots" in formats:
            for report in reports:
                for name, figure in study_plots(report).items():
                    for fmt in ("png", "svg"):
                        documents[f"{report.study}-{name}.{fmt}"] = figure_bytes(figure, fmt)
    return documents


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}.part")


def write_documents(documents: dict[str, str | bytes], out_dir: Path) -> list[Path]:
    """Write each document under ``out_dir`` (created if needed), each file replaced whole, all or none.

    Every document goes to a temporary ``.<name>.part`` beside its file first; only when all of them are written
    are they renamed into place. A name taken by a folder is refused before anything is written; on any OSError
    the temporary files (and the folders made here, when left empty) are removed and a ValidationError names the
    file.
    """
    targets = [(out_dir / name, content) for name, content in documents.items()]
    for path, _ in targets:
        if path.exists() and not path.is_file():
            raise ValidationError(f"Cannot write {path}: a folder (or another non-file) of that name is in the way.")
    created = [folder for folder in (out_dir, *out_dir.parents) if not folder.exists()]  # deepest first
    temps: list[Path] = []  # the temporary files made so far (a failed write may leave part of one)
    written: list[Path] = []
    current = out_dir
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for path, content in targets:
            current, temp = path, _temporary(path)
            try:
                if isinstance(content, bytes):
                    temp.write_bytes(content)
                else:
                    temp.write_text(content, encoding="utf-8")
            finally:
                if temp.is_file():
                    temps.append(temp)
        for path, _ in targets:
            current = path
            _temporary(path).replace(path)
            written.append(path)
    except OSError as exc:
        for temp in temps[len(written):]:
            try:
                temp.unlink(missing_ok=True)
            except OSError:
                pass
        for folder in created:
            try:
                folder.rmdir()
            except OSError:
                break
        done = (f"{len(written)} of {len(targets)} files were replaced before it" if written
                else "nothing was written")
        raise ValidationError(f"Could not write {current}: {exc.strerror or exc}; {done}.") from exc
    return written


def check_plan_arguments(*, effect: float, annotators: int | None, items: int | None, alpha: float, target: float,
                         max_annotators: int, max_items: int) -> None:
    """Refuse ``plan_study`` arguments out of range, naming the flag (NaN fails every check)."""
    if not math.isfinite(effect):
        raise ValidationError(f"--effect must be a finite number of score points; got {effect}.")
    if not 0 < alpha < 1:
        raise ValidationError(f"--alpha must be between 0 and 1 (exclusive); got {alpha}.")
    if not 0 < target < 1:
        raise ValidationError(f"--power must be between 0 and 1 (exclusive); got {target}.")
    for flag, value in (("--annotators", annotators), ("--items", items),
                        ("--max-annotators", max_annotators), ("--max-items", max_items)):
        if value is not None and value < 2:
            raise ValidationError(f"{flag} must be at least 2; got {value}.")


def plan_from_pilot(
    *, slug: str, effect: float, annotators: int | None = None, items: int | None = None, alpha: float = 0.05,
    target: float = 0.8, max_annotators: int = 1000, max_items: int = 1000,
) -> tuple[PowerPlan, dict]:
    """A power plan from a pilot study's variance components (its exclusion rules applied by default).

    ``annotators`` and ``items`` None take the pilot's. Arguments out of range are refused, each error naming the
    ``plan_study`` flag, before the pilot is read.
    """
    check_plan_arguments(effect=effect, annotators=annotators, items=items, alpha=alpha, target=target,
                         max_annotators=max_annotators, max_items=max_items)
    (study,) = find_studies([slug])
    frame = ratings_frame(study=study)
    if frame.empty:
        raise ValidationError(f"Study {slug!r} has no ratings.")
    settings = settings_for(study)
    try:
        judgments = paired_judgments(frame)
        judgments, _, _ = apply_exclusions(judgments, rules=rules_from(settings), attention=attention_table(study),
                                           apply=settings.apply_exclusions_by_default)
        model = mixed_model(judgments)
    except ValueError as exc:
        raise ValidationError(f"Study {slug!r}: {exc}") from exc
    variance = model.variance
    components = Components(variance["annotator"], variance["item"], variance["residual"])
    try:
        result = plan(effect=effect, components=components,
                      annotators=judgments.n_annotators if annotators is None else annotators,
                      items=judgments.n_items if items is None else items, alpha=alpha, target=target,
                      max_annotators=max_annotators, max_items=max_items)
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc
    return result, {"pilot_annotators": judgments.n_annotators, "pilot_items": judgments.n_items,
                          "pilot_estimate": model.effect.estimate, "model": model.model}
