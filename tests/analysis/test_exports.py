"""export_results: every format, to a folder and to stdout, and its refusals."""

import csv
import io
import json

import numpy as np
import pandas as pd
import pytest
from django.core.management import CommandError, call_command

from annotations import services
from annotations.models import DEFAULT_QUESTION, Study
from tests.factories import make_open_study

pytestmark = pytest.mark.django_db

# (baseline, ours) per annotator, per assignment order
SCORES = [[(3, 8), (5, 5), (6, 4)], [(2, 9), (4, 7), (6, 6)]]


def rate_all(study: Study, annotators, scores=SCORES) -> None:
    for annotator, plan in zip(annotators, scores, strict=False):
        services.give_consent(annotator=annotator)
        for assignment, (baseline, ours) in zip(annotator.assignments.order_by("order"), plan, strict=False):
            left, right = (ours, baseline) if assignment.ours_on_left else (baseline, ours)
            services.submit_rating(
                annotator_id=annotator.pk, assignment_id=assignment.pk, scores={"left": left, "right": right}
            )


@pytest.fixture
def rated():
    study, annotators = make_open_study(slug="sd21_768px", prompts=3, annotators=2, base_seed=40, steps=4)
    rate_all(study, annotators)
    return study


def export(*args) -> str:
    out = io.StringIO()
    call_command("export_results", *args, stdout=out)
    return out.getvalue()


def test_csv_to_stdout(rated):
    text = export("sd21_768px", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert text.splitlines()[0] == "study,annotator,item,condition,criterion,score,position,seconds"
    assert len(rows) == 12
    assert {row["study"] for row in rows} == {"sd21_768px"}
    assert sorted(int(row["score"]) for row in rows if row["condition"] == "ours") == sorted(
        ours for plan in SCORES for _, ours in plan
    )
    # each rating's two rows sit on opposite sides
    for baseline, ours in zip(rows[0::2], rows[1::2], strict=False):
        assert (baseline["condition"], ours["condition"]) == ("baseline", "ours")
        assert {baseline["position"], ours["position"]} == {"left", "right"}


def test_json_document(rated, tmp_path):
    written = export("sd21_768px", "--format", "json", "--out", str(tmp_path))
    assert written.strip() == f"Wrote {tmp_path / 'summary.json'}"
    document = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert json.loads(export("sd21_768px", "--format", "json")) == document
    assert document["schema"] == "evalsite.results/1"
    assert document["adjustment"]["method"] == "holm"

    study = document["studies"][0]
    assert study["study"] == "sd21_768px"
    assert study["counts"] == {"annotators": 2, "items": 3, "ratings": 6, "scores": 12}
    baseline = [b for plan in SCORES for b, _ in plan]
    ours = [o for plan in SCORES for _, o in plan]
    descriptives = study["descriptives"]
    assert descriptives["baseline"]["mean"] == pytest.approx(np.mean(baseline))
    assert descriptives["ours"]["sd"] == pytest.approx(np.std(ours, ddof=1))
    d = np.array(ours) - np.array(baseline)
    assert descriptives["difference_mean"] == pytest.approx(d.mean())
    assert descriptives["shares"]["wins"] == int((d > 0).sum())
    effect = study["mixed_model"]["effect"]
    assert effect["estimate"] == pytest.approx(d.mean())  # balanced: the mixed-model estimate is the mean
    assert effect["ci"][0] < effect["estimate"] < effect["ci"][1]
    assert 0 < effect["p"] <= 1 and study["p_adjusted"] == pytest.approx(effect["p"])  # one study: Holm = p
    assert study["mixed_model"]["model"]
    for key in (
        "by_item",
        "by_annotator",
        "sign_test",
        "bootstrap",
        "effect_sizes",
        "position",
        "agreement",
        "exclusions",
        "flagged_annotators",
    ):
        assert key in study, key
    assert study["by_item"]["paired_t"]["p_value"] is not None
    assert study["effect_sizes"]["d_z_unit"] == "per-item mean differences"

    protocol = study["protocol"]
    assert protocol["model"] == "unused"
    assert protocol["steps"] == 4
    assert protocol["seeds"] == {"base": 40, "min": 40, "max": 42}
    assert protocol["question"] == DEFAULT_QUESTION
    assert protocol["instructions"] == rated.instructions and protocol["consent_text"] == rated.consent_text
    assert protocol["instructions"] != protocol["consent_text"]
    assert (protocol["width"], protocol["height"], protocol["pairs"], protocol["pairs_generated"]) == (64, 64, 3, 3)
    assert protocol["annotators_finished"] == 2
    assert document["software"]["python"]
    for package in ("django", "numpy", "scipy", "statsmodels", "matplotlib"):
        assert package in document["software"]


def test_json_matches_the_pure_report(rated):
    """The export is the report of the tidy CSV: recompute it from the CSV alone."""
    from analysis.stats.report import study_report

    frame = pd.read_csv(io.StringIO(export("sd21_768px", "--format", "csv")))
    report = study_report(frame, study="sd21_768px", seed=0)
    document = json.loads(export("sd21_768px", "--format", "json"))
    assert document["studies"][0]["mixed_model"] == json.loads(json.dumps(report.as_dict()["mixed_model"]))
    assert document["studies"][0]["bootstrap"]["ci"] == pytest.approx(list(report.bootstrap.ci))


def test_exclusions_are_settings_and_reported(rated, tmp_path):
    from analysis.models import AnalysisSettings

    other, annotators = make_open_study(slug="flat", prompts=3, annotators=3)
    rate_all(other, annotators, [[(3, 8), (5, 5), (6, 4)], [(2, 9), (4, 7), (6, 6)], [(5, 5), (5, 5), (5, 5)]])
    default = json.loads(export("flat", "--format", "json"))["studies"][0]
    assert default["counts"]["annotators"] == 2  # the straight-liner is excluded by default
    assert default["exclusions"]["steps"][1] == {
        "rule": "straight-lining",
        "description": "one score for every image",
        "annotators": 1,
        "ratings": 3,
    }
    without = json.loads(export("flat", "--format", "json", "--exclusions", "off"))["studies"][0]
    assert without["counts"]["annotators"] == 3 and without["exclusions_applied"] is False
    AnalysisSettings.objects.create(study=other, exclude_straightliners=False)
    assert json.loads(export("flat", "--format", "json"))["studies"][0]["counts"]["annotators"] == 3
    AnalysisSettings.objects.filter(study=other).update(exclude_straightliners=True, apply_exclusions_by_default=False)
    assert json.loads(export("flat", "--format", "json"))["studies"][0]["counts"]["annotators"] == 3
    assert (
        json.loads(export("flat", "--format", "json", "--exclusions", "on"))["studies"][0]["counts"]["annotators"] == 2
    )
    markdown = export("flat", "--format", "markdown", "--exclusions", "on")
    assert "1 of 3 annotators (3 ratings) excluded" in markdown


def test_holm_and_bh_across_studies(rated):
    from statsmodels.stats.multitest import multipletests

    other, annotators = make_open_study(slug="second", prompts=3, annotators=2)
    rate_all(other, annotators, [[(1, 2), (2, 4), (3, 3)], [(5, 1), (2, 2), (7, 9)]])
    for flag, method in (("holm", "holm"), ("bh", "fdr_bh")):
        studies = json.loads(export("sd21_768px", "second", "--format", "json", "--adjust", flag))["studies"]
        p = [study["mixed_model"]["effect"]["p"] for study in studies]
        assert [study["p_adjusted"] for study in studies] == pytest.approx(list(multipletests(p, method=method)[1]))
    assert "p (BH)" in export("sd21_768px", "second", "--format", "markdown", "--adjust", "bh")


def test_latex_tables(rated):
    """A narrow ``table`` and a wide ``table*``, booktabs rules, every special character escaped (their compiling
    and width: test_tables.py)."""
    text = export("sd21_768px", "--format", "latex")
    narrow, wide = text.split(r"\end{table}" + "\n")
    for document, environment in ((narrow, "table"), (wide, "table*")):
        lines = document.splitlines()
        assert lines[0].startswith("% EvalSite results table") and lines[1].startswith(rf"\begin{{{environment}}}")
        for rule in (r"\toprule", r"\midrule", r"\bottomrule"):
            assert lines.count(rule) == 1, rule
        assert lines.index(r"\toprule") < lines.index(r"\midrule") < lines.index(r"\bottomrule")
        body = lines[lines.index(r"\midrule") + 1]
        assert body.startswith(r"sd21\_768px & ") and body.endswith(r" \\")
        assert "±" not in document and "−" not in document and "–" not in document
    assert wide.splitlines()[-1] == r"\end{table*}"
    assert r"sd21\_768px & 2 & 3 & " in wide


def test_latex_escape():
    from analysis.latex import latex_escape

    assert latex_escape("a_b & 50% #1 $x {y} ~ ^ \\") == (
        r"a\_b \& 50\% \#1 \$x \{y\} \textasciitilde{} \textasciicircum{} \textbackslash{}"
    )


def test_markdown_has_one_row_per_study(rated, tmp_path):
    other, annotators = make_open_study(slug="second", prompts=3, annotators=2)
    rate_all(other, annotators, [[(1, 2), (2, 4), (3, 3)], [(5, 1), (2, 2), (7, 9)]])
    text = export("sd21_768px", "second")  # markdown is the default
    table = [line for line in text.splitlines() if line.startswith("|")]
    assert len(table) == 4
    assert table[0].startswith("| Study | Annotators | Items |")
    assert table[0].endswith("| d_z | p (mixed) | p (Holm) |")
    assert set(table[1]) <= set("|-")
    assert table[2].startswith("| sd21_768px | 2 | 3 |")
    assert table[3].startswith("| second | 2 | 3 |")
    assert all(row.count("|") == table[0].count("|") for row in table)


def test_all_formats_to_a_folder(rated, tmp_path):
    out = tmp_path / "results" / "nested"
    printed = export("sd21_768px", "--format", "all", "--out", str(out))
    plots = {
        f"sd21_768px-{name}-{width}.{fmt}"
        for name in ("scores", "items", "annotators")
        for width in ("single", "double")
        for fmt in ("pdf", "svg", "png")
    }
    names = {"sd21_768px-ratings.csv", "summary.json", "summary.tex", "summary-wide.tex", "summary.md"} | plots
    names.add("protocol.json")
    names |= {"sd21_768px-ratings.parquet", "codebook.md", "codebook.schema.json", "protocol.md", "README.md"}
    assert {path.name for path in out.iterdir()} == names
    for name in names:
        assert f"Wrote {out / name}" in printed
    assert (out / "summary.md").read_text(encoding="utf-8") == export("sd21_768px", "--format", "markdown")
    assert (out / "sd21_768px-ratings.csv").read_text(encoding="utf-8") == export("sd21_768px", "--format", "csv")
    assert r"\begin{table}[tb]" in (out / "summary.tex").read_text(encoding="utf-8")
    assert r"\begin{table*}[tb]" in (out / "summary-wide.tex").read_text(encoding="utf-8")
    json.loads((out / "summary.json").read_text(encoding="utf-8"))
    starts = {"png": b"\x89PNG", "pdf": b"%PDF-"}
    for name in plots:
        data = (out / name).read_bytes()
        kind = name.rsplit(".", 1)[1]
        assert data.startswith(starts[kind]) if kind in starts else b"<svg" in data[:2000], name
    manifest = json.loads((out / "protocol.json").read_text(encoding="utf-8"))
    study = manifest["studies"][0]
    for key in (
        "model",
        "revision",
        "seeds",
        "scheduler",
        "steps",
        "guidance_scale",
        "classifier_free_guidance",
        "width",
        "height",
        "question",
        "instructions",
        "consent_text",
        "counts_analysed",
        "exclusions",
        "analysis",
    ):
        assert key in study, key
    assert (study["instructions"], study["consent_text"]) == (rated.instructions, rated.consent_text)
    assert study["analysis"]["seed"] == 0 and study["analysis"]["bootstrap_resamples"] == 2000
    assert "statsmodels" in manifest["software"]


def test_plots_need_a_folder(rated):
    with pytest.raises(CommandError, match="--out"):
        export("sd21_768px", "--format", "plots")


def test_all_formats_to_stdout(rated):
    text = export("sd21_768px", "--format", "all")
    assert "study,annotator,item" in text
    assert '"studies"' in text
    assert r"\toprule" in text
    assert "| Study |" in text


@pytest.mark.parametrize("fmt", ["csv", "json", "all"])
def test_unknown_study_names_it_and_writes_nothing(rated, tmp_path, fmt):
    out = tmp_path / "out"
    with pytest.raises(CommandError, match="nope"):
        export("sd21_768px", "nope", "--format", fmt, "--out", str(out))
    assert not out.exists()


def test_study_without_ratings_is_refused(rated, tmp_path):
    make_open_study(slug="empty")
    out = tmp_path / "out"
    for fmt in ("markdown", "json", "all"):
        with pytest.raises(CommandError, match="no ratings"):
            export("sd21_768px", "empty", "--format", fmt, "--out", str(out))
    assert not out.exists()


def test_unknown_format_is_refused(rated):
    with pytest.raises(CommandError):
        export("sd21_768px", "--format", "xlsx")


def test_a_study_given_twice_is_refused(rated, tmp_path):
    from django.core.exceptions import ValidationError

    from analysis.selectors import find_studies

    out = tmp_path / "out"
    with pytest.raises(CommandError, match="'sd21_768px' given more than once"):
        export("sd21_768px", "sd21_768px", "--format", "json", "--out", str(out))
    assert not out.exists()
    with pytest.raises(ValidationError, match="'sd21_768px' given more than once"):
        find_studies(["sd21_768px", "other", "sd21_768px"])


def test_out_that_is_a_file_is_refused(rated, tmp_path):
    out = tmp_path / "results"
    out.write_text("keep me")
    with pytest.raises(CommandError, match="--out"):
        export("sd21_768px", "--format", "markdown", "--out", str(out))
    assert out.read_text() == "keep me"


def test_a_folder_named_like_a_document_writes_nothing(rated, tmp_path):
    out = tmp_path / "out"
    (out / "summary.md").mkdir(parents=True)
    with pytest.raises(CommandError, match="summary.md"):
        export("sd21_768px", "--format", "all", "--out", str(out))
    assert [path.name for path in out.iterdir()] == ["summary.md"]  # no other file, no .part file
    assert not any((out / "summary.md").iterdir())


def test_write_documents_removes_its_temporary_files_when_a_write_fails(tmp_path, monkeypatch):
    from pathlib import Path

    from django.core.exceptions import ValidationError

    from analysis.documents import write_documents

    write_text = Path.write_text

    def failing_write(self, data, *args, **kwargs):
        if self.name.startswith(".b.txt."):  # the temporary file of b.txt cannot be written
            write_text(self, data[:1], *args, **kwargs)
            raise OSError(28, "No space left on device")
        return write_text(self, data, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", failing_write)
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.txt").write_text("old a")
    with pytest.raises(ValidationError, match=r"b\.txt.*nothing was written"):
        write_documents({"a.txt": "new a", "b.txt": "b", "c.png": b"c"}, out)
    assert sorted(path.name for path in out.iterdir()) == ["a.txt"]  # no temporary file left, a.txt as it was
    assert (out / "a.txt").read_text() == "old a"


def test_write_documents_cleans_up_when_a_rename_fails(tmp_path, monkeypatch):
    from pathlib import Path

    from django.core.exceptions import ValidationError

    from analysis.documents import write_documents

    replace = Path.replace

    def failing_replace(self, target):
        if Path(target).name == "b.txt":
            raise PermissionError(13, "Permission denied")
        return replace(self, target)

    monkeypatch.setattr(Path, "replace", failing_replace)
    out = tmp_path / "new" / "out"
    with pytest.raises(ValidationError, match=r"b\.txt: Permission denied; 1 of 3 files were replaced"):
        write_documents({"a.txt": "a", "b.txt": "b", "c.txt": "c"}, out)
    assert sorted(path.name for path in out.iterdir()) == ["a.txt"]  # no .part file left behind


def test_write_documents_removes_the_folders_it_made_when_nothing_is_written(tmp_path, monkeypatch):
    from pathlib import Path

    from django.core.exceptions import ValidationError

    from analysis.documents import write_documents

    def failing_write(self, data, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_text", failing_write)
    with pytest.raises(ValidationError, match="No space left on device; nothing was written"):
        write_documents({"a.txt": "a"}, tmp_path / "new" / "out")
    assert list(tmp_path.iterdir()) == []


def test_plot_exports_are_byte_identical_across_runs(rated, tmp_path):
    export("sd21_768px", "--format", "plots", "--out", str(tmp_path / "one"))
    export("sd21_768px", "--format", "plots", "--out", str(tmp_path / "two"))
    names = sorted(path.name for path in (tmp_path / "one").iterdir())
    assert len(names) == 18
    for name in names:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name
