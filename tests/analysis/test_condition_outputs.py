"""Tables and figures of a K-condition rating study: LaTeX that compiles with every condition name escaped, the
means table's condition columns reference first, the contrasts' numbers as the comparison has them (written by
``analysis.numbers``), CSV cells neutralised against formulas while JSON keeps the raw values, the forest plot's
labels and numbers equal to the contrasts with every text inside the figure, and the same bytes on every export."""

import csv
import io
import json

import numpy as np
import pandas as pd
import pytest

from analysis import numbers
from analysis.condition_plots import CONDITION_PLOTS, condition_figures, condition_plot_documents
from analysis.condition_tables import TABLES, condition_table_documents, ordered_contrasts
from analysis.csv_cells import restore
from analysis.plots import FIGURE_FORMATS, WIDTHS, figure_bytes
from analysis.stats.conditions import compare_conditions
from analysis.stats.paired_contrasts import paired_contrasts
from tests.analysis.test_plots import texts_outside, texts_overlapping
from tests.analysis.test_tables import compiled, needs_tex

#: The levels as the analysis orders them: the reference, then the others sorted.
CONDITIONS = ("plain", "=cmd", "a_b & 50% #1 {x}", "entropy")
EFFECTS = (0.0, 0.8, -0.4, 0.3)


def simulate(annotators=30, items=20, seed=5) -> pd.DataFrame:
    """Every annotator scores the four images of every prompt: condition effects, crossed intercepts, noise."""
    rng = np.random.default_rng(seed)
    k = len(CONDITIONS)
    a = np.repeat(np.arange(annotators), items * k)
    i = np.tile(np.repeat(np.arange(items), k), annotators)
    c = np.tile(np.arange(k), annotators * items)
    latent = (
        5.0
        + np.asarray(EFFECTS)[c]
        + rng.normal(0, 0.7, annotators)[a]
        + rng.normal(0, 0.9, items)[i]
        + rng.normal(0, 1.5, a.size)
    )
    score = np.clip(np.rint(latent), 1, 10)
    return pd.DataFrame({"annotator": a, "item": i, "condition": np.asarray(CONDITIONS)[c], "score": score})


@pytest.fixture(scope="module")
def comparison():
    return compare_conditions(simulate(), reference="plain")


@pytest.fixture(scope="module")
def documents(comparison):
    return condition_table_documents(comparison, name="quality", criterion="Image quality")


def read_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def markdown_rows(text: str) -> list[list[str]]:
    """The table's cells, header first (the separator line left out)."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines[:1] + lines[2:]]


def test_every_table_in_every_format(documents):
    assert set(documents) == {f"quality-{table}.{ext}" for table in TABLES for ext in ("tex", "md", "csv", "json")}


def test_the_means_table_has_a_column_per_condition_reference_first(comparison, documents):
    assert comparison.conditions == CONDITIONS
    header, *rows = markdown_rows(documents["quality-means.md"])
    assert header == ["Condition", *CONDITIONS]
    cells = {row[0]: row[1:] for row in rows}
    assert list(cells) == ["Model mean", "95% CI", "Raw mean (SD)", "Scores"]
    described = {row.condition: row for row in comparison.descriptives}
    for k, condition in enumerate(CONDITIONS):
        mean = comparison.mean(condition)
        assert cells["Model mean"][k] == numbers.number(mean.estimate)
        assert cells["95% CI"][k] == f"[{numbers.number(mean.ci[0])}, {numbers.number(mean.ci[1])}]"
        raw = described[condition]
        assert cells["Raw mean (SD)"][k] == f"{numbers.number(raw.mean)} ({numbers.number(raw.sd)})"
        assert cells["Scores"][k] == str(raw.n) == "600"
    notes = documents["quality-means.md"]
    assert comparison.formula in notes and "REML, Satterthwaite df" in notes and "reference: plain" in notes
    data = json.loads(documents["quality-means.json"])
    assert [row["condition"] for row in data["rows"]] == list(CONDITIONS)
    assert [row["reference"] for row in data["rows"]] == [True, False, False, False]
    assert data["rows"][1]["estimate"] == comparison.mean("=cmd").estimate


def test_the_contrast_rows_are_the_comparisons_numbers(comparison, documents):
    header, *rows = markdown_rows(documents["quality-contrasts.md"])
    assert header == ["Contrast", "Estimate", "SE", "df", "t", "p", "p (Holm)", "95% CI"]
    assert len(rows) == len(comparison.contrasts) == 6
    # the three contrasts with the reference first
    assert [row[0] for row in rows[:3]] == [f"{name} − plain" for name in CONDITIONS[1:]]
    for row in rows:
        condition, versus = row[0].split(" − ")
        contrast = comparison.contrast(condition, versus)
        assert contrast in comparison.contrasts  # as stored: later level − earlier
        assert row[1:] == [
            numbers.signed(contrast.estimate),
            numbers.number(contrast.se),
            numbers.number(contrast.df, 1),
            numbers.number(contrast.t),
            numbers.p_value(contrast.p),
            numbers.p_value(contrast.p_adjusted),
            numbers.interval(*contrast.ci),
        ]
    test = comparison.omnibus
    assert f"F(3, {numbers.number(test.denominator_df, 1)}) = {numbers.number(test.F)}" in "".join(
        documents["quality-contrasts.md"].splitlines()
    )
    data = json.loads(documents["quality-contrasts.json"])
    assert data["adjustment"] == "holm" and data["ci_adjustment"] == "bonferroni"
    assert data["omnibus"]["F"] == test.F and data["omnibus"]["denominator_df"] == test.denominator_df
    by_label = {row["label"]: row for row in data["rows"]}
    for contrast in comparison.contrasts:
        row = by_label[contrast.label]
        assert (row["estimate"], row["se"], row["df"], row["t"], row["p"], row["p_adjusted"]) == (
            contrast.estimate,
            contrast.se,
            contrast.df,
            contrast.t,
            contrast.p,
            contrast.p_adjusted,
        )
        assert row["ci"] == list(contrast.ci) and row["reference"] == (contrast.versus == "plain")
    omnibus = json.loads(documents["quality-omnibus.json"])
    assert (omnibus["F"], omnibus["numerator_df"], omnibus["p"]) == (test.F, 3, test.p)


def test_the_adjusted_column_names_the_comparisons_adjustment():
    tukey = compare_conditions(simulate(annotators=12, items=8, seed=2), reference="plain", adjustment="tukey")
    documents = condition_table_documents(tukey)
    assert "p (Tukey)" in documents["conditions-contrasts.md"].splitlines()[0]
    assert "Tukey-adjusted" in documents["conditions-contrasts.md"]
    assert r"\mathrm{Tukey}" in documents["conditions-contrasts.tex"]


def test_csv_cells_are_neutralised_and_json_keeps_the_raw_names(comparison, documents):
    means = read_csv(documents["quality-means.csv"])
    assert [row[0] for row in means[1:]] == ["plain", "'=cmd", *CONDITIONS[2:]]
    assert [restore(row[0]) for row in means[1:]] == list(CONDITIONS)
    contrasts = read_csv(documents["quality-contrasts.csv"])
    assert contrasts[0][:2] == ["condition", "versus"]
    cells = [cell for row in contrasts[1:] for cell in row[:2]]
    assert "'=cmd" in cells and "=cmd" not in cells
    # numbers stay the raw values
    for row in contrasts[1:]:
        contrast = comparison.contrast(restore(row[0]), restore(row[1]))
        assert float(row[2]) == contrast.estimate and float(row[7]) == contrast.p_adjusted
    for table in ("means", "contrasts", "omnibus"):
        data = json.loads(documents[f"quality-{table}.json"])
        assert data["conditions"] == list(CONDITIONS) and data["criterion"] == "Image quality"
    rows = json.loads(documents["quality-contrasts.json"])["rows"]
    assert "=cmd" in {row["versus"] for row in rows} and rows[0]["condition"] == "=cmd"


def test_a_bad_documents_name_is_refused_by_name(comparison):
    with pytest.raises(ValueError, match="name must be"):
        condition_table_documents(comparison, name="../x")
    with pytest.raises(ValueError, match="name must be"):
        condition_plot_documents(comparison, name="a b")


@needs_tex
@pytest.mark.parametrize("table", TABLES)
def test_every_latex_table_compiles_with_every_name_escaped(documents, table, tmp_path):
    latex = documents[f"quality-{table}.tex"]
    compiled(latex, tmp_path)  # no error, nothing overfull
    assert r"\label{tab:conditions-" + table + "-image-quality}" in latex
    if table == "contrasts":
        assert r"a\_b \& 50\% \#1 \{x\} $-$ plain" in latex
    elif table == "means":  # the header breaks a long name into lines
        assert r"\#1 \{x\}" in latex and r"a\_b \&" in latex


@needs_tex
@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("k", [3, 4])
def test_tables_of_ordinary_names_fit_a_column_or_the_page(table, k, tmp_path):
    names = {"plain": "SD-2.1", "=cmd": "SD-XL", "a_b & 50% #1 {x}": "PixArt", "entropy": "+ entropy"}
    frame = simulate(annotators=12, items=8, seed=3)
    frame["condition"] = frame.condition.map(names)
    frame = frame[frame.condition.isin(list(names.values())[:k])]
    latex = condition_table_documents(compare_conditions(frame, reference="SD-2.1"))[f"conditions-{table}.tex"]
    sizes = compiled(latex, tmp_path)
    if table == "contrasts" or (table == "means" and k == 4):  # eight columns, or four of CIs: across the page
        assert r"\begin{table*}" in latex and sizes["natural"] <= sizes["text"], sizes
    else:
        assert r"\begin{table}" in latex and sizes["natural"] <= sizes["column"], sizes


@needs_tex
def test_a_means_table_of_many_conditions_goes_across_the_page(tmp_path):
    rng = np.random.default_rng(4)
    names = [f"method {k}" for k in range(7)]
    rows = [(a, i, name, float(rng.integers(1, 11))) for a in range(6) for i in range(5) for name in names]
    frame = pd.DataFrame(rows, columns=["annotator", "item", "condition", "score"])
    latex = condition_table_documents(compare_conditions(frame, reference="method 0"))["conditions-means.tex"]
    assert r"\begin{table*}" in latex
    sizes = compiled(latex, tmp_path)
    assert sizes["natural"] <= sizes["text"], sizes


@pytest.mark.parametrize("width", list(WIDTHS))
def test_the_forest_plot_shows_every_contrast(comparison, width):
    figure = condition_figures(comparison, "Image quality", width)["contrasts"]
    axes = figure.axes[0]
    contrasts = ordered_contrasts(comparison)
    positions = list(axes.get_yticks())
    assert positions == sorted(positions, reverse=True)  # the first contrast on top
    shown = ["".join(label.get_text().split()) for label in axes.get_yticklabels()]
    assert shown == ["".join(row.label.split()) for row in contrasts]
    (right,) = [child for child in axes.child_axes]
    assert [label.get_text() for label in right.get_yticklabels()] == [
        f"{numbers.signed(row.estimate)} {numbers.interval(*row.ci)}" for row in contrasts
    ]
    points = {}
    for line in axes.get_lines():
        if line.get_marker() in ("o", "s"):
            points.update({y: (x, line.get_marker()) for x, y in zip(line.get_xdata(), line.get_ydata(), strict=True)})
    assert [points[y][0] for y in positions] == [row.estimate for row in contrasts]
    # the contrasts with the reference are marked
    assert [points[y][1] for y in positions] == ["o" if row.versus == "plain" else "s" for row in contrasts]
    (intervals,) = axes.collections
    segments = intervals.get_segments()
    assert [tuple(segment[:, 0]) for segment in segments] == [row.ci for row in contrasts]
    zero = [line for line in axes.get_lines() if line.get_linestyle() == "--"]
    assert len(zero) == 1 and tuple(zero[0].get_xdata()) == (0, 0)
    low, high = axes.get_xlim()
    assert all(low <= bound <= high for row in contrasts for bound in row.ci)
    assert "Image quality" in figure.get_suptitle() and "Bonferroni" in figure.get_suptitle()


@pytest.mark.parametrize("width", list(WIDTHS))
def test_the_means_plot_shows_each_condition_reference_first(comparison, width):
    figure = condition_figures(comparison, width=width)["means"]
    axes = figure.axes[0]
    labels = [label.get_text() for label in axes.get_yticklabels()]
    assert ["".join(label.split()) for label in labels] == [
        "".join((name + (" (ref.)" if name == "plain" else "")).split()) for name in CONDITIONS
    ]
    (points,) = [line for line in axes.get_lines() if line.get_marker() == "o"]
    assert list(points.get_xdata()) == [comparison.mean(name).estimate for name in CONDITIONS]


@pytest.mark.parametrize("width", list(WIDTHS))
def test_every_text_lies_inside_the_figure_and_apart(comparison, width):
    figures = condition_figures(comparison, "How well does the image match the caption, all things considered?", width)
    for name, figure in figures.items():
        assert figure.get_size_inches()[0] == pytest.approx(WIDTHS[width])
        assert texts_outside(figure) == [], (name, width)
        assert texts_overlapping(figure) == [], (name, width)


def test_every_figure_in_every_format_and_the_same_bytes_twice(comparison):
    documents = condition_plot_documents(comparison, name="quality")
    assert set(documents) == {
        f"quality-{plot}-{width}.{fmt}" for plot in CONDITION_PLOTS for width in WIDTHS for fmt in FIGURE_FORMATS
    }
    for name, data in documents.items():
        if name.endswith(".pdf"):
            assert data.startswith(b"%PDF-") and b"Type3" not in data, name
        elif name.endswith(".png"):
            inches = WIDTHS[name.rsplit("-", 1)[1].split(".")[0]]
            assert int.from_bytes(data[16:20], "big") == round(inches * 300), name
        else:
            assert b"=cmd" in data, name  # SVG keeps the text as text
    again = condition_figures(comparison, width="single")
    for plot in CONDITION_PLOTS:
        for fmt in ("svg", "pdf"):
            assert figure_bytes(again[plot], fmt) == documents[f"quality-{plot}-single.{fmt}"], (plot, fmt)


@needs_tex
def test_the_contrasts_table_takes_each_pairs_own_model_when_given(comparison, tmp_path):
    paired = paired_contrasts(simulate(), reference="plain")
    documents = condition_table_documents(comparison, name="quality", paired=paired)
    data = json.loads(documents["quality-contrasts.json"])
    assert data["formula"] == paired.formula and data["global_p"] == paired.global_p
    assert data["adjustment"] == "holm" and data["ci_adjustment"] == "bonferroni" and "omnibus" not in data
    rows = {(row["condition"], row["versus"]): row for row in data["rows"]}
    assert len(rows) == 6
    for contrast in paired.contrasts:
        row = rows[(contrast.condition, contrast.versus)]
        assert (row["estimate"], row["se"], row["df"], row["p_adjusted"]) == (
            contrast.estimate,
            contrast.se,
            contrast.df,
            contrast.p_adjusted,
        )
        assert row["se"] != comparison.contrast(contrast.condition, contrast.versus).se  # not the comparison's
    markdown = documents["quality-contrasts.md"]
    assert "Each pair of conditions by its own model" in markdown and "Global test" in markdown
    assert "Omnibus" not in markdown
    compiled(documents["quality-contrasts.tex"], tmp_path)
    # the means and the omnibus test stay the comparison's
    assert (
        documents["quality-means.json"] == condition_table_documents(comparison, name="quality")["quality-means.json"]
    )


def test_the_forest_plot_draws_each_pairs_own_model_when_given(comparison):
    paired = paired_contrasts(simulate(), reference="plain")
    figure = condition_figures(comparison, "Image quality", "double", paired=paired)["contrasts"]
    (right,) = figure.axes[0].child_axes
    assert [label.get_text() for label in right.get_yticklabels()] == [
        f"{numbers.signed(row.estimate)} {numbers.interval(*row.ci)}" for row in ordered_contrasts(paired)
    ]
    assert ordered_contrasts(paired) != ordered_contrasts(comparison)
    assert "Bonferroni" in figure.get_suptitle()
    documents = condition_plot_documents(comparison, name="q", paired=paired)
    assert documents["q-means-single.svg"] == condition_plot_documents(comparison, name="q")["q-means-single.svg"]
