"""Result plots: every text inside the figure at both widths, long labels included; the axes of the forest plots
robust to a few huge intervals; fonts embedded as TrueType; the same data give the same bytes on every export."""

import re

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.text import Text

from analysis.labels import Labels
from analysis.plots import (
    FIGURE_FORMATS,
    PLOTS,
    WIDTHS,
    axis_limits,
    figure_bytes,
    plot_documents,
    study_plots,
)
from analysis.stats.report import UnitDifference, study_report
from tests.analysis.simulate import simulate_ratings

LONG = Labels(
    baseline="Stable Diffusion 2.1 base at 1024 px, no scaling",
    ours="+ entropy-aware attention scaling (ours, training-free)",
    question="How well does the image match the caption? (1 = not at all, 10 = perfectly)",
)


@pytest.fixture(scope="module")
def report():
    return study_report(simulate_ratings(annotators=4, items=5, seed=2), study="plots", seed=0, resamples=100)


@pytest.fixture(scope="module")
def crowd():
    """A sparse crowd: most items have two or three judgments, so their intervals are huge."""
    frame = simulate_ratings(annotators=30, items=40, missing=0.9, seed=5)
    return study_report(frame, study="a_study_with_a_rather_long_name_2026", seed=0, resamples=100)


def drawn_texts(figure) -> list[Text]:
    """Every text the figure shows: titles, axis labels, the tick labels of the ticks in view, legends."""
    texts = [*figure.texts]
    for legend in figure.legends:
        texts += legend.get_texts()
    for axes in figure.axes:
        texts += [axes.title, axes.xaxis.label, axes.yaxis.label, *axes.texts]
        for axis, limits in ((axes.xaxis, axes.get_xlim()), (axes.yaxis, axes.get_ylim())):
            low, high = sorted(limits)
            for location, label in zip(axis.get_majorticklocs(), axis.get_majorticklabels(), strict=True):
                if low <= location <= high:
                    texts.append(label)
    return [text for text in texts if text.get_visible() and text.get_text().strip()]


def texts_outside(figure) -> list[str]:
    """Each text whose drawn extent leaves the figure (by more than half a pixel)."""
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    renderer = canvas.get_renderer()
    bounds = figure.bbox
    outside = []
    texts = drawn_texts(figure)
    assert len(texts) > 5
    for text in texts:
        box = text.get_window_extent(renderer)
        if box.x0 < bounds.x0 - 0.5 or box.y0 < bounds.y0 - 0.5 or box.x1 > bounds.x1 + 0.5 or box.y1 > bounds.y1 + 0.5:
            outside.append(f"{text.get_text()!r} at {box.bounds}")
    return outside


def texts_overlapping(figure) -> list[tuple[str, str]]:
    """Each pair of texts whose drawn extents overlap (by more than a pixel each way)."""
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    renderer = canvas.get_renderer()
    boxes = [(text.get_text(), text.get_window_extent(renderer)) for text in drawn_texts(figure)]
    return [
        (first, second)
        for k, (first, one) in enumerate(boxes)
        for second, other in boxes[k + 1 :]
        if min(one.x1, other.x1) - max(one.x0, other.x0) > 1 and min(one.y1, other.y1) - max(one.y0, other.y0) > 1
    ]


@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("labels", [Labels(), LONG], ids=["default labels", "long labels"])
def test_every_text_lies_inside_the_figure_and_apart(report, crowd, width, labels):
    for study in (report, crowd):
        for name, figure in study_plots(study, labels, width).items():
            assert figure.get_size_inches()[0] == pytest.approx(WIDTHS[width])
            assert texts_outside(figure) == [], (study.study, name, width)
            assert texts_overlapping(figure) == [], (study.study, name, width)


def test_the_labels_are_the_studys_own(report):
    figures = study_plots(report, Labels("SD-2.1", "+ entropy scaling", "Image–text consistency"))
    shown = {name: {text.get_text() for text in figure.findobj(Text)} for name, figure in figures.items()}
    assert any(text.startswith("SD-2.1 (mean ") for text in shown["scores"])
    assert any(text.startswith("+ entropy scaling (mean ") for text in shown["scores"])
    assert "Image–text consistency" in shown["scores"]
    assert "+ entropy scaling − SD-2.1 (score points)" in shown["items"]
    assert not any("baseline" in text or "ours" in text for texts in shown.values() for text in texts)


def test_a_few_huge_intervals_do_not_set_the_axis():
    rows = [UnitDifference(f"item {k}", 5, 0.1 * k - 1, (0.1 * k - 1.6, 0.1 * k - 0.4)) for k in range(20)]
    rows += [UnitDifference("few", 2, 0.5, (-20.0, 21.0)), UnitDifference("one", 1, -0.3, (None, None))]
    low, high = axis_limits(rows, 0.1, (-0.2, 0.4))
    assert -2.2 < low < -1.5 and 1.2 < high < 2.0  # the ordinary intervals, not −20 to +21
    wild = [UnitDifference(f"few {k}", 2, 4.0 * (-1) ** k, (-25.0, 25.0)) for k in range(10)]
    low, high = axis_limits(wild, 0.0, (-1.0, 1.0))
    assert low == pytest.approx(-4.0 - 4.0 - 0.8) and high == pytest.approx(4.0 + 4.0 + 0.8)  # half the span more
    assert axis_limits([UnitDifference("x", 2, 8.9, (-30.0, 30.0))], 8.9, (8.0, 9.0))[1] == 9.5  # what scores allow
    still = [UnitDifference(f"same {k}", 3, 0.0, (0.0, 0.0)) for k in range(5)]
    assert axis_limits(still, 0.0, (0.0, 0.0)) == pytest.approx((-0.55, 0.55))  # one point wide, not zero


def test_intervals_past_the_axis_are_marked(crowd):
    figure = study_plots(crowd, width="single")["items"]
    arrows = [line for line in figure.axes[0].get_lines() if line.get_marker() in ("<", ">") and len(line.get_xdata())]
    assert arrows, "no interval ran past the axis in a sparse crowd"
    left, right = figure.axes[0].get_xlim()
    assert all(x in (left, right) for line in arrows for x in line.get_xdata())
    legend = [text.get_text() for text in figure.legends[0].get_texts()]
    assert "interval runs past the axis" in legend


def test_every_plot_in_every_format_and_width(report):
    documents = plot_documents(report)
    assert set(documents) == {
        f"plots-{name}-{width}.{fmt}" for name in PLOTS for width in WIDTHS for fmt in FIGURE_FORMATS
    }
    for name, data in documents.items():
        if name.endswith(".pdf"):
            assert data.startswith(b"%PDF-")
            fonts = set(re.findall(rb"/Subtype /(\w+)", data)) & {b"TrueType", b"Type3", b"Type1", b"Type0"}
            assert b"Type3" not in fonts and (b"TrueType" in fonts or b"Type0" in fonts), (name, fonts)
            assert len(set(re.findall(rb"/BaseFont /(\w+\+\w+)", data))) == 1, name  # no ligature glyph font
        elif name.endswith(".png"):
            width_px = int.from_bytes(data[16:20], "big")
            inches = WIDTHS[name.rsplit("-", 1)[1].split(".")[0]]
            assert width_px == round(inches * 300), name  # 300 dpi


def test_svg_exports_of_the_same_data_are_byte_identical(report):
    first = {name: figure_bytes(figure, "svg") for name, figure in study_plots(report).items()}
    second = {name: figure_bytes(figure, "svg") for name, figure in study_plots(report).items()}
    assert set(first) == set(PLOTS)
    for name in PLOTS:
        assert b"clip-path" in first[name], name  # the ids that were random before
        assert first[name] == second[name], name


@pytest.mark.parametrize("fmt", ["png", "pdf"])
def test_png_and_pdf_exports_of_the_same_data_are_byte_identical(report, fmt):
    assert {name: figure_bytes(figure, fmt) for name, figure in study_plots(report).items()} == {
        name: figure_bytes(figure, fmt) for name, figure in study_plots(report).items()
    }


def test_a_label_outside_the_figures_font_is_drawn_from_the_whole_dejavu_sans(report):
    """The figures' font holds Latin, Greek, Cyrillic and symbols (analysis.plot_font); a Hebrew label falls back."""
    figure = study_plots(report, Labels("Базовая модель", "שלנו", "Score"), "single")["scores"]
    data = figure_bytes(figure, "pdf")
    assert len(set(re.findall(rb"/BaseFont /(\w+\+\w+)", data))) >= 2  # the cut font, then the whole one
    assert texts_outside(figure) == []


def test_the_score_axis_spans_the_scale_scored_on():
    """A 1–7 criterion's scores are drawn on 1–7, a 1–10 one's on 1–10; a score beyond the scale stretches the axis
    rather than hide it."""
    frame = simulate_ratings(annotators=4, items=5, seed=2)
    frame["score"] = frame["score"].clip(1, 7)
    seven = study_report(frame, study="seven", seed=0, resamples=100)

    def ticks(report, points):
        (axes,) = study_plots(report, scale_points=points)["scores"].axes
        return [int(tick) for tick in axes.get_xticks()], [len(container) for container in axes.containers]

    assert ticks(seven, 7) == (list(range(1, 8)), [7, 7])
    assert ticks(seven, 10) == (list(range(1, 11)), [10, 10])
    frame.loc[frame.index[0], "score"] = 9
    assert ticks(study_report(frame, study="beyond", seed=0, resamples=100), 5)[0] == list(range(1, 10))
