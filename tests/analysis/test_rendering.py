"""analysis.rendering makes every document from plain data: without Django settings or a database, and the same
documents ``export_results`` writes from the stored study."""

import ast
import io
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest
from django.core.management import call_command

from analysis.rendering import StudyData, render_documents
from tests.analysis.simulate import simulate_ratings

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("django", "evalsite", "generation", "annotations", "metrics")
#: The modules ``render_documents`` runs, besides analysis.stats (held by test_stats_core).
PLAIN_MODULES = (
    "rendering",
    "formats",
    "tables",
    "numbers",
    "labels",
    "plots",
    "plot_font",
    "paper_table",
    "csv_cells",
    "latex",
)

SCRIPT = """
import json, sys
import pandas as pd
from analysis.rendering import StudyData, render_documents

ratings = pd.read_csv(sys.argv[1])
documents = render_documents([StudyData(slug="sim", ratings=ratings)])
print(json.dumps({"names": sorted(documents),
                  "modules": sorted(name for name in sys.modules if name.split(".")[0] in sys.argv[2:])}))
"""


@pytest.fixture
def ratings() -> pd.DataFrame:
    frame = simulate_ratings(annotators=8, items=10, seed=4)
    return frame.assign(study="sim")[["study", *frame.columns]]


def test_documents_are_made_without_django(ratings, tmp_path):
    csv = tmp_path / "ratings.csv"
    ratings.to_csv(csv, index=False)
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    output = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(csv), *FORBIDDEN],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert output.returncode == 0, output.stderr
    result = json.loads(output.stdout.strip().splitlines()[-1])
    assert "summary.json" in result["names"] and "sim-items-single.pdf" in result["names"]
    assert result["modules"] == []  # no 'django' (nor any app) in sys.modules


def test_the_plain_modules_import_nothing_of_django_or_the_apps():
    """Also imports inside functions, which the fresh interpreter above may not reach."""
    for name in PLAIN_MODULES:
        tree = ast.parse((ROOT / "analysis" / f"{name}.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            for imported in names:
                assert imported.split(".")[0] not in FORBIDDEN, f"analysis/{name}.py imports {imported}"


def test_bad_input_is_refused_by_name(ratings):
    study = StudyData(slug="sim", ratings=ratings)
    with pytest.raises(ValueError, match="Unknown format pdf"):
        render_documents([study], formats=["pdf"])
    with pytest.raises(ValueError, match="Unknown adjustment 'sidak'"):
        render_documents([study], formats=["json"], adjustment="sidak")
    with pytest.raises(ValueError, match="'sim' given more than once"):
        render_documents([study, study], formats=["json"])
    with pytest.raises(ValueError, match="Metric row 1: missing reference"):
        render_documents([StudyData(slug="sim", ratings=ratings, metric_rows=[{"study": "sim"}])], formats=["json"])


def test_progress_counts_the_analysis_and_each_studys_plots(ratings):
    steps = []
    other = StudyData(slug="other", ratings=ratings.assign(study="other"))
    render_documents([StudyData(slug="sim", ratings=ratings), other], progress=steps.append)
    assert steps == [2, 1, 1]


@pytest.mark.django_db
def test_export_results_writes_what_rendering_makes_of_the_stored_study(tmp_path):
    """The command's documents are those of the study's inputs (ratings, options, protocol) rendered here."""
    from analysis.selectors import find_studies, study_data
    from tests.analysis.test_exports import rate_all
    from tests.factories import make_open_study

    study, annotators = make_open_study(slug="plain", prompts=3, annotators=2, base_seed=7, steps=4)
    rate_all(study, annotators)
    out = tmp_path / "out"
    call_command("export_results", "plain", "--format", "all", "--out", str(out), stdout=io.StringIO())
    (stored,) = find_studies(["plain"])
    expected = render_documents([study_data(stored, documents=True)])
    assert sorted(path.name for path in out.iterdir()) == sorted(expected)
    for name, content in expected.items():
        written = (out / name).read_bytes()
        assert written == (content if isinstance(content, bytes) else content.encode("utf-8")), name


@pytest.mark.django_db
def test_export_prints_no_warning_and_says_in_words_what_matters(tmp_path):
    """A tiny study whose fit is singular: SciPy finds the deviance's curvature ill-conditioned. Nothing reaches
    the terminal as a warning; what it means for the results is a note under the table."""
    from tests.analysis.test_exports import SCORES, rate_all
    from tests.factories import make_open_study

    study, annotators = make_open_study(slug="tiny", prompts=3, annotators=3)
    rate_all(study, annotators, [*SCORES, [(5, 5), (5, 5), (5, 5)]])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        text = io.StringIO()
        call_command("export_results", "tiny", "--format", "all", "--out", str(tmp_path / "out"), stdout=text)
    assert [f"{record.category.__name__}: {record.message}" for record in caught] == []
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    note = summary["studies"][0]["mixed_model"]["df_note"]
    markdown = (tmp_path / "out" / "summary.md").read_text(encoding="utf-8")
    assert (f"tiny: {note}." in markdown) if note else ("approximate" not in markdown)


def test_approximate_df_are_a_note_not_a_warning():
    """Six judgments whose primary fit has a nearly singular curvature: SciPy's LinAlgWarning is caught, and the
    table's notes say what it means."""
    cells = [(0, 0, -3), (0, 1, -3), (1, 0, 2), (1, 1, 2), (2, 0, -1), (3, 0, -3)]
    rows = []
    for annotator, item, difference in cells:
        for condition, score, position in (("baseline", 5, "left"), ("ours", 5 + difference, "right")):
            rows.append(("tiny", f"a{annotator}", f"item {item}", condition, score, position, 3.0))
    ratings = pd.DataFrame(rows, columns=["study", "annotator", "item", "condition", "score", "position", "seconds"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        documents = render_documents([StudyData(slug="tiny", ratings=ratings)], formats=["json", "markdown"])
    assert [f"{record.category.__name__}: {record.message}" for record in caught] == []
    assert "tiny: the deviance's curvature at the optimum is nearly singular" in documents["summary.md"]
    assert "are approximate" in json.loads(documents["summary.json"])["studies"][0]["mixed_model"]["df_note"]


def test_the_ratings_csv_is_what_pandas_writes():
    """ratings_csv writes each distinct value once; the text is DataFrame.to_csv's of the marked frame."""
    from analysis.csv_cells import neutralise
    from analysis.formats import ratings_csv

    frame = pd.DataFrame(
        {
            "study": ["s"] * 6,
            "annotator": ["=cmd", "a,b", 'say "hi"', "", "line\nbreak", "ünï ✓"],
            "item": pd.Categorical(["p1", "p2", "p1", "+x", "p2", "p1"]),
            "condition": ["baseline", "ours"] * 3,
            "score": [1, 10, 5, 5, 7, 3],
            "position": ["left", "right"] * 3,
            "seconds": [1.5, float("nan"), 1e-05, 3.0, 1e16, 2.123456789012345],
        }
    )
    marked = frame.assign(
        **{column: frame[column].astype(object).map(neutralise) for column in ("study", "annotator", "item")}
    )
    assert ratings_csv(frame) == marked.to_csv(index=False, lineterminator="\n")
    assert ratings_csv(frame.iloc[:0]) == frame.iloc[:0].to_csv(index=False, lineterminator="\n")


def test_a_study_without_any_difference_draws_without_a_warning():
    """Every judgment a tie: the forest plots' axis is one score point wide around 0, not empty."""
    rows = [
        ("same", f"a{annotator}", f"item {item}", condition, 5, position, 2.0)
        for annotator in range(3)
        for item in range(3)
        for condition, position in (("baseline", "left"), ("ours", "right"))
    ]
    ratings = pd.DataFrame(rows, columns=["study", "annotator", "item", "condition", "score", "position", "seconds"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        documents = render_documents([StudyData(slug="same", ratings=ratings)], formats=["plots"], exclusions=False)
    assert [f"{record.category.__name__}: {record.message}" for record in caught] == []
    assert len(documents) == 18
