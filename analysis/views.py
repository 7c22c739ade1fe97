"""Staff-only results pages: the paper table, the plots, the analysis details and the protocol; they need the
permission to export a study (403 without) and show only studies the user may see (404 for another's)."""

import re

from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.utils.safestring import mark_safe

from annotations import access
from metrics.tables import results_section

from .formats import table_cells, table_header
from .plots import figure_bytes, study_plots
from .protocol import study_protocol
from .selectors import report_for, settings_for
from .stats.report import to_jsonable

_XML_PROLOGUE = re.compile(r"^.*?(?=<svg)", re.S)


def _inline_svg(figure) -> str:
    return _XML_PROLOGUE.sub("", figure_bytes(figure, "svg").decode("utf-8"), count=1)


@staff_member_required
def results(request, slug: str):
    study = access.staff_study(request.user, slug, access.EXPORT_STUDY)
    settings = settings_for(study)
    choice = request.GET.get("exclusions")
    exclusions = {"on": True, "off": False}.get(choice, settings.apply_exclusions_by_default)
    try:
        report = report_for(study, exclusions=exclusions)
    except ValidationError as exc:
        return render(
            request,
            "analysis/results.html",
            {"study": study, "error": " ".join(exc.messages), "metrics_section": results_section(study)},
            status=200,
        )
    plots = {name: mark_safe(_inline_svg(figure)) for name, figure in study_plots(report).items()}
    return render(
        request,
        "analysis/results.html",
        {
            "study": study,
            "report": report,
            "data": to_jsonable(report),
            "header": table_header(report.adjustment),
            "cells": table_cells(report),
            "plots": plots,
            "protocol": study_protocol(study=study),
            "metrics_section": results_section(study, report.mixed_model.effect),
            "exclusions": exclusions,
            "flagged": [q for q in report.annotator_quality if q.failed_attention or q.straightliner or q.too_fast],
        },
    )
