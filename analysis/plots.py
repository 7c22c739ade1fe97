"""Result plots with matplotlib's object API (no pyplot state): score distributions per condition, a forest
plot of per-item differences, and per-annotator differences; each as PNG and SVG."""

import io
import math

import numpy as np
from matplotlib import rc_context
from matplotlib.figure import Figure

from .stats.report import StudyReport, UnitDifference

COLOURS = {"baseline": "#8c8c8c", "ours": "#2856d6"}
PLOTS = ("scores", "items", "annotators")
SVG_HASH_SALT = "evalsite"  # matplotlib's default (None) salts SVG ids at random: exports would differ run to run


def score_distributions(report: StudyReport) -> Figure:
    figure = Figure(figsize=(6.0, 3.2), layout="constrained")
    axes = figure.add_subplot()
    scores = np.arange(1, 11)
    for offset, condition in ((-0.2, "baseline"), (0.2, "ours")):
        counts = np.array(report.score_counts[condition], dtype=float)
        share = counts / max(counts.sum(), 1)
        stats = getattr(report.descriptives, condition)
        axes.bar(
            scores + offset, share, width=0.4, color=COLOURS[condition], label=f"{condition} (mean {stats.mean:.2f})"
        )
    axes.set_xticks(scores)
    axes.set_xlabel("score")
    axes.set_ylabel("share of scores")
    axes.set_title(f"{report.study}: score distributions")
    axes.legend(frameon=False)
    return figure


def _dot_plot(rows: tuple[UnitDifference, ...], *, estimate: float, ci, title: str, unit: str) -> Figure:
    ordered = sorted(rows, key=lambda row: row.mean)
    height = min(max(2.5, 0.18 * len(ordered) + 1.2), 40.0)
    figure = Figure(figsize=(6.0, height), layout="constrained")
    axes = figure.add_subplot()
    positions = np.arange(len(ordered))
    means = np.array([row.mean for row in ordered])
    low = np.array([row.ci[0] if row.ci[0] is not None else row.mean for row in ordered])
    high = np.array([row.ci[1] if row.ci[1] is not None else row.mean for row in ordered])
    axes.errorbar(
        means,
        positions,
        xerr=[means - low, high - means],
        fmt="o",
        markersize=3,
        color="#1c1f26",
        ecolor="#9aa3b2",
        elinewidth=1,
        capsize=0,
    )
    axes.axvline(0.0, color="#5d6472", linewidth=0.8)
    axes.axvline(estimate, color=COLOURS["ours"], linewidth=1.2, label=f"estimate {estimate:+.2f}")
    if ci[0] is not None and ci[1] is not None and math.isfinite(ci[0]) and math.isfinite(ci[1]):
        axes.axvspan(ci[0], ci[1], color=COLOURS["ours"], alpha=0.12, label="95% CI")
    if len(ordered) <= 60:
        axes.set_yticks(positions, [row.label[:40] for row in ordered], fontsize=7)
    else:
        axes.set_yticks([])
    axes.set_ylim(-1, len(ordered))
    axes.set_xlabel("ours − baseline (score points)")
    axes.set_ylabel(unit)
    axes.set_title(title)
    axes.legend(frameon=False, loc="lower right", fontsize=8)
    return figure


def item_forest(report: StudyReport) -> Figure:
    effect = report.mixed_model.effect
    return _dot_plot(
        report.item_differences,
        estimate=effect.estimate,
        ci=effect.ci,
        title=f"{report.study}: per-item differences (mean, 95% CI over annotators)",
        unit="item",
    )


def annotator_differences(report: StudyReport) -> Figure:
    effect = report.mixed_model.effect
    return _dot_plot(
        report.annotator_differences,
        estimate=effect.estimate,
        ci=effect.ci,
        title=f"{report.study}: per-annotator differences (mean, 95% CI over items)",
        unit="annotator",
    )


def figure_bytes(figure: Figure, fmt: str) -> bytes:
    """The figure as PNG or SVG bytes; the same figure gives the same bytes on every run (SVG: no date, and the
    ids of clip paths and other elements hashed with a fixed salt instead of a random one)."""
    buffer = io.BytesIO()
    with rc_context({"svg.hashsalt": SVG_HASH_SALT}):
        figure.savefig(buffer, format=fmt, dpi=150, metadata={"Date": None} if fmt == "svg" else None)
    return buffer.getvalue()


def study_plots(report: StudyReport) -> dict[str, Figure]:
    return {
        "scores": score_distributions(report),
        "items": item_forest(report),
        "annotators": annotator_differences(report),
    }
