"""Tables and figures of a pairwise-preference study: the leaderboard in the order of the strengths, the win-rate
matrix read "row beats column" in every format, LaTeX that compiles with every condition name escaped, CSV cells
neutralised against formulas while JSON keeps the raw values, the heatmap's cell texts equal to the win rates, and
the pair tests' p adjusted across the pairs."""

import csv
import io
import json

import numpy as np
import pandas as pd
import pytest

from analysis import numbers
from analysis.csv_cells import restore
from analysis.pairwise_plots import PAIRWISE_PLOTS, pairwise_figures, pairwise_plot_documents
from analysis.pairwise_tables import TABLES, pairwise_table_documents, pairwise_tables, table_markdown
from analysis.plots import FIGURE_FORMATS, WIDTHS, figure_bytes
from analysis.stats.multiplicity import adjust
from analysis.stats.pairwise import pairwise_study
from tests.analysis.test_pairwise import simulate
from tests.analysis.test_plots import texts_outside, texts_overlapping
from tests.analysis.test_tables import compiled, needs_tex

#: The simulation's conditions a–e (true log strengths 0, 0.4, −0.3, 0.9, 0.2) renamed as a study might name them.
NAMES = {"a": "=cmd", "b": "SD-2.1", "c": "a_b & 50% #1 {x}", "d": "ours | new", "e": "+ entropy"}


@pytest.fixture(scope="module")
def result():
    frame = simulate(3_000, seed=3)
    for side in ("left", "right"):
        frame[side] = frame[side].map(NAMES)
    return pairwise_study(frame, seed=1, resamples=100)


@pytest.fixture(scope="module")
def documents(result):
    return pairwise_table_documents(result, name="quality", criterion="Image quality")


def read_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def by_strength(result) -> list[str]:
    return [s.condition for s in sorted(result.strengths, key=lambda s: -s.log_strength)]


def test_every_table_in_every_format(documents):
    assert set(documents) == {f"quality-{table}.{ext}" for table in TABLES for ext in ("tex", "md", "csv", "json")}


def test_the_leaderboard_is_in_the_order_of_the_strengths(result, documents):
    order = by_strength(result)
    assert order == list(result.leaderboard) and order[0] == NAMES["d"]  # d has the largest true strength
    rows = json.loads(documents["quality-leaderboard.json"])["rows"]
    assert [row["condition"] for row in rows] == order and [row["rank"] for row in rows] == [1, 2, 3, 4, 5]
    strengths = {s.condition: s for s in result.strengths}
    for row in rows:
        strength = strengths[row["condition"]]
        assert row["log_strength"] == strength.log_strength and row["ci"] == list(strength.ci)
        assert row["relative_strength"] == pytest.approx(np.exp(strength.log_strength))
    markdown = documents["quality-leaderboard.md"].splitlines()
    assert [line.split(" | ")[1] for line in markdown[2:7]] == [name.replace("|", "\\|") for name in order]
    first = markdown[2].strip("| ").split(" | ")
    assert first[2] == numbers.number(strengths[order[0]].log_strength)
    assert first[3] == numbers.interval(*strengths[order[0]].ci)
    reference_row = next(line for line in markdown if f" {result.reference} " in line)
    assert "| reference |" in reference_row


def test_win_rates_and_judgments_per_condition_add_up(result, documents):
    rows = {row["condition"]: row for row in json.loads(documents["quality-leaderboard.json"])["rows"]}
    for i, condition in enumerate(result.conditions):
        n = sum(result.comparisons[i])
        won = sum(r * c for r, c in zip(result.win_rate[i], result.comparisons[i], strict=True) if r is not None)
        assert rows[condition]["judgments"] == n and rows[condition]["win_rate"] == pytest.approx(won / n)
    assert sum(row["judgments"] for row in rows.values()) == 2 * result.n  # each judgment counts for both sides


def test_the_win_rate_matrix_reads_row_beats_column(result, documents):
    matrix = json.loads(documents["quality-win-rates.json"])
    order = list(result.leaderboard)
    assert matrix["conditions"] == order and "row condition beats the column" in matrix["reading"]
    for r, row in enumerate(order):
        for c, column in enumerate(order):
            i, j = result.conditions.index(row), result.conditions.index(column)
            assert matrix["win_rate"][r][c] == result.win_rate[i][j]
            assert matrix["comparisons"][r][c] == result.comparisons[i][j]
    # the strongest beats the weakest more often than not, and the two cells of a pair add up to one
    assert matrix["win_rate"][0][-1] > 0.5
    assert matrix["win_rate"][0][-1] + matrix["win_rate"][-1][0] == pytest.approx(1.0)
    markdown = documents["quality-win-rates.md"].splitlines()
    assert markdown[0].startswith("| Row beats column | ")
    cells = markdown[2].strip("| ").split(" | ")
    assert cells[1] == numbers.MISSING and cells[-1] == numbers.number(matrix["win_rate"][0][-1])


def test_csv_cells_are_neutralised_and_json_keeps_the_raw_names(documents):
    leaderboard = read_csv(documents["quality-leaderboard.csv"])
    names = [row[1] for row in leaderboard[1:]]
    assert "'=cmd" in names and "'+ entropy" in names and "=cmd" not in names
    assert {restore(name) for name in names} == set(NAMES.values())
    matrix = read_csv(documents["quality-win-rates.csv"])
    assert "'=cmd" in matrix[0] and "'=cmd" in [row[0] for row in matrix[1:]]
    tests = read_csv(documents["quality-pair-tests.csv"])
    assert all(not cell.startswith(("=", "+")) for row in tests for cell in row[:2])
    assert "=cmd" in json.loads(documents["quality-leaderboard.json"])["reference"] + "".join(
        json.loads(documents["quality-win-rates.json"])["conditions"]
    )
    # numbers stay numbers: the CSV's log strengths are the raw values
    raw = {row["condition"]: row for row in json.loads(documents["quality-leaderboard.json"])["rows"]}
    for row in leaderboard[1:]:
        assert float(row[2]) == raw[restore(row[1])]["log_strength"]


def test_pair_tests_put_the_stronger_first_and_adjust_across_pairs(result, documents):
    rows = json.loads(documents["quality-pair-tests.json"])["rows"]
    rank = {condition: k for k, condition in enumerate(result.leaderboard)}
    assert len(rows) == 10 and all(rank[row["first"]] < rank[row["second"]] for row in rows)
    assert all(row["difference"] >= 0 for row in rows)
    assert [row["p_adjusted"] for row in rows] == pytest.approx(adjust([row["p"] for row in rows], method="holm"))
    assert "p (Holm)" in documents["quality-pair-tests.md"].splitlines()[0]
    # a row turned round keeps its SEs and df: the same test, read from the other side
    by_pair = {frozenset((t.first, t.second)): t for t in result.pair_tests}
    for row in rows:
        test = by_pair[frozenset((row["first"], row["second"]))]
        assert (row["df"], row["model_se"], row["se"], abs(row["t"])) == (test.df, test.model_se, test.se, abs(test.z))
        assert row["df"] > 0 and row["model_se"] > 0


def test_the_study_adjusts_its_pair_tests_holm_by_default_or_bh():
    frame = simulate(1_500, seed=8)
    holm = pairwise_study(frame, seed=1, resamples=10)
    bh = pairwise_study(frame, seed=1, resamples=10, adjustment="bh")
    p = [t.p for t in holm.pair_tests]
    assert holm.adjustment == "holm" and [t.p_adjusted for t in holm.pair_tests] == adjust(p, method="holm")
    assert bh.adjustment == "bh" and [t.p_adjusted for t in bh.pair_tests] == adjust(p, method="bh")
    assert all(t.p <= t.p_adjusted for t in holm.pair_tests)
    with pytest.raises(ValueError, match="Unknown adjustment 'bonferroni'"):
        pairwise_study(frame, seed=1, resamples=10, adjustment="bonferroni")


def test_markdown_escapes_a_pipe_in_a_name(result):
    text = table_markdown(pairwise_tables(result)["leaderboard"])
    row = next(line for line in text.splitlines() if "ours" in line)
    assert "ours \\| new" in row and row.count(" | ") == 6


@needs_tex
@pytest.mark.parametrize("table", TABLES)
def test_every_latex_table_compiles_with_every_name_escaped(documents, table, tmp_path):
    latex = documents[f"quality-{table}.tex"]
    compiled(latex, tmp_path)  # no error, nothing overfull
    assert r"a\_b \& 50\% \#1 \{x\}" in latex
    assert r"\label{tab:pairwise-" + table + "-image-quality}" in latex


@needs_tex
@pytest.mark.parametrize("table", TABLES)
def test_the_tables_of_five_conditions_fit_a_column(table, tmp_path):
    names = {"a": "SD-2.1", "b": "SD-XL", "c": "PixArt", "d": "+ entropy", "e": "Kandinsky 3"}
    frame = simulate(3_000, seed=3)
    for side in ("left", "right"):
        frame[side] = frame[side].map(names)
    latex = pairwise_table_documents(pairwise_study(frame, seed=1, resamples=50))[f"pairwise-{table}.tex"]
    assert r"\begin{table}" in latex
    sizes = compiled(latex, tmp_path)
    assert sizes["natural"] <= sizes["column"], sizes


@needs_tex
def test_a_large_win_rate_matrix_goes_across_the_page(tmp_path):
    strengths = np.linspace(-1, 1, 8)
    rng = np.random.default_rng(2)
    rows = []
    for k in range(4_000):
        i, j = rng.choice(8, size=2, replace=False)
        p = 1 / (1 + np.exp(strengths[j] - strengths[i]))
        rows.append((f"r{k % 20}", f"p{k % 30}", f"method {i}", f"method {j}", "left" if rng.random() < p else "right"))
    frame = pd.DataFrame(rows, columns=["annotator", "item", "left", "right", "choice"])
    result = pairwise_study(frame, seed=1, resamples=20)
    latex = pairwise_table_documents(result)["pairwise-win-rates.tex"]
    assert r"\begin{table*}" in latex
    sizes = compiled(latex, tmp_path)
    assert sizes["natural"] <= sizes["text"], sizes


def test_a_bad_documents_name_is_refused_by_name(result):
    with pytest.raises(ValueError, match="name must be"):
        pairwise_table_documents(result, name="../x")
    with pytest.raises(ValueError, match="name must be"):
        pairwise_plot_documents(result, name="a b")


@pytest.mark.parametrize("width", list(WIDTHS))
def test_the_heatmap_writes_each_win_rate_in_its_cell(result, width):
    figure = pairwise_figures(result, "Image quality", width)["win-rates"]
    axes = figure.axes[0]
    order = list(result.leaderboard)
    cells = {(round(text.get_position()[1]), round(text.get_position()[0])): text.get_text() for text in axes.texts}
    expected = {}
    for r, row in enumerate(order):
        for c, column in enumerate(order):
            if r != c:
                rate = result.win_rate[result.conditions.index(row)][result.conditions.index(column)]
                expected[(r, c)] = numbers.number(rate)
    assert cells == expected
    assert axes.get_xlabel() == "column condition" and axes.get_ylabel() == "row condition"
    assert [label.get_text() for label in axes.get_yticklabels()] == order
    assert [label.get_text() for label in axes.get_xticklabels()] == order
    assert "row beats column" in figure.get_suptitle() and "Image quality" in figure.get_suptitle()
    (mesh,) = axes.collections  # vector cells: the SVG embeds no raster picture
    assert not axes.get_images() and not mesh.get_rasterized()
    assert "row beats column" in mesh.colorbar.ax.get_ylabel() and not mesh.colorbar.solids.get_rasterized()
    assert mesh.get_cmap().name.startswith("cividis") and mesh.get_clim() == (0.0, 1.0)
    svg = figure_bytes(figure, "svg").decode()
    assert "<image" not in svg and "data:image" not in svg


def test_the_heatmap_colours_read_in_greyscale(result):
    """Lightness rises with the win rate, so the cells' order survives printing in grey."""
    (mesh,) = pairwise_figures(result, width="single")["win-rates"].axes[0].collections
    rgba = mesh.get_cmap()(np.linspace(0, 1, 11))
    grey = 0.2126 * rgba[:, 0] + 0.7152 * rgba[:, 1] + 0.0722 * rgba[:, 2]
    assert (np.diff(grey) > 0).all()


@pytest.mark.parametrize("width", list(WIDTHS))
def test_the_forest_plot_shows_the_leaderboard(result, width):
    figure = pairwise_figures(result, width=width)["strengths"]
    axes = figure.axes[0]
    labels = [label.get_text() for label in axes.get_yticklabels()]
    positions = list(axes.get_yticks())
    top_down = [label for _, label in sorted(zip(positions, labels, strict=True), reverse=True)]
    assert top_down == [name + (" (ref.)" if name == result.reference else "") for name in result.leaderboard]
    (points,) = [line for line in axes.get_lines() if line.get_marker() == "o"]
    strengths = {s.condition: s.log_strength for s in result.strengths}
    by_row = dict(zip(points.get_ydata(), points.get_xdata(), strict=True))
    assert [by_row[y] for y in sorted(by_row, reverse=True)] == [strengths[c] for c in result.leaderboard]
    assert axes.get_xlabel() == f"log strength relative to {result.reference}"
    low, high = axes.get_xlim()
    assert all(low <= bound <= high for s in result.strengths for bound in s.ci)


@pytest.mark.parametrize("width", list(WIDTHS))
def test_every_text_lies_inside_the_figure_and_apart(result, width):
    long = pairwise_figures(result, "How well does the image match the caption, all things considered?", width)
    for name, figure in long.items():
        assert figure.get_size_inches()[0] == pytest.approx(WIDTHS[width])
        assert texts_outside(figure) == [], (name, width)
        assert texts_overlapping(figure) == [], (name, width)


def test_every_figure_in_every_format_and_the_same_bytes_twice(result):
    documents = pairwise_plot_documents(result, name="quality")
    assert set(documents) == {
        f"quality-{plot}-{width}.{fmt}" for plot in PAIRWISE_PLOTS for width in WIDTHS for fmt in FIGURE_FORMATS
    }
    for name, data in documents.items():
        if name.endswith(".pdf"):
            assert data.startswith(b"%PDF-") and b"Type3" not in data, name
        elif name.endswith(".png"):
            inches = WIDTHS[name.rsplit("-", 1)[1].split(".")[0]]
            assert int.from_bytes(data[16:20], "big") == round(inches * 300), name
        else:
            assert b"=cmd" in data, name  # SVG keeps the text as text
    again = pairwise_figures(result, width="single")["win-rates"]
    assert figure_bytes(again, "svg") == documents["quality-win-rates-single.svg"]
