"""The figures of a K-condition rating study (one criterion's ``ConditionComparison``), in ``analysis.plots``' style
(its rcParams, fonts, widths and byte-stable export through ``figure_bytes``):

- ``contrast_forest``: every pairwise contrast (condition − versus) with its CI (adjusted as the comparison's
  contrasts are: Bonferroni's under Holm, Tukey's under Tukey), the contrasts with the reference first and drawn in
  their own colour, a dashed line at 0, and each contrast's estimate and CI written on the right.
- ``condition_means``: each condition's model-estimated mean score with its CI, the reference first (on top) and
  marked.

Both are drawn at the width of one column (3.3 in) or the page (6.9 in); condition names are wrapped to fit. The
constrained layout is done once and then fixed (``pairwise_plots._settled``), so the same data give the same bytes.
"""

import textwrap

import numpy as np
from matplotlib import rc_context
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from . import numbers
from .condition_tables import CI_NAMES, ordered_contrasts
from .pairwise_plots import _settled, _suptitle, _title
from .pairwise_tables import check_name
from .plot_font import families
from .plots import FIGURE_FORMATS, PALETTE, PLAIN_TICKS, WIDTHS, figure_bytes, style
from .stats.conditions import ConditionComparison
from .stats.paired_contrasts import PairedContrasts

CONDITION_PLOTS = ("contrasts", "means")
#: Colours: contrasts with the reference, and the others (Okabe and Ito's, as every figure's).
REFERENCE_COLOUR = PALETTE["blue"]
OTHER_COLOUR = PALETTE["orange"]


def _wrap_name(text: str, width: str) -> str:
    """A label broken into lines that fit the space the axes leave for it (7 pt)."""
    return textwrap.fill(text, 18 if width == "single" else 34, break_long_words=True, break_on_hyphens=False)


def _level(comparison: ConditionComparison) -> str:
    return f"{100 * comparison.level:g}%"


def _estimate_text(estimate: float, ci: tuple[float, float]) -> str:
    return f"{numbers.signed(estimate)} {numbers.interval(*ci)}"


def _rows(labels: list[str]) -> tuple[np.ndarray, float]:
    """Each row's position, the first on top, a wrapped label's lines taking room of their own; and the extent."""
    lines = [label.count("\n") + 1 for label in labels]
    heights = 0.6 + 0.4 * np.array(lines, dtype=float)
    bottoms = np.concatenate([[0.0], np.cumsum(heights[::-1])])[:-1][::-1]
    return bottoms + heights / 2, float(heights.sum())


def _height(extent: float) -> float:
    return max(2.0, 0.24 * extent + 1.5)


def contrast_forest(
    comparison: ConditionComparison | PairedContrasts, criterion: str | None = None, width: str = "single"
) -> Figure:
    """Every contrast's estimate with its CI, the contrasts with the reference first and marked, zero dashed; of the
    comparison's random-intercept model or of each pair's own model (``PairedContrasts``)."""
    inches = WIDTHS[width]
    contrasts = ordered_contrasts(comparison)
    reference = np.array([row.versus == comparison.reference for row in contrasts])
    labels = [_wrap_name(row.label, width) for row in contrasts]
    positions, extent = _rows(labels)
    figure = Figure(figsize=(inches, _height(extent)), layout="constrained")
    axes = figure.add_subplot()
    estimates = np.array([row.estimate for row in contrasts])
    low = np.array([row.ci[0] for row in contrasts])
    high = np.array([row.ci[1] for row in contrasts])
    axes.axvline(0.0, color=PALETTE["grey"], linewidth=0.6, linestyle="--")
    colours = [REFERENCE_COLOUR if marked else OTHER_COLOUR for marked in reference]
    axes.hlines(positions, low, high, colors=colours, linewidth=1.2)
    for marked, marker in ((True, "o"), (False, "s")):
        chosen = reference == marked
        if chosen.any():
            axes.plot(
                estimates[chosen],
                positions[chosen],
                marker,
                markersize=3.5,
                color=PALETTE["black"],
                linestyle="none",
            )
    axes.set_yticks(positions, labels)
    axes.tick_params(axis="y", length=0)
    axes.set_ylim(0.0, extent)
    span = np.concatenate([low, high, estimates, [0.0]])
    span = span[np.isfinite(span)]
    pad = max(0.05 * (span.max() - span.min()), 0.1)
    axes.set_xlim(span.min() - pad, span.max() + pad)
    axes.xaxis.set_major_locator(MaxNLocator(7 if width == "double" else 4))
    axes.xaxis.set_major_formatter(PLAIN_TICKS)
    axes.set_xlabel("difference of estimated means (score points)")
    # each contrast's numbers on the right, as tick labels of a second y axis on the same rows
    right = axes.secondary_yaxis("right")
    right.set_yticks(positions, [_estimate_text(row.estimate, row.ci) for row in contrasts])
    right.tick_params(length=0, labelsize=6 if width == "single" else 7)
    right.spines["right"].set_visible(False)
    level = _level(comparison)
    ci = CI_NAMES[comparison.ci_adjustment]
    _suptitle(figure, _title(criterion, f"contrasts, {level} CI ({ci})"))
    handles = [
        Line2D(
            [],
            [],
            marker=marker,
            markersize=3.5,
            color=colour,
            markerfacecolor=PALETTE["black"],
            markeredgecolor=PALETTE["black"],
            linewidth=1.2,
            label=label,
        )
        for marker, colour, label, shown in (
            ("o", REFERENCE_COLOUR, f"versus the reference ({comparison.reference})", reference.any()),
            ("s", OTHER_COLOUR, "between other conditions", (~reference).any()),
        )
        if shown
    ]
    handles.append(Line2D([], [], color=PALETTE["grey"], linewidth=0.6, linestyle="--", label="no difference (0)"))
    labels = [_wrap_name(handle.get_label(), width) for handle in handles]
    figure.legend(handles, labels, loc="outside lower center", ncols=len(handles) if width == "double" else 1)
    return figure


def condition_means(comparison: ConditionComparison, criterion: str | None = None, width: str = "single") -> Figure:
    """Each condition's estimated mean with its CI, the reference on top and marked."""
    inches = WIDTHS[width]
    means = [comparison.mean(condition) for condition in comparison.conditions]
    reference = np.array([row.condition == comparison.reference for row in means])
    labels = [
        _wrap_name(row.condition + (" (ref.)" if row.condition == comparison.reference else ""), width) for row in means
    ]
    positions, extent = _rows(labels)
    figure = Figure(figsize=(inches, _height(extent)), layout="constrained")
    axes = figure.add_subplot()
    estimates = np.array([row.estimate for row in means])
    low = np.array([row.ci[0] for row in means])
    high = np.array([row.ci[1] for row in means])
    colours = [REFERENCE_COLOUR if marked else OTHER_COLOUR for marked in reference]
    axes.hlines(positions, low, high, colors=colours, linewidth=1.2)
    axes.plot(estimates, positions, "o", markersize=3.5, color=PALETTE["black"], linestyle="none")
    axes.set_yticks(positions, labels)
    axes.tick_params(axis="y", length=0)
    axes.set_ylim(0.0, extent)
    span = np.concatenate([low, high, estimates])
    span = span[np.isfinite(span)]
    pad = max(0.05 * (span.max() - span.min()), 0.1)
    axes.set_xlim(span.min() - pad, span.max() + pad)
    axes.xaxis.set_major_locator(MaxNLocator(7 if width == "double" else 4))
    axes.xaxis.set_major_formatter(PLAIN_TICKS)
    axes.set_xlabel("estimated mean score")
    level = _level(comparison)
    _suptitle(figure, _title(criterion, f"estimated means, {level} CI"))
    handles = [
        Line2D(
            [],
            [],
            marker="o",
            markersize=3.5,
            color=colour,
            markerfacecolor=PALETTE["black"],
            markeredgecolor=PALETTE["black"],
            linewidth=1.2,
            label=label,
        )
        for colour, label in ((REFERENCE_COLOUR, "reference"), (OTHER_COLOUR, "other conditions"))
    ]
    figure.legend(handles=handles, loc="outside lower center", ncols=2)
    return figure


def condition_figures(
    comparison: ConditionComparison,
    criterion: str | None = None,
    width: str = "double",
    paired: PairedContrasts | None = None,
) -> dict:
    """Each figure at one width, drawn in the figures' style and font, its layout done and fixed; the contrasts
    from ``paired`` when given."""
    if width not in WIDTHS:
        raise ValueError(f"width must be one of {', '.join(WIDTHS)}; got {width!r}.")
    texts = [*comparison.conditions, criterion or ""]
    with rc_context(style(families(texts))):
        return {
            "contrasts": _settled(contrast_forest(paired or comparison, criterion, width)),
            "means": _settled(condition_means(comparison, criterion, width)),
        }


def condition_plot_documents(
    comparison: ConditionComparison,
    *,
    name: str = "conditions",
    criterion: str | None = None,
    paired: PairedContrasts | None = None,
) -> dict[str, bytes]:
    """``<name>-<plot>-<width>.<format>``: both figures at both widths as PDF, SVG and 300-dpi PNG (``name`` a
    plain file name, as ``condition_table_documents``' is); the contrasts from ``paired`` when given."""
    check_name(name)
    return {
        f"{name}-{plot}-{width}.{fmt}": figure_bytes(figure, fmt)
        for width in WIDTHS
        for plot, figure in condition_figures(comparison, criterion, width, paired).items()
        for fmt in FIGURE_FORMATS
    }
