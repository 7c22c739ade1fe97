"""Result plots: the same data give the same bytes on every export."""

import pytest

from analysis.plots import PLOTS, figure_bytes, study_plots
from analysis.stats.report import study_report
from tests.analysis.simulate import simulate_ratings


@pytest.fixture(scope="module")
def report():
    return study_report(simulate_ratings(annotators=4, items=5, seed=2), study="plots", seed=0, resamples=100)


def test_svg_exports_of_the_same_data_are_byte_identical(report):
    first = {name: figure_bytes(figure, "svg") for name, figure in study_plots(report).items()}
    second = {name: figure_bytes(figure, "svg") for name, figure in study_plots(report).items()}
    assert set(first) == set(PLOTS)
    for name in PLOTS:
        assert b"clip-path" in first[name], name  # the ids that were random before
        assert first[name] == second[name], name


def test_png_exports_of_the_same_data_are_byte_identical(report):
    assert {name: figure_bytes(figure, "png") for name, figure in study_plots(report).items()} == {
        name: figure_bytes(figure, "png") for name, figure in study_plots(report).items()
    }
