"""Every document of ``export_results`` from plain data, without Django or a database.

``render_documents`` takes, per study, its tidy ratings and the settings of its analysis, and returns each file's
name and content. ``analysis.documents`` gathers these inputs from the database; a script or a command-line tool can
build them from files::

    import pandas as pd
    from analysis.rendering import StudyData, render_documents

    ratings = pd.read_csv("ratings.csv")            # study, annotator, item, condition, score, position, seconds
    documents = render_documents([StudyData(slug="sd21_768", ratings=ratings)])
    for name, content in documents.items(): ...     # str for text files, bytes for images

Nothing here imports Django or the apps (``tests/analysis/test_rendering.py`` holds it).
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from .bundle_readme import README
from .condition_units import compare_unit, manifest_entry, summary_entry, unit_documents
from .formats import (
    FILE_NAMES,
    FORMATS,
    manifest_json,
    ratings_csv,
    summaries_json,
)
from .labels import DEFAULT_LABELS, Labels, shared_labels
from .open_data import by_study, data_files, readme, study_ratings
from .pairwise_units import pairwise_documents, pairwise_manifest, pairwise_summary, rank_unit
from .paper_table import paper_rows, paper_table_documents
from .plots import plot_documents
from .protocol_text import PROTOCOL_MARKDOWN, protocol_markdown
from .stats.multiplicity import METHODS
from .stats.quality import ExclusionRules
from .stats.report import StudyReport, adjust_reports, study_report
from .stats.tidy import SCORE_MAX, is_paired
from .tables import latex_documents, summaries_markdown
from .tidy_files import data_kind, is_judgments

#: The formats that need the analysis (all but the ratings CSV).
ANALYSED_FORMATS = ("json", "latex", "markdown", "plots", "manifest", "readme")


@dataclass(frozen=True)
class AnalysisOptions:
    """How a study is analysed: the bootstrap's seed and resamples, the exclusion rules, and whether they are
    applied unless a run says otherwise (``analysis.models.AnalysisSettings`` in the site); for a study of K
    conditions, how its pairwise contrasts are adjusted."""

    seed: int = 0
    bootstrap_resamples: int = 2000
    rules: ExclusionRules = field(default_factory=ExclusionRules)
    apply_exclusions: bool = True
    contrasts: str = "holm"  # a study of K conditions: its contrasts' adjustment (``stats.conditions.ADJUSTMENTS``)


@dataclass(frozen=True)
class StudyData:
    """One study's inputs, or one criterion's of a study of several (an analysis unit, ``slug`` then
    ``<study>.<criterion>``: ``analysis.stats.tidy.unit_name``; the study's files hold all its units' ratings).

    ``ratings``: the tidy ratings, one row per image score, columns ``study, annotator, item, condition, criterion,
    score, position, seconds`` (``ratings_csv``'s; ``criterion`` may be left out). ``attention``: per annotator,
    ``annotator, failures, checks`` of the attention checks (None: none asked). ``protocol``: how the images were
    made and what annotators saw (``analysis.protocol.study_protocol``'s dict; None when unknown), carried into
    ``summary.json`` and ``protocol.json``. ``metric_rows``: FID and CLIP score per reference subset and resolution
    (``analysis.paper_table.METRIC_KEYS``), empty for none. ``labels``: what the figures and tables call the two
    conditions and the score (``analysis.labels.Labels``). ``scale_points``: the top of the scale annotators scored
    on (its criterion's: 5, 7 or 10), the end of the figures' score axis.
    """

    slug: str
    ratings: pd.DataFrame
    options: AnalysisOptions = field(default_factory=AnalysisOptions)
    attention: pd.DataFrame | None = None
    protocol: Mapping | None = None
    metric_rows: Sequence[Mapping] = ()
    labels: Labels = DEFAULT_LABELS
    scale_points: int = SCORE_MAX


def analyse(study: StudyData, *, exclusions: bool | None = None) -> StudyReport:
    """One study's report; ``exclusions`` None follows ``study.options.apply_exclusions``. A study whose ratings
    cannot be analysed is refused with a ValueError naming it."""
    options = study.options
    return study_report(
        study.ratings,
        study=study.slug,
        seed=options.seed,
        rules=options.rules,
        attention=study.attention,
        exclusions=options.apply_exclusions if exclusions is None else exclusions,
        resamples=options.bootstrap_resamples,
    )


def analyse_all(
    studies: Sequence[StudyData], *, adjustment: str = "holm", exclusions: bool | None = None
) -> list[StudyReport]:
    """Each study's report, the mixed-model p adjusted across them by ``adjustment`` (holm or bh)."""
    if adjustment not in METHODS:
        raise ValueError(f"Unknown adjustment {adjustment!r}; choose from {', '.join(METHODS)}.")
    return adjust_reports([analyse(study, exclusions=exclusions) for study in studies], method=adjustment)


def check_formats(formats: Sequence[str]) -> None:
    """Refuse (ValueError) a format that is not one of ``FORMATS``, naming it."""
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise ValueError(f"Unknown format {', '.join(unknown)}; choose from {', '.join(FORMATS)}.")


def render_documents(
    studies: Sequence[StudyData],
    *,
    formats: Sequence[str] = FORMATS,
    adjustment: str = "holm",
    exclusions: bool | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, str | bytes]:
    """Every requested document of ``studies``, by file name: str for text, bytes for images.

    ``formats``: any of ``FORMATS`` (csv, parquet, json, latex, markdown, plots, manifest, codebook, readme).
    ``adjustment``: the p-value adjustment across the studies, holm or bh. ``exclusions``: apply the exclusion
    rules (True), not (False), or as each study's options say (None). ``progress`` is called with the steps done:
    one per study when all are analysed, one per study when its plots are drawn. Bad input (an unknown format or
    adjustment, a study given twice, ratings that cannot be analysed) raises ValueError naming it.
    """
    check_formats(formats)
    slugs = [study.slug for study in studies]
    repeated = sorted({slug for slug in slugs if slugs.count(slug) > 1})
    if repeated:
        raise ValueError(f"Study {', '.join(repr(slug) for slug in repeated)} given more than once.")
    advance = progress or (lambda steps: None)
    analysed = bool(set(formats) & set(ANALYSED_FORMATS))
    # a paired study (baseline and ours) has the study report; a study of other conditions is compared by condition,
    # and one of pairwise judgments gets its Bradley–Terry strengths
    kinds: dict[str, list[StudyData]] = {"paired": [], "conditions": [], "pairwise": []}
    for study in studies:
        kinds[_kind(study.ratings)].append(study)
    studies_paired, units, choosing = kinds["paired"], kinds["conditions"], kinds["pairwise"]
    # The analysis before the ratings' files: its peak memory then does not come on top of theirs.
    reports = analyse_all(studies_paired, adjustment=adjustment, exclusions=exclusions) if analysed else []
    comparisons = [compare_unit(study) for study in units] if analysed else []
    strengths = [rank_unit(study) for study in choosing] if analysed else []
    if analysed:
        advance(len(studies))
    documents: dict[str, str | bytes] = {}
    if "csv" in formats:
        for slug, group in by_study(studies).items():
            frame = study_ratings(group)
            documents[f"{slug}-{data_kind(frame)}.csv"] = ratings_csv(frame)
    documents.update(data_files(studies, formats))  # Parquet, attention checks, codebook
    if not analysed:
        return documents
    protocols = [dict(study.protocol) if study.protocol is not None else None for study in studies_paired]
    labels = [study.labels for study in studies_paired]
    compared = list(zip(units, comparisons, strict=True))
    ranked = list(zip(choosing, strengths, strict=True))
    if "json" in formats:
        entries = [summary_entry(study, comparison, study.labels) for study, comparison in compared]
        ranks = [pairwise_summary(study, result, study.labels) for study, result in ranked]
        documents[FILE_NAMES["json"]] = summaries_json(reports, protocols, labels, conditions=entries, pairwise=ranks)
    if "latex" in formats:
        documents.update(latex_documents(reports, labels))
    if "markdown" in formats:
        documents[FILE_NAMES["markdown"]] = summaries_markdown(reports, labels)
    if "manifest" in formats:
        entries = [manifest_entry(study, comparison, study.labels) for study, comparison in compared]
        entries += [pairwise_manifest(study, result, study.labels) for study, result in ranked]
        documents[FILE_NAMES["manifest"]] = manifest_json(reports, protocols, labels, conditions=entries)
        documents[PROTOCOL_MARKDOWN] = protocol_markdown(documents[FILE_NAMES["manifest"]])
    # FID / CLIP score beside the human-study difference, one row per resolution (when a study has metrics).
    rows = [
        row
        for study, report in zip(studies_paired, reports, strict=True)
        for row in paper_rows(study.metric_rows, report.mixed_model.effect, _resolution(study.protocol))
    ]
    documents.update(paper_table_documents(rows, formats, shared_labels(labels)))
    for study, comparison in compared:  # each unit's tables, and its figures with plots
        documents.update(unit_documents(study, comparison, formats, study.labels))
    for study, result in ranked:
        documents.update(pairwise_documents(study, result, formats, study.labels))
    if "plots" in formats:
        for study, report, own in zip(studies_paired, reports, labels, strict=True):
            # each plot at both widths as PDF, SVG and PNG
            documents.update(plot_documents(report, own, scale_points=study.scale_points))
            advance(1)
        if units or choosing:
            advance(len(units) + len(choosing))
    if "readme" in formats:
        documents[README] = readme(studies, documents, adjustment=adjustment, exclusions=exclusions)
    return documents


def _kind(ratings: pd.DataFrame) -> str:
    """How a unit is analysed: ``pairwise`` judgments, a ``paired`` study (baseline and ours), or by ``conditions``."""
    if is_judgments(ratings):
        return "pairwise"
    return "paired" if is_paired(ratings["condition"].unique()) else "conditions"


def _resolution(protocol: Mapping | None) -> tuple[int, int] | None:
    """The width and height the study was generated (and rated) at, from its protocol."""
    if not protocol or protocol.get("width") is None or protocol.get("height") is None:
        return None
    return int(protocol["width"]), int(protocol["height"])
