"""The results table: LaTeX that compiles and fits a column (narrow) and the page (wide) of a two-column paper with
every label escaped; the same numbers at the same precision on the web page, in summary.json, Markdown and LaTeX;
labels from the settings and from --label, and bad ones refused by name."""

import io
import json
import re
import shutil
import subprocess

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from analysis.labels import Labels, labels_with, parse_label_flags
from analysis.stats.report import adjust_reports, study_report
from analysis.tables import COLUMNS, latex_documents, table_cells
from tests.analysis.simulate import simulate_ratings
from tests.analysis.test_exports import rate_all
from tests.factories import make_open_study, name_design

PAPER_LABELS = Labels("SD-2.1", "+ entropy scaling", "Image–text consistency")
NASTY = Labels(baseline="a_b & 50% #1 $x {y}", ours="~ours^ \\ (new)", question="score_%")
PDFLATEX = shutil.which("pdflatex")
needs_tex = pytest.mark.skipif(
    PDFLATEX is None,
    reason="pdflatex is not installed (Debian: texlive-latex-base, texlive-latex-recommended, texlive-science; "
    ".ci/run installs them)",
)
#: A two-column paper: the article class's two-column page, its narrowest common column (229.5 pt).
PAPER = r"""\documentclass[twocolumn]{article}
\usepackage[T1]{fontenc}
\usepackage{booktabs,siunitx,graphicx}
\newsavebox\evalsitebox
\begin{document}
TABLE
\sbox\evalsitebox{TABULAR}
\typeout{EVALSITE natural=\the\wd\evalsitebox, column=\the\columnwidth, text=\the\textwidth}
\end{document}
"""


@pytest.fixture(scope="module")
def reports():
    studies = [(1, "sd21_512"), (2, "sd21_768"), (3, "sd21_1024")]
    return adjust_reports(
        [study_report(simulate_ratings(annotators=20, items=30, seed=seed), study=slug) for seed, slug in studies]
    )


def compiled(table: str, folder) -> dict[str, float]:
    """Compile ``table`` in a two-column article: its natural width (the tabular as the float sets it, before any
    shrinking), the column and the text width in points; fails with the log's error when it does not compile."""
    start, end = table.index(r"\footnotesize"), table.rindex(r"\end{tabular}}") + len(r"\end{tabular}")
    tabular = table[start:end].replace(r"\resizebox{\ifdim\width>\columnwidth\columnwidth\else\width\fi}{!}{%", "")
    tabular = tabular.replace(r"\resizebox{\ifdim\width>\textwidth\textwidth\else\width\fi}{!}{%", "")
    # set in the document itself: siunitx's last S cell cannot end at the end of an \input file
    (folder / "paper.tex").write_text(PAPER.replace("TABULAR", tabular).replace("TABLE", table), encoding="utf-8")
    run = subprocess.run(
        [PDFLATEX, "-interaction=nonstopmode", "-halt-on-error", "paper.tex"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    log = (folder / "paper.log").read_text(encoding="latin-1")
    assert run.returncode == 0, "\n".join(line for line in log.splitlines() if line.startswith("!"))[:2000]
    assert "Overfull \\hbox" not in log
    found = re.search(r"EVALSITE natural=([\d.]+)pt, column=([\d.]+)pt, text=([\d.]+)pt", log)
    return dict(zip(("natural", "column", "text"), (float(value) for value in found.groups()), strict=True))


@needs_tex
def test_the_narrow_table_compiles_and_fits_a_column(reports, tmp_path):
    documents = latex_documents(reports, [PAPER_LABELS] * 3)
    sizes = compiled(documents["summary.tex"], tmp_path)
    assert sizes["natural"] <= sizes["column"], sizes


@needs_tex
def test_the_wide_table_compiles_and_fits_the_page(reports, tmp_path):
    documents = latex_documents(reports, [PAPER_LABELS] * 3)
    sizes = compiled(documents["summary-wide.tex"], tmp_path)
    assert sizes["natural"] <= sizes["text"], sizes


@needs_tex
@pytest.mark.parametrize("name", ["summary.tex", "summary-wide.tex"])
def test_every_label_is_escaped_and_long_ones_still_fit(reports, tmp_path, name):
    """Labels full of LaTeX's special characters compile; long ones are shrunk to the width, not past it."""
    documents = latex_documents(reports, [NASTY] * 3)
    compiled(documents[name], tmp_path)  # no error, nothing overfull
    assert r"a\_b \& 50\% \#1 \$x \{y\}" in documents[name]


def test_the_numbers_agree_everywhere(client, django_user_model, tmp_path):
    """One formatting function: the page's table, summary.json's, Markdown's and LaTeX's cells are the same text."""
    study, annotators = make_open_study(slug="agree", prompts=3, annotators=2, base_seed=3, steps=4)
    rate_all(study, annotators)
    name_design(study, baseline="SD-2.1", ours="+ entropy scaling")
    call_command("export_results", "agree", "--format", "all", "--out", str(tmp_path), stdout=io.StringIO())
    table = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))["table"]
    (cells,) = table["rows"]
    assert table["header"][3:6] == ["SD-2.1", "+ entropy scaling", "+ entropy scaling − SD-2.1 [95% CI]"]
    markdown = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert "| " + " | ".join(cells) + " |" in markdown
    assert "| " + " | ".join(table["header"]) + " |" in markdown
    wide = (tmp_path / "summary-wide.tex").read_text(encoding="utf-8")
    row = next(line for line in wide.splitlines() if line.startswith("agree & "))
    as_latex = [cell.replace("$-$", "−").replace(r"$\pm$", "±").replace("--", "–") for cell in row[:-3].split(" & ")]
    by_column = dict(zip(COLUMNS, cells, strict=True))
    for key, text in zip(COLUMNS, as_latex, strict=True):
        expected = by_column[key].replace("< ", "<").replace("−", "-") if key in ("d_z", "p", "p_adjusted") else None
        assert text == (expected or by_column[key]), key
    staff = django_user_model.objects.create_superuser("staff", "s@example.org", "pw")
    client.force_login(staff)
    page = client.get("/results/agree/").content.decode()
    for cell in cells:
        assert f"<td>{cell}</td>" in page.replace("&lt;", "<").replace("&#x27;", "'")
    # the adjusted p the page shows is summary.json's (it once showed "–" for a p the summary gave)
    assert cells[-1] != "–" and f"<td>{cells[-1]}</td>" in page.replace("&lt;", "<")


def test_table_cells_round_each_kind_once(reports):
    cells = dict(zip(COLUMNS, table_cells(reports[0]), strict=True))
    assert re.fullmatch(r"\d\.\d\d ± \d\.\d\d", cells["baseline"])
    assert re.fullmatch(r"[+−]\d\.\d\d \[[+−]\d\.\d\d, [+−]\d\.\d\d\]", cells["difference"])
    assert re.fullmatch(r"(< 0\.001|[01]\.\d{3})", cells["p"])
    assert re.fullmatch(r"\d+ / \d+ / \d+", cells["shares"])


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["baseline"], "--label 'baseline': expected NAME=TEXT with NAME one of baseline, ours, question."),
        (["model=SD-2.1"], "--label 'model=SD-2.1': Unknown label 'model'; the labels are baseline, ours, question."),
        (["ours="], "--label 'ours=': The ours label is empty"),
        (["ours=a", "ours=b"], "--label 'ours=b': the ours label is given twice."),
        ([f"question={'x' * 121}"], "The question label is 121 characters long; at most 120 are allowed."),
    ],
)
def test_bad_label_flags_are_refused_by_name(flags, message):
    with pytest.raises(ValueError) as caught:
        parse_label_flags(flags)
    assert message in str(caught.value)


def test_the_two_conditions_need_different_labels():
    with pytest.raises(ValueError, match="both 'Same'; give them different names"):
        labels_with(Labels(), {"baseline": "Same", "ours": "Same"})


@pytest.mark.django_db
def test_label_flags_go_over_the_studys_names_in_every_document(tmp_path):
    study, annotators = make_open_study(slug="flags", prompts=3, annotators=2, base_seed=5, steps=4)
    rate_all(study, annotators)
    name_design(study, baseline="Base", ours="Study's ours")
    out = tmp_path / "out"
    call_command(
        "export_results",
        "flags",
        "--format",
        "all",
        "--out",
        str(out),
        "--label",
        "ours=+ entropy scaling",
        stdout=io.StringIO(),
    )
    assert "| Base | + entropy scaling | + entropy scaling − Base [95% CI] |" in (out / "summary.md").read_text()
    assert r"+ entropy scaling $-$ Base" in (out / "summary-wide.tex").read_text()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["studies"][0]["labels"] == {"baseline": "Base", "ours": "+ entropy scaling", "question": "Score"}
    assert b"+ entropy scaling" in (out / "flags-scores-double.svg").read_bytes()
    with pytest.raises(CommandError, match="Unknown label 'colour'"):
        call_command("export_results", "flags", "--label", "colour=red", stdout=io.StringIO())
    with pytest.raises(CommandError, match="Study 'flags': The baseline and ours labels are both 'Base'"):
        call_command("export_results", "flags", "--label", "ours=Base", stdout=io.StringIO())


@pytest.mark.django_db
def test_a_study_refuses_two_conditions_of_one_name():
    study, _ = make_open_study(slug="admin-labels", prompts=2, annotators=1)
    condition = study.conditions.get(key="ours")
    condition.name = "Baseline"
    with pytest.raises(ValidationError, match="Condition with this Study and Name already exists"):
        condition.full_clean()
