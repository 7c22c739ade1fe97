"""The result figures, drawn for print with matplotlib's object API (no pyplot state): score distributions per
condition, per-item differences (a forest plot) and per-annotator differences.

Each is drawn at the width of one column (3.3 in) and of the page (6.9 in) of a two-column paper, and written as
PDF (TrueType fonts embedded, ``pdf.fonttype`` 42), SVG and 300-dpi PNG. Colours are Okabe and Ito's colour-blind
safe palette; text is 7–8 pt, as it prints. Titles and long labels are wrapped to the figure, and the constrained
layout keeps every text inside it (``tests/analysis/test_plots.py`` checks each text's extent). The difference axes
run over the estimates, not over every interval: an interval that runs past the axis ends in an arrowhead there.
"""

import io
import math
import re
import textwrap
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import numpy as np
from matplotlib import image, rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from . import numbers
from .labels import DEFAULT_LABELS, Labels
from .plot_font import families
from .stats.report import StudyReport, UnitDifference
from .stats.tidy import SCORE_MAX

#: Okabe & Ito (2008), distinguishable with every common colour-vision deficiency and in greyscale.
PALETTE = {
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "green": "#009E73",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "grey": "#999999",
    "black": "#000000",
}
COLOURS = {"baseline": PALETTE["orange"], "ours": PALETTE["blue"]}
PLOTS = ("scores", "items", "annotators")
#: Figure widths in inches: one column and the whole page of a two-column paper.
WIDTHS = {"single": 3.3, "double": 6.9}
FIGURE_FORMATS = ("pdf", "svg", "png")
PNG_DPI = 300
SVG_HASH_SALT = "evalsite"  # matplotlib's default (None) salts SVG ids at random: exports would differ run to run
#: Rows of a forest plot that still get their label on the axis; more, and the axis shows none.
LABELLED_ROWS = 60
#: The largest a mean difference of 1–10 scores can be.
SCALE_LIMIT = 9.0
STYLE = {
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "axes.linewidth": 0.6,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "xtick.major.size": 2.5,
    "ytick.major.size": 2.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    "svg.hashsalt": SVG_HASH_SALT,
    "svg.fonttype": "none",
}
#: Space kept free at the figure's edges, in inches: enough for a browser's box of a text in another font (an
#: SVG's text is set in the viewer's DejaVu Sans, whose box includes the line's whole height).
EDGE = 0.1
#: PNG's zlib level: 1 writes a 300-dpi figure several times faster than the default 6, for files about a fifth
#: larger.
PNG_COMPRESSION = 1


def style(family: Sequence[str]) -> dict:
    """The rcParams of every figure: ``STYLE`` in the font families ``family`` (``analysis.plot_font.families``)."""
    return {**STYLE, "font.family": list(family)}


#: An SVG keeps its text as text: where the figures' font is not installed, a viewer sets it in DejaVu Sans, else
#: in any sans-serif font.
SVG_FONTS = (
    re.compile(rb"font-family: 'DejaVu Sans EvalSite'(, 'DejaVu Sans')?"),
    rb"font-family: 'DejaVu Sans', sans-serif",
)


#: Each format's metadata: none that changes from run to run (dates), so the same data give the same bytes.
METADATA = {"pdf": {"CreationDate": None, "ModDate": None}, "svg": {"Date": None}, "png": None}
#: Tick labels in plain text with a true minus (matplotlib's default may set them as mathtext, a second font).
PLAIN_TICKS = FuncFormatter(lambda value, position: f"{value:g}".replace("-", numbers.MINUS))


def _wrap(text: str, width_in: float, size: float = 8.0) -> str:
    """``text`` broken into lines that fit ``width_in`` inches at ``size`` points (DejaVu Sans: about 0.6 em per
    character)."""
    return textwrap.fill(
        text, max(12, int(width_in * 72 / (0.6 * size))), break_long_words=True, break_on_hyphens=False
    )


def _clip(text: str, characters: int) -> str:
    return text if len(text) <= characters else text[: characters - 1].rstrip() + "…"


def score_distributions(
    report: StudyReport, labels: Labels = DEFAULT_LABELS, width: str = "double", *, scale_points: int = SCORE_MAX
) -> Figure:
    """The share of each score per condition, on the scale annotators scored on (1 to ``scale_points``; further
    when a score lies beyond it, so that no score is hidden)."""
    inches = WIDTHS[width]
    figure = Figure(figsize=(inches, 2.3 if width == "single" else 2.6))
    axes = figure.add_subplot()
    scored = [index + 1 for counts in report.score_counts.values() for index, count in enumerate(counts) if count]
    top = max([scale_points, *scored])
    scores = np.arange(1, top + 1)
    for offset, condition in ((-0.2, "baseline"), (0.2, "ours")):
        counts = np.array(report.score_counts[condition][:top], dtype=float)
        share = counts / max(counts.sum(), 1)
        stats = getattr(report.descriptives, condition)
        axes.bar(
            scores + offset,
            share,
            width=0.4,
            color=COLOURS[condition],
            label=f"{labels.of(condition)} (mean {numbers.number(stats.mean)})",
        )
    axes.set_xticks(scores)
    axes.yaxis.set_major_locator(MaxNLocator(5))
    axes.yaxis.set_major_formatter(PLAIN_TICKS)
    axes.set_xlabel(_wrap(labels.question, inches * 0.9))
    axes.set_ylabel("share of scores")
    axes.set_title(_wrap(f"{report.study}: score distributions", inches * 0.9))
    _lay_out(figure, axes, legend_at="bottom")
    return figure


def _legend_entries(axes, inches: float) -> tuple[list, list[str], int]:
    """The axes' legend handles, their labels wrapped to the figure, and how many columns: side by side when they
    fit the width, else one per line."""
    handles, names = axes.get_legend_handles_labels()
    wide = sum(len(name) * 0.6 * 7 / 72 + 0.45 for name in names)
    columns = len(names) if wide < inches * 0.95 else 1
    return handles, [_wrap(name, inches - 0.5, 7) for name in names], columns


def _lay_out(figure: Figure, axes, *, legend_at: str) -> None:
    """Place the axes so that its tick labels, axis labels and title, and the figure's legend above or below it,
    lie inside the figure with ``EDGE`` to spare: the texts are measured once the axes are placed roughly, and the
    axes moved in by what they need. Once is enough: the ticks are fixed or chosen by a ``MaxNLocator`` of a set
    number, so they do not change with the axes' size."""
    inches = figure.get_size_inches()[0]
    top = legend_at == "top"
    handles, names, columns = _legend_entries(axes, inches)
    legend = figure.legend(
        handles,
        names,
        loc="upper center" if top else "lower center",
        ncols=columns,
        handlelength=1.2,
        borderaxespad=0.0,
        bbox_to_anchor=(0.5, 1.0, 0.0, 0.0) if top else (0.5, 0.0, 0.0, 0.0),
        bbox_transform=figure.transFigure,
    )
    renderer = FigureCanvasAgg(figure).get_renderer()
    width, height = figure.bbox.width, figure.bbox.height
    edge = EDGE * figure.dpi
    legend_height = legend.get_window_extent(renderer).height + edge
    legend.set_bbox_to_anchor((0.5, 1 - edge / height if top else edge / height, 0.0, 0.0), figure.transFigure)
    axes.set_position([0.2, 0.2, 0.6, 0.6])
    tight, box = axes.get_tightbbox(renderer), axes.get_window_extent(renderer)
    x0 = (box.x0 - tight.x0 + edge) / width
    x1 = 1 - (tight.x1 - box.x1 + edge) / width
    y0 = (box.y0 - tight.y0 + edge + (0 if top else legend_height)) / height
    y1 = 1 - (tight.y1 - box.y1 + edge + (legend_height if top else 0)) / height
    axes.set_position([x0, y0, max(x1 - x0, 0.05), max(y1 - y0, 0.05)])


def axis_limits(rows: Sequence[UnitDifference], estimate: float, ci) -> tuple[float, float]:
    """The difference axis of a forest plot: every mean, 0 and the estimate with its CI, widened towards where the
    intervals end for the middle 80% of rows, but by no more than half that span on either side (so intervals of
    units with two or three judgments do not squeeze the rest), at least one score point wide, padded, and never
    past what 1–10 scores allow."""
    means = [row.mean for row in rows]
    core = [*means, 0.0] + [value for value in (estimate, *ci) if value is not None and math.isfinite(value)]
    low, high = min(core), max(core)
    reach = 0.5 * max(high - low, 1.0)
    lows = [row.ci[0] for row in rows if row.ci[0] is not None]
    highs = [row.ci[1] for row in rows if row.ci[1] is not None]
    if lows:
        low = max(min(low, float(np.quantile(lows, 0.1))), low - reach)
        high = min(max(high, float(np.quantile(highs, 0.9))), high + reach)
    if high - low < 1.0:  # every difference the same (all 0, say): one score point around it
        low, high = (low + high) / 2 - 0.5, (low + high) / 2 + 0.5
    pad = 0.05 * (high - low)
    return max(low - pad, -SCALE_LIMIT - 0.5), min(high + pad, SCALE_LIMIT + 0.5)


def _forest(
    rows: Sequence[UnitDifference],
    *,
    estimate: float,
    ci,
    title: str,
    unit: str,
    labels: Labels,
    width: str,
) -> Figure:
    inches = WIDTHS[width]
    ordered = sorted(rows, key=lambda row: row.mean)
    count = len(ordered)
    labelled = count <= LABELLED_ROWS
    height = min(max(2.4, (0.105 if labelled else 0.01) * count + 1.4), 9.0)
    figure = Figure(figsize=(inches, height))
    axes = figure.add_subplot()
    positions = np.arange(count)
    means = np.array([row.mean for row in ordered])
    low = np.array([row.ci[0] if row.ci[0] is not None else row.mean for row in ordered])
    high = np.array([row.ci[1] if row.ci[1] is not None else row.mean for row in ordered])
    left, right = axis_limits(ordered, estimate, ci)
    small = count > LABELLED_ROWS
    axes.hlines(positions, np.maximum(low, left), np.minimum(high, right), color=PALETTE["grey"], linewidth=0.8)
    axes.plot(means, positions, "o", markersize=1.5 if small else 2.5, color=PALETTE["black"], linestyle="none")
    axes.errorbar(
        [],
        [],
        xerr=[],
        fmt="o",
        markersize=2.5,
        color=PALETTE["black"],
        ecolor=PALETTE["grey"],
        elinewidth=0.8,
        label=f"{unit}: mean, 95% CI",
    )
    past = False
    for side, mask, marker in ((left, low < left, "<"), (right, high > right, ">")):
        if mask.any():
            past = True
            axes.plot(
                np.full(int(mask.sum()), side),
                positions[mask],
                marker=marker,
                markersize=2.5 if small else 3.5,
                color=PALETTE["vermillion"],
                linestyle="none",
                clip_on=False,
            )
    axes.axvline(0.0, color=PALETTE["grey"], linewidth=0.6)
    axes.axvline(estimate, color=COLOURS["ours"], linewidth=1.0, label=f"estimate {numbers.signed(estimate)}")
    if ci[0] is not None and ci[1] is not None and math.isfinite(ci[0]) and math.isfinite(ci[1]):
        axes.axvspan(ci[0], ci[1], color=COLOURS["ours"], alpha=0.15, linewidth=0, label="its 95% CI")
    if past:
        axes.plot([], [], ">", color=PALETTE["vermillion"], markersize=3.5, label="interval runs past the axis")
    axes.set_xlim(left, right)
    axes.xaxis.set_major_locator(MaxNLocator(7 if width == "double" else 5))
    axes.xaxis.set_major_formatter(PLAIN_TICKS)
    axes.set_yticks([])
    if labelled:  # texts of their own rather than tick labels, which matplotlib measures again at every draw
        characters = 18 if width == "single" else 48
        place = axes.get_yaxis_transform()  # x in the axes' width, y in rows
        for position, row in zip(positions, ordered, strict=True):
            axes.text(
                -0.02,
                position,
                _clip(row.label, characters),
                transform=place,
                ha="right",
                va="center",
                fontsize=6,
                clip_on=False,
            )
    axes.set_ylim(-1, count)
    axes.set_xlabel(_wrap(f"{labels.difference} (score points)", inches * 0.9))
    if not labelled:  # else each row is named, and the title names the unit
        axes.set_ylabel(unit)
    axes.set_title(_wrap(title, inches * 0.9))
    _lay_out(figure, axes, legend_at="bottom")
    return figure


def item_forest(report: StudyReport, labels: Labels = DEFAULT_LABELS, width: str = "double") -> Figure:
    effect = report.mixed_model.effect
    return _forest(
        report.item_differences,
        estimate=effect.estimate,
        ci=effect.ci,
        title=f"{report.study}: per-item differences",
        unit="item",
        labels=labels,
        width=width,
    )


def annotator_differences(report: StudyReport, labels: Labels = DEFAULT_LABELS, width: str = "double") -> Figure:
    effect = report.mixed_model.effect
    return _forest(
        report.annotator_differences,
        estimate=effect.estimate,
        ci=effect.ci,
        title=f"{report.study}: per-annotator differences",
        unit="annotator",
        labels=labels,
        width=width,
    )


DRAWERS = {"scores": score_distributions, "items": item_forest, "annotators": annotator_differences}


def study_plots(
    report: StudyReport, labels: Labels = DEFAULT_LABELS, width: str = "double", *, scale_points: int = SCORE_MAX
) -> dict[str, Figure]:
    """Each plot of the study at one width, laid out; ``scale_points``: the top of the scale scored on."""
    texts = [report.study, labels.baseline, labels.ours, labels.question]
    texts += [row.label for row in (*report.item_differences, *report.annotator_differences)]
    drawers = {**DRAWERS, "scores": partial(score_distributions, scale_points=scale_points)}
    with rc_context(style(families(texts))):
        return {name: drawers[name](report, labels, width) for name in PLOTS}


def figure_bytes(figure: Figure, fmt: str) -> bytes:
    """The figure as PDF, SVG or PNG (300 dpi); the same figure gives the same bytes on every run (no dates; SVG
    ids hashed with a fixed salt instead of a random one)."""
    if fmt == "png":
        return _png(_pixels(figure))
    buffer = io.BytesIO()
    with rc_context(style(figure.axes[0].title.get_fontfamily())):  # the families it was drawn in
        figure.savefig(buffer, format=fmt, dpi=PNG_DPI, metadata=METADATA[fmt])
    return SVG_FONTS[0].sub(SVG_FONTS[1], buffer.getvalue()) if fmt == "svg" else buffer.getvalue()


def _pixels(figure: Figure) -> np.ndarray:
    """The figure drawn by Agg at ``PNG_DPI``: its RGBA pixels."""
    with rc_context(style(figure.axes[0].title.get_fontfamily())):
        dpi = figure.dpi
        figure.set_dpi(PNG_DPI)
        try:
            canvas = FigureCanvasAgg(figure)
            canvas.draw()
            return np.array(canvas.buffer_rgba())
        finally:
            figure.set_dpi(dpi)


def _png(pixels: np.ndarray) -> bytes:
    """The pixels as a PNG, as matplotlib writes it (``PNG_COMPRESSION``); Pillow lets other threads run meanwhile."""
    buffer = io.BytesIO()
    image.imsave(buffer, pixels, format="png", dpi=PNG_DPI, pil_kwargs={"compress_level": PNG_COMPRESSION})
    return buffer.getvalue()


def plot_documents(
    report: StudyReport, labels: Labels = DEFAULT_LABELS, *, scale_points: int = SCORE_MAX
) -> dict[str, bytes]:
    """``<study>-<plot>-<width>.<format>``: every plot at both widths in every format. The PNGs are compressed in
    a thread of their own while the next figures are drawn (zlib lets the drawing go on)."""
    documents: dict[str, bytes] = {}
    pending = {}
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="png") as compressor:
        for width in WIDTHS:
            for name, figure in study_plots(report, labels, width, scale_points=scale_points).items():
                for fmt in FIGURE_FORMATS:
                    key = f"{report.study}-{name}-{width}.{fmt}"
                    if fmt == "png":
                        documents[key] = b""  # its place in the order; filled below
                        pending[key] = compressor.submit(_png, _pixels(figure))
                    else:
                        documents[key] = figure_bytes(figure, fmt)
        for key, future in pending.items():
            documents[key] = future.result()
    return documents
