"""Staff-only results pages: the paper table, the plots, the analysis details and the protocol, and the results
panel's bundle (build, progress, downloads); they need the permission to export a study (403 without) and show only
studies the user may see (404 for another's)."""

import re
import zipfile

from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_POST

from annotations import access
from metrics.selectors import metric_rows

from . import bundles
from .condition_plots import condition_figures
from .condition_tables import condition_tables
from .condition_units import compare_unit
from .labels import DEFAULT_LABELS, Labels
from .models import ResultsBundle
from .pairwise_plots import pairwise_figures
from .pairwise_tables import pairwise_tables
from .pairwise_units import rank_unit
from .paper_table import paper_rows, results_section
from .plots import figure_bytes, study_plots
from .protocol import study_protocol
from .selectors import (
    bundle_fingerprint,
    criteria_of,
    criterion_or_first,
    latest_bundle,
    report_for,
    settings_for,
    study_data,
    study_labels,
)
from .stats.report import to_jsonable
from .stats.tidy import is_paired
from .tables import COLUMNS, table_cells, table_header

_XML_PROLOGUE = re.compile(r"^.*?(?=<svg)", re.S)
#: The media type of each kind of file a bundle holds.
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "tex": "text/x-tex; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
    "png": "image/png",
    "pdf": "application/pdf",
    "svg": "image/svg+xml",
}


def _inline_svg(figure) -> str:
    return _XML_PROLOGUE.sub("", figure_bytes(figure, "svg").decode("utf-8"), count=1)


def _metrics_section(study, effect=None, labels: Labels = DEFAULT_LABELS) -> dict:
    """The paper table's metric rows of the study, ``effect`` on the row of the resolution it was rated at."""
    return results_section(paper_rows(metric_rows(study), effect, (study.width, study.height)), labels)


def _bundle_state(study, bundle: ResultsBundle | None) -> dict:
    """What the results panel shows of the study's newest bundle (also the bundle status view's JSON)."""
    if bundle is None:
        return {"status": "none", "stale": False}
    state = {
        "status": bundle.status,
        "status_display": bundle.get_status_display(),
        "step": bundle.step,
        "steps": bundle.steps,
        "ratings": bundle.ratings,
        "error": bundle.error,
        "stale": bundle.status == ResultsBundle.Status.DONE and bundle.fingerprint != bundle_fingerprint(study),
        "finished_at": bundle.finished_at.isoformat() if bundle.finished_at else None,
    }
    if bundle.status == ResultsBundle.Status.DONE:
        state["zip"] = {
            "name": f"{study.slug}-results.zip",
            "size": bundle.size,
            "size_text": filesizeformat(bundle.size),
            "url": reverse("analysis:bundle_zip", args=[study.slug, bundle.pk]),
        }
        state["files"] = [
            {
                "name": name,
                "size": size,
                "size_text": filesizeformat(size),
                "url": reverse("analysis:bundle_file", args=[study.slug, bundle.pk, name]),
            }
            for name, size in bundle.files
        ]
    return state


@staff_member_required
def results(request, slug: str):
    study = access.staff_study(request.user, slug, access.EXPORT_STUDY)
    settings = settings_for(study)
    choice = request.GET.get("exclusions")
    exclusions = {"on": True, "off": False}.get(choice, settings.apply_exclusions_by_default)
    criteria = criteria_of(study)
    if not is_paired(study.conditions.values_list("key", flat=True)):
        return _condition_results(request, study, criteria)
    try:
        criterion = criterion_or_first(study, request.GET.get("criterion"))
        report = report_for(study, criterion=criterion, exclusions=exclusions)
        labels = study_labels(study, criterion=criterion)
    except ValidationError as exc:
        return render(
            request,
            "analysis/results.html",
            {"study": study, "error": " ".join(exc.messages), "metrics_section": _metrics_section(study)},
            status=200,
        )
    figures = study_plots(report, labels, scale_points=criterion.scale_points)
    plots = {name: mark_safe(_inline_svg(figure)) for name, figure in figures.items()}
    header, cells = table_header(report.adjustment, labels), table_cells(report)
    row = dict(zip(COLUMNS, cells, strict=True))
    headline = [
        (f"{labels.difference} [95% CI]", row["difference"]),
        ("p (mixed model)", row["p"]),
        ("win / tie / loss %", row["shares"]),
        (
            "annotators · items · ratings",
            f"{report.counts.annotators} · {report.counts.items} · {report.counts.ratings}",
        ),
    ]
    return render(
        request,
        "analysis/results.html",
        {
            "study": study,
            "report": report,
            "data": to_jsonable(report),
            "header": header,
            "cells": cells,
            "headline": headline,
            "bundle": _bundle_state(study, latest_bundle(study)),
            "plots": plots,
            "protocol": study_protocol(study=study),
            "metrics_section": _metrics_section(study, report.mixed_model.effect, labels),
            "exclusions": exclusions,
            "criteria": criteria if len(criteria) > 1 else [],
            "exclusions_choice": choice if choice in ("on", "off") else "",
            "criterion": criterion,
            "flagged": [q for q in report.annotator_quality if q.failed_attention or q.straightliner or q.too_fast],
        },
    )


def _condition_results(request: HttpRequest, study, criteria) -> HttpResponse:
    """The results page of a study of conditions other than the paired two, on one criterion, with the downloads
    and the protocol: the comparison of every condition with the reference (``condition_units.compare_unit``: its
    means, contrasts and omnibus test), or for a pairwise study the conditions' ranking (``pairwise_units.rank_unit``:
    the leaderboard, the win rates and each pair's test), as tables and figures."""
    pairwise = study.task == study.Task.PAIRWISE
    context = {"study": study, "criteria": criteria if len(criteria) > 1 else [], "pairwise": pairwise}
    context |= {"bundle": _bundle_state(study, latest_bundle(study)), "protocol": study_protocol(study=study)}
    try:
        criterion = criterion_or_first(study, request.GET.get("criterion"))
        data = study_data(study, criterion=criterion)
        if pairwise:  # Bradley–Terry strengths, win rates, the pairs' tests
            result = rank_unit(data)
            tables, figures = pairwise_tables(result, criterion.label), pairwise_figures(result, criterion.label)
        else:  # the mixed model with condition as a factor: means, contrasts, omnibus test
            result = compare_unit(data)
            tables, figures = condition_tables(result, criterion.label), condition_figures(result, criterion.label)
    except (ValidationError, ValueError) as exc:
        message = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        return render(request, "analysis/condition_results.html", {**context, "error": message})
    context |= {
        "criterion": criterion,
        "result": result,
        "tables": tables,
        "plots": {name.replace("-", "_"): mark_safe(_inline_svg(figure)) for name, figure in figures.items()},
    }
    return render(request, "analysis/condition_results.html", context)


@staff_member_required
@require_POST
def build_bundle(request: HttpRequest, slug: str) -> HttpResponse:
    """Ask for the study's results bundle (built now for a small study, else queued), then back to the panel."""
    study = access.staff_study(request.user, slug, access.EXPORT_STUDY)
    bundles.request_bundle(study=study)
    return redirect(reverse("analysis:results", args=[study.slug]) + "#results-panel")


@staff_member_required
@require_GET
def bundle_status(request: HttpRequest, slug: str) -> JsonResponse:
    """The newest bundle's state as JSON, which the results panel polls while it is built."""
    study = access.staff_study(request.user, slug, access.EXPORT_STUDY)
    response = JsonResponse(_bundle_state(study, latest_bundle(study)))
    response["Cache-Control"] = "no-store"
    return response


def _done_bundle(request: HttpRequest, slug: str, bundle_id: int) -> tuple[object, ResultsBundle]:
    study = access.staff_study(request.user, slug, access.EXPORT_STUDY)
    bundle = get_object_or_404(ResultsBundle, pk=bundle_id, study=study, status=ResultsBundle.Status.DONE)
    return study, bundle


@staff_member_required
@require_GET
def bundle_zip(request: HttpRequest, slug: str, bundle_id: int) -> FileResponse:
    """The whole bundle, ``<study>-results.zip``."""
    study, bundle = _done_bundle(request, slug, bundle_id)
    try:
        handle = default_storage.open(bundle.name, "rb")
    except FileNotFoundError:
        raise Http404("This bundle's file is gone; build the bundle again.") from None
    return FileResponse(
        handle, as_attachment=True, filename=f"{study.slug}-results.zip", content_type="application/zip"
    )


@staff_member_required
@require_GET
def bundle_file(request: HttpRequest, slug: str, bundle_id: int, name: str) -> HttpResponse:
    """One file of the bundle, as it is in the zip."""
    _, bundle = _done_bundle(request, slug, bundle_id)
    if name not in {file_name for file_name, _ in bundle.files}:
        raise Http404("No such file in this bundle.")
    try:
        with default_storage.open(bundle.name, "rb") as handle, zipfile.ZipFile(handle) as archive:
            data = archive.read(name)
    except FileNotFoundError:
        raise Http404("This bundle's file is gone; build the bundle again.") from None
    content_type = CONTENT_TYPES.get(name.rsplit(".", 1)[-1], "application/octet-stream")
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=name)
    return response
