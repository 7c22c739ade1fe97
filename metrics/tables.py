"""The paper table: per study and resolution, FID and CLIP score for both arms beside the human-study difference.

``analysis`` passes each study's human-study effect in (anything with ``estimate``, ``ci`` and ``p``); this module
reads only its own results and never imports ``analysis``. The difference appears on the row of the resolution the
human study was generated at.
"""

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

from annotations.models import Study
from evalsite.latex import latex_escape

from .models import Arm, Metric, MetricResult

HEADER = (
    "Study",
    "Reference",
    "Resolution",
    "Images",
    "FID baseline",
    "FID ours",
    "CLIP baseline",
    "CLIP ours",
    "Human ours − baseline [95% CI]",
    "p (human)",
)
FILE_NAMES = {"markdown": "paper-table.md", "latex": "paper-table.tex", "json": "paper-table.json"}


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


def paper_rows(study: Study, effect=None) -> list[PaperRow]:
    """One row per reference subset and resolution with results; ``effect`` goes on the study's own resolution."""
    rows: dict[tuple, PaperRow] = {}
    results = MetricResult.objects.filter(run__study=study).select_related("run__reference")
    for result in results.order_by("run__reference__name", "width", "height"):
        key = (result.run.reference.name, result.width, result.height)
        row = rows.get(key)
        if row is None:
            row = rows[key] = PaperRow(
                study=study.slug,
                reference=key[0],
                width=result.width,
                height=result.height,
                images=0,
                reference_images=0,
                failed=0,
                feature_network="",
            )
        row.images = max(row.images, result.images)
        row.failed = max(row.failed, result.failed)
        if result.metric == Metric.FID:
            row.reference_images = result.reference_images
            row.feature_network = result.feature_network
        metric = "fid" if result.metric == Metric.FID else "clip"
        column = f"{metric}_{'ours' if result.arm == Arm.OURS else 'baseline'}"
        setattr(row, column, result.value)
    for row in rows.values():
        if effect is not None and (row.width, row.height) == (study.width, study.height):
            row.human_estimate = _finite(effect.estimate)
            low, high = effect.ci
            row.human_ci = (_finite(low), _finite(high)) if _finite(low) is not None else None
            row.human_p = _finite(effect.p)
    return list(rows.values())


def _number(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _signed(value: float | None) -> str:
    return "–" if value is None else f"{value:+.2f}".replace("-", "−")


def _p(value: float | None) -> str:
    if value is None:
        return "–"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def _count(n: int) -> str:
    return f"{n // 1000}K" if n >= 1000 and n % 1000 == 0 else str(n)


def row_cells(row: PaperRow) -> list[str]:
    human = "–"
    if row.human_estimate is not None:
        ci = f" [{_signed(row.human_ci[0])}, {_signed(row.human_ci[1])}]" if row.human_ci else ""
        human = _signed(row.human_estimate) + ci
    return [
        row.study,
        row.reference,
        f"{row.width}×{row.height}",
        _count(row.images),
        _number(row.fid_baseline),
        _number(row.fid_ours),
        _number(row.clip_baseline),
        _number(row.clip_ours),
        human,
        _p(row.human_p),
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


def markdown(rows: Sequence[PaperRow]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(row_cells(row)) + " |" for row in rows]
    return "\n".join(lines + [""] + notes(rows)) + "\n"


def _latex_cell(text: str) -> str:
    return latex_escape(text).replace("×", r"$\times$").replace("−", "$-$").replace("< ", "$<$ ").replace("–", "--")


def latex(rows: Sequence[PaperRow]) -> str:
    return "\n".join(
        [
            r"\begin{tabular}{lll" + "r" * (len(HEADER) - 3) + "}",
            r"\toprule",
            " & ".join(_latex_cell(name) for name in HEADER) + r" \\",
            r"\midrule",
            *(" & ".join(_latex_cell(cell) for cell in row_cells(row)) + r" \\" for row in rows),
            r"\bottomrule",
            r"\end{tabular}",
            *("% " + _latex_cell(note) for note in notes(rows)),
            "",
        ]
    )


def as_json(rows: Sequence[PaperRow]) -> str:
    return (
        json.dumps(
            {"header": HEADER, "rows": [asdict(row) for row in rows], "notes": notes(rows)},
            indent=2,
            ensure_ascii=False,
        )
        + "\n"
    )


def paper_table_documents(studies: Sequence[Study], effects: Mapping[str, object], formats: Sequence[str]) -> dict:
    """``paper-table.{md,tex,json}`` for the requested formats; nothing when no study has metric results."""
    rows = [row for study in studies for row in paper_rows(study, effects.get(study.slug))]
    if not rows:
        return {}
    writers = {"markdown": markdown, "latex": latex, "json": as_json}
    return {FILE_NAMES[fmt]: writer(rows) for fmt, writer in writers.items() if fmt in formats}


def results_section(study: Study, effect=None) -> dict:
    """The context of ``metrics/results_section.html`` for the staff results page."""
    rows = paper_rows(study, effect)
    return {"header": HEADER, "rows": [row_cells(row) for row in rows], "notes": notes(rows) if rows else []}
