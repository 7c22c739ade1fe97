"""The paper table: per study and resolution, FID and CLIP score for both arms beside the human-study difference.

Plain data in, text out (no Django): the metric rows come from ``metrics.selectors.metric_rows`` (or a file), one
dict per reference subset and resolution; the human-study effect (anything with ``estimate``, ``ci`` and ``p``) goes
on the row of the resolution the study was rated at.
"""

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

from . import numbers
from .labels import DEFAULT_LABELS, Labels
from .tables import latex_text


def header(labels: Labels = DEFAULT_LABELS) -> tuple[str, ...]:
    """The column names, the conditions named by ``labels``."""
    return (
        "Study",
        "Reference",
        "Resolution",
        "Images",
        f"FID {labels.baseline}",
        f"FID {labels.ours}",
        f"CLIP {labels.baseline}",
        f"CLIP {labels.ours}",
        f"Human {labels.difference} [95% CI]",
        "p (human)",
    )


FILE_NAMES = {"markdown": "paper-table.md", "latex": "paper-table.tex", "json": "paper-table.json"}
#: The keys of a metric row, as ``metrics.selectors.metric_rows`` gives them.
METRIC_KEYS = (
    "study",
    "reference",
    "width",
    "height",
    "images",
    "reference_images",
    "failed",
    "feature_network",
    "fid_baseline",
    "fid_ours",
    "clip_baseline",
    "clip_ours",
)


@dataclass
class PaperRow:
    study: str
    reference: str
    width: int
    height: int
    images: int
    reference_images: int
    failed: int
    feature_network: str
    fid_baseline: float | None = None
    fid_ours: float | None = None
    clip_baseline: float | None = None
    clip_ours: float | None = None
    human_estimate: float | None = None
    human_ci: tuple[float, float] | None = None
    human_p: float | None = None


def _finite(value) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def paper_rows(
    metric_rows: Sequence[Mapping], effect=None, resolution: tuple[int, int] | None = None
) -> list[PaperRow]:
    """The rows of ``metric_rows`` (each with the ``METRIC_KEYS``), ``effect`` on the row at ``resolution`` (the
    study's width and height). A row missing a key or with an unknown one is refused, naming it."""
    rows = []
    for number, metric in enumerate(metric_rows, start=1):
        missing = [key for key in METRIC_KEYS[:8] if key not in metric]
        unknown = sorted(set(metric) - set(METRIC_KEYS))
        if missing or unknown:
            problem = f"missing {', '.join(missing)}" if missing else f"unknown key {', '.join(unknown)}"
            raise ValueError(f"Metric row {number}: {problem}; a row has {', '.join(METRIC_KEYS)}.")
        row = PaperRow(**metric)
        if effect is not None and resolution is not None and (row.width, row.height) == tuple(resolution):
            row.human_estimate = _finite(effect.estimate)
            low, high = effect.ci
            row.human_ci = (_finite(low), _finite(high)) if _finite(low) is not None else None
            row.human_p = _finite(effect.p)
        rows.append(row)
    return rows


def row_cells(row: PaperRow) -> list[str]:
    human = numbers.MISSING
    if row.human_estimate is not None:
        ci = f" {numbers.interval(*row.human_ci)}" if row.human_ci else ""
        human = numbers.signed(row.human_estimate) + ci
    return [
        row.study,
        row.reference,
        f"{row.width}×{row.height}",
        numbers.count(row.images),
        numbers.number(row.fid_baseline),
        numbers.number(row.fid_ours),
        numbers.number(row.clip_baseline),
        numbers.number(row.clip_ours),
        human,
        numbers.p_value(row.human_p),
    ]


def notes(rows: Sequence[PaperRow]) -> list[str]:
    lines = [
        "FID against the reference subset's images (lower is better); CLIP score: 100 · cos(image, caption), "
        "mean over images (higher is better). Human: the study's mixed-model difference, on the row of the "
        "resolution it was rated at."
    ]
    networks = sorted(
        {row.feature_network for row in rows if row.feature_network and row.feature_network != "inception"}
    )
    if networks:
        lines.append(f"FID features from {', '.join(networks)}, not Inception-v3: not comparable with published FID.")
    for row in rows:
        if row.failed:
            lines.append(
                f"{row.study} {row.width}×{row.height}: {row.failed} pair(s) failed to generate and are left out."
            )
    return lines


def markdown(rows: Sequence[PaperRow], labels: Labels = DEFAULT_LABELS) -> str:
    names = header(labels)
    lines = ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]
    lines += ["| " + " | ".join(row_cells(row)) + " |" for row in rows]
    return "\n".join(lines + [""] + notes(rows)) + "\n"


def latex(rows: Sequence[PaperRow], labels: Labels = DEFAULT_LABELS) -> str:
    """A ``table*`` (booktabs), the notes as its caption."""
    names = header(labels)
    return "\n".join(
        [
            r"% EvalSite paper table; the preamble needs \usepackage{booktabs,graphicx}.",
            r"\begin{table*}[tb]",
            r"\centering",
            r"\footnotesize",
            r"\setlength{\tabcolsep}{3pt}",
            r"\resizebox{\ifdim\width>\textwidth\textwidth\else\width\fi}{!}{%",
            r"\begin{tabular}{@{}lll" + "r" * (len(names) - 3) + "@{}}",
            r"\toprule",
            " & ".join(latex_text(name) for name in names) + r" \\",
            r"\midrule",
            *(" & ".join(latex_text(cell) for cell in row_cells(row)) + r" \\" for row in rows),
            r"\bottomrule",
            r"\end{tabular}}",
            r"\caption{" + " ".join(latex_text(note) for note in notes(rows)) + "}",
            r"\label{tab:paper}",
            r"\end{table*}",
            "",
        ]
    )


def as_json(rows: Sequence[PaperRow], labels: Labels = DEFAULT_LABELS) -> str:
    return (
        json.dumps(
            {
                "header": header(labels),
                "rows": [asdict(row) for row in rows],
                "cells": [row_cells(row) for row in rows],
                "notes": notes(rows),
            },
            indent=2,
            ensure_ascii=False,
        )
        + "\n"
    )


def paper_table_documents(
    rows: Sequence[PaperRow], formats: Sequence[str], labels: Labels = DEFAULT_LABELS
) -> dict[str, str]:
    """``paper-table.{md,tex,json}`` for the requested formats; nothing when there are no rows."""
    if not rows:
        return {}
    writers = {"markdown": markdown, "latex": latex, "json": as_json}
    return {FILE_NAMES[fmt]: writer(rows, labels) for fmt, writer in writers.items() if fmt in formats}


def results_section(rows: Sequence[PaperRow], labels: Labels = DEFAULT_LABELS) -> dict:
    """The context of ``metrics/results_section.html`` for the staff results page."""
    return {"header": header(labels), "rows": [row_cells(row) for row in rows], "notes": notes(rows) if rows else []}
