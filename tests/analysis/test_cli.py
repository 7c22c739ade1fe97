"""evalsite-analyze: the command a results folder's README gives writes the same files export_results wrote, byte
for byte, from the ratings alone, without Django settings or a database; bad files and flags are refused whole."""

import io
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from django.core.management import call_command

from analysis.cli import main
from analysis.files import write_files
from analysis.models import AnalysisSettings
from analysis.rendering import AnalysisOptions, StudyData, render_documents
from analysis.stats.quality import ExclusionRules
from annotations import services
from annotations.models import Criterion
from annotations.services import design
from tests.analysis.simulate import simulate_ratings
from tests.analysis.test_exports import rate_all
from tests.factories import make_open_study, name_design

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).parent / "evalsite-analyze"
IN_PROCESS = """
import json, sys
from analysis.cli import main
code = main(sys.argv[1:])
forbidden = ("django", "evalsite", "generation", "annotations", "metrics")
print(json.dumps({"code": code, "modules": sorted(m for m in sys.modules if m.split(".")[0] in forbidden)}))
"""


def without_django() -> dict:
    """The environment without Django settings, importing the code under test first."""
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    return {**env, "PYTHONPATH": str(ROOT)}


def readme_command(folder: Path) -> list[str]:
    """The evalsite-analyze command line the folder's README gives."""
    (line,) = [line for line in (folder / "README.md").read_text().splitlines() if line.startswith("evalsite-analyze")]
    return shlex.split(line)


def assert_same_files(expected: Path, written: Path, *, leave_out=("reproduced",)) -> None:
    names = sorted(path.name for path in expected.iterdir() if path.name not in leave_out)
    assert sorted(path.name for path in written.iterdir()) == names
    for name in names:
        assert (written / name).read_bytes() == (expected / name).read_bytes(), name


@pytest.mark.django_db
def test_the_readmes_command_remakes_what_export_results_wrote(tmp_path):
    study, annotators = make_open_study(slug="cli", prompts=3, annotators=2, base_seed=5, steps=4)
    rate_all(study, annotators)
    AnalysisSettings.objects.create(study=study, seed=7, bootstrap_resamples=300, min_seconds_per_item=0.5)
    name_design(study, ours="+ entropy scaling")
    exported = tmp_path / "exported"
    call_command("export_results", "cli", "--format", "all", "--out", str(exported), stdout=io.StringIO())
    command = readme_command(exported)
    assert command[:2] == ["evalsite-analyze", "cli-ratings.parquet"]
    assert "--seed 7 --resamples 300" in " ".join(command) and "--min-seconds 0.5" in " ".join(command)

    assert SCRIPT.exists(), f"{SCRIPT} is missing: `make install` installs EvalSite's console scripts"
    done = subprocess.run(
        [str(SCRIPT), *command[1:]], cwd=exported, env=without_django(), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert_same_files(exported, exported / "reproduced")  # the labels too, from protocol.json
    summary = json.loads((exported / "reproduced" / "summary.json").read_text())
    assert summary["studies"][0]["labels"]["ours"] == "+ entropy scaling"

    # the same from the CSV, in a fresh interpreter that never loads Django or an app
    from_csv = [word if word != "cli-ratings.parquet" else "cli-ratings.csv" for word in command[1:]]
    from_csv[from_csv.index("--out") + 1] = str(tmp_path / "from-csv")
    done = subprocess.run(
        [sys.executable, "-c", IN_PROCESS, *from_csv],
        cwd=exported,
        env=without_django(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"code": 0, "modules": []}
    assert_same_files(exported, tmp_path / "from-csv")


def test_attention_checks_and_exclusion_rules_are_reproduced(tmp_path, monkeypatch):
    ratings = simulate_ratings(annotators=6, items=8, seed=2).assign(study="att")
    ratings = ratings[["study", *[c for c in ratings.columns if c != "study"]]]
    attention = pd.DataFrame(
        {"annotator": sorted(ratings["annotator"].unique()), "failures": [0, 2, 0, 1, 0, 0], "checks": [2] * 6}
    )
    options = AnalysisOptions(seed=3, bootstrap_resamples=200, rules=ExclusionRules(max_attention_failures=1))
    study = StudyData(slug="att", ratings=ratings, options=options, attention=attention)
    expected = tmp_path / "expected"
    write_files(render_documents([study]), expected)
    command = readme_command(expected)
    assert command[-4:] == ["--attention", "att-attention.csv", "--adjust", "holm"]
    assert "--max-attention-failures 1" in " ".join(command)
    summary = json.loads((expected / "summary.json").read_text())
    assert summary["studies"][0]["exclusions"]["annotators_removed"] == 1
    monkeypatch.chdir(expected)
    assert main(command[1:]) == 0
    assert_same_files(expected, expected / "reproduced")


@pytest.fixture
def ratings_file(tmp_path) -> Path:
    frame = simulate_ratings(annotators=4, items=5, seed=1).assign(study="s")
    path = tmp_path / "ratings.csv"
    frame[["study", *[c for c in frame.columns if c != "study"]]].to_csv(path, index=False)
    return path


def run(capsys, *args) -> tuple[int, str]:
    code = main([str(arg) for arg in args])
    captured = capsys.readouterr()
    return code, captured.err


def test_a_bad_file_is_refused_whole_naming_each_line(ratings_file, tmp_path, capsys):
    lines = ratings_file.read_text().splitlines()
    lines[1] = lines[1].replace(",baseline,", ",Theirs!,")
    lines[4] = ",".join(lines[4].split(",")[:4] + ["0"] + lines[4].split(",")[5:])
    ratings_file.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    code, err = run(capsys, ratings_file, "--out", out)
    assert code == 1
    assert "line 2: condition 'Theirs!' is not a key (a lowercase letter, then lowercase letters, digits or _)" in err
    assert "line 5: score 0 is outside 1–10" in err
    assert "Nothing was written." in err and not out.exists()


def test_bad_flags_and_files_are_named(ratings_file, tmp_path, capsys):
    out = tmp_path / "out"
    code, err = run(capsys, ratings_file, "--out", out, "--max-attention-failures", "1")
    assert code == 1 and "--max-attention-failures needs --attention" in err
    protocol = tmp_path / "protocol.json"
    protocol.write_text(json.dumps({"schema": "evalsite.results/1", "studies": [{"study": "other"}]}))
    code, err = run(capsys, ratings_file, "--out", out, "--protocol", protocol)
    assert code == 1 and f"{protocol} has no study 's'" in err
    protocol.write_text("{\n  'studies': []\n}")
    code, err = run(capsys, ratings_file, "--out", out, "--protocol", protocol)
    assert code == 1 and f"{protocol} line 2: not valid JSON" in err
    code, err = run(capsys, tmp_path / "ratings.xlsx", "--out", out)
    assert code == 1 and "a tidy ratings file ends in .csv or .parquet" in err
    (tmp_path / "file").write_text("")
    assert run(capsys, ratings_file, "--out", tmp_path / "file")[0] == 2
    with pytest.raises(SystemExit):
        main([str(ratings_file), "--out", str(out), "--seed", "-1"])
    assert not out.exists()


def test_labels_come_from_flags_over_the_protocols(ratings_file, tmp_path, capsys):
    protocol = tmp_path / "protocol.json"
    entry = {"study": "s", "analysis": {"labels": {"baseline": "SD-2.1", "ours": "Ours", "question": "Score"}}}
    protocol.write_text(json.dumps({"schema": "evalsite.results/1", "studies": [entry]}))
    out = tmp_path / "out"
    code, err = run(capsys, ratings_file, "--out", out, "--protocol", protocol, "--label", "ours=+ entropy scaling")
    assert code == 0, err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["studies"][0]["labels"] == {"baseline": "SD-2.1", "ours": "+ entropy scaling", "question": "Score"}
    assert "+ entropy scaling" in (out / "summary.md").read_text()
    refused = {"colour=red": "Unknown label 'colour'", "ours": "expected NAME=TEXT", "ours=SD-2.1": "both"}
    for flag, words in refused.items():
        code, err = run(capsys, ratings_file, "--out", tmp_path / "bad", "--protocol", protocol, "--label", flag)
        assert code == 1 and words in err and "Nothing was written" in err, err
    assert not (tmp_path / "bad").exists()


def test_extra_columns_are_refused_or_carried_along(ratings_file, tmp_path, capsys):
    frame = pd.read_csv(ratings_file).assign(device="phone")
    frame.to_csv(ratings_file, index=False)
    code, err = run(capsys, ratings_file, "--out", tmp_path / "out")
    assert code == 1 and "column(s) device are not tidy columns" in err and "--extra-columns keep" in err
    code, _ = run(capsys, ratings_file, "--out", tmp_path / "out", "--extra-columns", "keep", "--format", "csv")
    assert code == 0
    assert (tmp_path / "out" / "s-ratings.csv").read_text().splitlines()[0].endswith(",seconds,device")


def test_per_image_seconds_become_the_pairs_time(ratings_file, tmp_path, capsys):
    frame = pd.read_csv(ratings_file)
    frame["seconds"] = [1.0 + index for index in range(len(frame))]
    frame.to_csv(ratings_file, index=False)
    code, err = run(capsys, ratings_file, "--out", tmp_path / "out")
    assert code == 1 and "--seconds image" in err
    code, _ = run(capsys, ratings_file, "--out", tmp_path / "out", "--seconds", "image", "--format", "csv")
    assert code == 0
    written = pd.read_csv(tmp_path / "out" / "s-ratings.csv")
    pairs = written.groupby(["annotator", "item"])["seconds"]
    assert (pairs.nunique() == 1).all()
    first = written.iloc[0]
    pair = frame[(frame["annotator"] == first["annotator"]) & (frame["item"] == first["item"])]
    assert len(pair) == 2 and first["seconds"] == pair["seconds"].sum()


@pytest.mark.django_db
def test_a_study_of_two_criteria_is_analysed_per_criterion_and_remade_from_its_one_ratings_file(tmp_path, monkeypatch):
    study, annotators = make_open_study(slug="two", prompts=3, annotators=2, base_seed=5, steps=4)
    design.add_criterion(
        criterion=Criterion(study=study, key="quality", question="How good?", label="Visual quality", scale_points=7)
    )
    for number, annotator in enumerate(annotators):
        services.give_consent(annotator=annotator)
        for order, assignment in enumerate(annotator.assignments.order_by("order")):
            scores = {"left": 3 + order, "right": 8 - number, "left-quality": 1 + order, "right-quality": 7 - order}
            services.submit_rating(annotator_id=annotator.pk, assignment_id=assignment.pk, scores=scores)
    AnalysisSettings.objects.create(study=study, seed=7, bootstrap_resamples=300)
    exported = tmp_path / "exported"
    call_command("export_results", "two", "--format", "all", "--out", str(exported), stdout=io.StringIO())

    summary = json.loads((exported / "summary.json").read_text())
    assert [entry["study"] for entry in summary["studies"]] == ["two.consistency", "two.quality"]
    assert [entry["labels"]["question"] for entry in summary["studies"]] == ["Score", "Visual quality"]
    ratings = pd.read_csv(exported / "two-ratings.csv")
    assert sorted(ratings.groupby("criterion").size().items()) == [("consistency", 12), ("quality", 12)]
    assert not (exported / "two.quality-ratings.csv").exists()
    quality = ratings[ratings["criterion"] == "quality"]
    assert quality["score"].between(1, 7).all()

    command = readme_command(exported)
    assert command[:2] == ["evalsite-analyze", "two-ratings.parquet"]
    monkeypatch.chdir(exported)
    assert main(command[1:]) == 0
    assert_same_files(exported, exported / "reproduced")  # each criterion's tables, plots and labels
