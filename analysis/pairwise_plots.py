"""The figures of a pairwise-preference study (one criterion's ``PairwiseResult``), in ``analysis.plots``' style
(its rcParams, fonts, widths and byte-stable export through ``figure_bytes``):

- ``win_rate_heatmap``: the K×K win-rate matrix, rows and columns in the leaderboard's order, each cell the share of
  judgments in which the row condition beats the column condition (a tie counting half), written in the cell.
  The colour map is cividis (0 to 1), whose lightness rises steadily, so it reads in greyscale and with every
  common colour-vision deficiency; each cell's text is black or white by the cell's lightness.
- ``strength_forest``: the leaderboard as a forest plot, each condition's log strength (relative to the reference)
  with its bootstrap CI, strongest at the top.

Both are drawn at the width of one column (3.3 in) or the page (6.9 in) with matplotlib's constrained layout,
which keeps every text inside the figure.
"""

import textwrap

import numpy as np
from matplotlib import colormaps, rc_context
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, MaxNLocator

from . import numbers
from .pairwise_tables import check_name
from .plot_font import families
from .plots import FIGURE_FORMATS, PALETTE, PLAIN_TICKS, WIDTHS, figure_bytes, style
from .stats.pairwise import PairwiseResult

PAIRWISE_PLOTS = ("win-rates", "strengths")
#: Sequential, lightness rising steadily from dark blue to light yellow (Nuñez et al. 2018): readable in greyscale.
COLOUR_MAP = "cividis"
#: Matrices of more conditions than this get no numbers in their cells (the colour bar still reads them).
ANNOTATED_CONDITIONS = 12
#: The colour-bar label and the title's reading of the matrix.
ROW_BEATS_COLUMN = "row beats column"


def _clip(text: str, characters: int) -> str:
    return text if len(text) <= characters else text[: characters - 1].rstrip() + "…"


def _wrap(text: str, width_in: float, size: float = 8.0) -> str:
    return textwrap.fill(text, max(12, int(width_in * 72 / (0.6 * size))), break_long_words=True)


def _order(result: PairwiseResult) -> list[int]:
    return [result.conditions.index(condition) for condition in result.leaderboard]


def _title(criterion: str | None, what: str) -> str:
    return f"{criterion}: {what}" if criterion else what[:1].upper() + what[1:]


def _suptitle(figure: Figure, text: str) -> None:
    """The figure's title, centred on the figure (not on the axes, which long condition names push aside) and
    wrapped to it; the axes' own title stays empty."""
    inches = figure.get_size_inches()[0]
    figure.suptitle(_wrap(text, inches * 0.9), fontsize=8)


def _text_colour(rgba) -> str:
    """Black on a light cell, white on a dark one (relative luminance of the cell's colour)."""
    r, g, b = rgba[:3]
    return PALETTE["black"] if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.45 else "#FFFFFF"


def _label_characters(width: str) -> int:
    return 16 if width == "single" else 28


def win_rate_heatmap(result: PairwiseResult, criterion: str | None = None, width: str = "single") -> Figure:
    """The win-rate matrix as an annotated heatmap: cell (row, column) is the share of judgments in which the row
    condition beats the column condition, a tie counting half; the diagonal is empty."""
    inches = WIDTHS[width]
    order = _order(result)
    names = [result.conditions[i] for i in order]
    K = len(names)
    rates = np.array(
        [[np.nan if result.win_rate[i][j] is None else result.win_rate[i][j] for j in order] for i in order]
    )
    np.fill_diagonal(rates, np.nan)
    figure = Figure(figsize=(inches, 3.6 if width == "single" else 4.8), layout="constrained")
    axes = figure.add_subplot()
    cmap = colormaps[COLOUR_MAP].with_extremes(bad="#FFFFFF")
    # cells as vector quads, not a raster image: the SVG then holds no embedded picture (the results page inlines it
    # under a Content-Security-Policy that allows no data: images)
    edges = np.arange(K + 1) - 0.5
    image = axes.pcolormesh(edges, edges, np.ma.masked_invalid(rates), cmap=cmap, vmin=0.0, vmax=1.0)
    axes.set_aspect("equal")
    axes.set_xlim(-0.5, K - 0.5)
    axes.set_ylim(K - 0.5, -0.5)  # the first row on top, as a matrix reads
    if K <= ANNOTATED_CONDITIONS:
        size = 7 if K <= 6 else (6 if K <= 9 else 5)
        for r in range(K):
            for c in range(K):
                if np.isfinite(rates[r, c]):
                    axes.text(
                        c,
                        r,
                        numbers.number(rates[r, c]),
                        ha="center",
                        va="center",
                        fontsize=size,
                        color=_text_colour(cmap(rates[r, c])),
                    )
    characters = _label_characters(width)
    shown = [_clip(name, characters) for name in names]
    axes.set_xticks(range(K), shown, rotation=90, ha="right", va="center", rotation_mode="anchor")
    axes.set_yticks(range(K), shown)
    axes.tick_params(length=0)
    for spine in axes.spines.values():
        spine.set_visible(False)
    axes.set_xlabel("column condition")
    axes.set_ylabel("row condition")
    _suptitle(figure, _title(criterion, f"win rate, {ROW_BEATS_COLUMN} (ties count half)"))
    # beside the square cells, as tall as they are (an inset follows the axes' box as the equal aspect sets it)
    bar = figure.colorbar(image, cax=axes.inset_axes([1.04, 0.0, 0.05, 1.0]))
    bar.ax.yaxis.set_major_locator(FixedLocator([0.0, 0.25, 0.5, 0.75, 1.0]))
    bar.ax.yaxis.set_major_formatter(PLAIN_TICKS)
    bar.set_label(_wrap(f"share of judgments the {ROW_BEATS_COLUMN}", 2.4, 7), fontsize=7)
    bar.outline.set_linewidth(0.4)
    bar.solids.set_rasterized(False)  # vector too, as the cells
    return figure


def strength_forest(result: PairwiseResult, criterion: str | None = None, width: str = "single") -> Figure:
    """The leaderboard: each condition's log strength relative to the reference with its CI, strongest on top."""
    inches = WIDTHS[width]
    order = _order(result)
    K = len(order)
    figure = Figure(figsize=(inches, max(2.0, 0.24 * K + 1.3)), layout="constrained")
    axes = figure.add_subplot()
    positions = np.arange(K)[::-1]  # the strongest at the top
    strengths = [result.strengths[i] for i in order]
    estimates = np.array([s.log_strength for s in strengths])
    low = np.array([s.ci[0] if s.ci[0] is not None else s.log_strength for s in strengths])
    high = np.array([s.ci[1] if s.ci[1] is not None else s.log_strength for s in strengths])
    axes.axvline(0.0, color=PALETTE["grey"], linewidth=0.6, linestyle="--")
    axes.hlines(positions, low, high, color=PALETTE["blue"], linewidth=1.2)
    axes.plot(estimates, positions, "o", markersize=3.5, color=PALETTE["black"], linestyle="none")
    characters = _label_characters(width)
    labels = [
        _clip(s.condition, characters) + (" (ref.)" if s.condition == result.reference else "") for s in strengths
    ]
    axes.set_yticks(positions, labels)
    axes.set_ylim(-0.7, K - 0.3)
    span = np.concatenate([low, high, estimates, [0.0]])
    pad = max(0.05 * (span.max() - span.min()), 0.1)
    axes.set_xlim(span.min() - pad, span.max() + pad)
    axes.xaxis.set_major_locator(MaxNLocator(7 if width == "double" else 5))
    axes.xaxis.set_major_formatter(PLAIN_TICKS)
    axes.set_xlabel(_wrap(f"log strength relative to {result.reference}", inches * 0.9))
    level = f"{result.level:.0%}"
    _suptitle(figure, _title(criterion, f"{result.model} strengths, {level} CI"))
    handles = [
        Line2D(
            [],
            [],
            marker="o",
            markersize=3.5,
            color=PALETTE["blue"],
            markerfacecolor=PALETTE["black"],
            markeredgecolor=PALETTE["black"],
            linewidth=1.2,
            label=f"log strength, {level} bootstrap CI",
        ),
        Line2D([], [], color=PALETTE["grey"], linewidth=0.6, linestyle="--", label="reference (0)"),
    ]
    figure.legend(handles=handles, loc="outside lower center", ncols=2 if width == "double" else 1)
    return figure


DRAWERS = {"win-rates": win_rate_heatmap, "strengths": strength_forest}


def pairwise_figures(result: PairwiseResult, criterion: str | None = None, width: str = "double") -> dict:
    """Each pairwise figure at one width, drawn in the figures' style and font."""
    if width not in WIDTHS:
        raise ValueError(f"width must be one of {', '.join(WIDTHS)}; got {width!r}.")
    texts = [*result.conditions, criterion or ""]
    with rc_context(style(families(texts))):
        return {name: _settled(draw(result, criterion, width)) for name, draw in DRAWERS.items()}


def _settled(figure: Figure) -> Figure:
    """The figure with its constrained layout done and then fixed: the layout engine places the axes again at every
    draw, and the heatmap's (square cells, a colour bar beside them) moves a little each time, so every format
    would place it differently. Twice is enough to settle it; then the positions stay, and the same data give the
    same bytes."""
    for _ in range(2):
        figure.draw_without_rendering()
    figure.set_layout_engine("none")
    return figure


def pairwise_plot_documents(
    result: PairwiseResult, *, name: str = "pairwise", criterion: str | None = None
) -> dict[str, bytes]:
    """``<name>-<plot>-<width>.<format>``: both figures at both widths as PDF, SVG and 300-dpi PNG (``name`` a
    plain file name, as ``pairwise_table_documents``' is)."""
    check_name(name)
    return {
        f"{name}-{plot}-{width}.{fmt}": figure_bytes(figure, fmt)
        for width in WIDTHS
        for plot, figure in pairwise_figures(result, criterion, width).items()
        for fmt in FIGURE_FORMATS
    }
