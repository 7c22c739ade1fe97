"""The long commands honour --verbosity and --progress: nothing but errors at verbosity 0, a tqdm bar on stderr
when it is a terminal or when forced (never at verbosity 0), none when stderr is a pipe or a file."""

import csv
import io

import pytest
from django.core.management import call_command

from annotations.models import Study
from annotations.selectors import TIDY_COLUMNS
from tests.analysis.test_exports import rate_all
from tests.factories import make_open_study, make_study, pair_ratings
from tests.metrics.conftest import write_folder

pytestmark = pytest.mark.django_db


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def run(*args, stderr=None, **options) -> tuple[str, str]:
    out, err = io.StringIO(), stderr if stderr is not None else io.StringIO()
    call_command(*args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def prompts_file(tmp_path):
    path = tmp_path / "prompts.txt"
    path.write_text("A fox in the snow\nA boat on a lake\nA tower at dawn\n")
    return path


def ratings_file(tmp_path, slug: str = "imported"):
    rows = []
    for annotator in ("ann-a", "ann-b"):
        for item, baseline, ours in (("a cat", 3, 8), ("a dog", 5, 5)):
            for condition, score, position in (("baseline", baseline, "right"), ("ours", ours, "left")):
                rows.append(
                    {
                        "study": slug,
                        "annotator": annotator,
                        "item": item,
                        "condition": condition,
                        "score": score,
                        "position": position,
                        "seconds": "4.5",
                    }
                )
    path = tmp_path / "ratings.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(TIDY_COLUMNS))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def rated():
    study, annotators = make_open_study(slug="rated", prompts=3, annotators=2, base_seed=40, steps=4)
    rate_all(study, annotators)
    return study


def commands(tmp_path) -> dict[str, tuple]:
    """Each command's arguments, and the description its bar carries."""
    make_study(slug="draft", prompts=1)
    return {
        "import_prompts": (("import_prompts", "draft", str(prompts_file(tmp_path))), "prompts"),
        "import_ratings": (("import_ratings", "imported", str(ratings_file(tmp_path))), "ratings"),
        "export_results": (("export_results", "rated", "--format", "json", "--out", str(tmp_path / "out")), "results"),
        "sample_reference": (
            ("sample_reference", "--source", str(write_folder(tmp_path / "laion", count=4)), "--n", "3"),
            "sampling",
        ),
    }


def test_verbosity_0_prints_nothing_and_the_work_is_done(rated, tmp_path):
    """Even with --progress on."""
    for name, (args, _) in commands(tmp_path).items():
        assert run(*args, verbosity=0, progress="on") == ("", ""), name
    assert Study.objects.get(slug="draft").prompts.count() == 4
    assert pair_ratings().filter(assignment__annotator__study__slug="imported").count() == 4
    assert (tmp_path / "out" / "summary.json").exists()


def test_verbosity_1_reports_without_a_bar_when_stderr_is_not_a_terminal(rated, tmp_path):
    for name, (args, _) in commands(tmp_path).items():
        out, err = run(*args)
        assert out and err == "", name


def test_the_bar_shows_when_forced_or_on_a_terminal(rated, tmp_path):
    for name, (args, description) in commands(tmp_path).items():
        out, err = run(*args, "--progress", "on") if name != "import_ratings" else run(*args, stderr=Terminal())
        assert f"{description}: 100%" in err, (name, err)
        assert out and "100%" not in out, name


def test_progress_off_hides_the_bar_on_a_terminal(rated, tmp_path):
    args, _ = commands(tmp_path)["import_ratings"]
    out, err = run(*args, "--progress", "off", stderr=Terminal())
    assert out.startswith("Created study 'imported'") and err == ""


def test_export_results_to_stdout_still_prints_the_document_at_verbosity_0(rated):
    out, err = run("export_results", "rated", "--format", "csv", verbosity=0)
    assert out.startswith("study,annotator,item") and err == ""
