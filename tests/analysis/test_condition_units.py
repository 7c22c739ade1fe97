"""A study of conditions other than the paired two (three methods, say) in the results: its tidy ratings read with
each screen checked, its comparison by condition written as tables, figures and summary entries that hold the same
numbers as ``compare_conditions`` on the same rows, and remade byte for byte by the README's command; and the same
for a study of pairwise judgments, with ``pairwise_study``'s leaderboard."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.cli import main
from analysis.condition_units import reference_of
from analysis.files import write_files
from analysis.rendering import AnalysisOptions, StudyData, render_documents
from analysis.stats.conditions import compare_conditions
from analysis.stats.pairwise import pairwise_study
from tests.analysis.test_cli import assert_same_files, readme_command

DATA = Path(__file__).parent / "reference" / "data" / "k3-balanced.csv"


def three_methods(slug: str = "k3", annotators: int = 12) -> pd.DataFrame:
    """The stored balanced design of three conditions (plain, entropy, upscale), as tidy ratings: each screen shows
    the three images at places 1–3, rotated from screen to screen, and took one time."""
    frame = pd.read_csv(DATA)
    frame = frame[frame["annotator"] < annotators].reset_index(drop=True)
    screen = frame.groupby(["annotator", "item"]).ngroup()
    slot = frame.groupby(["annotator", "item"]).cumcount()
    return pd.DataFrame(
        {
            "study": slug,
            "annotator": "a" + frame["annotator"].astype(str),
            "item": "prompt " + frame["item"].astype(str),
            "condition": frame["condition"],
            "criterion": "consistency",
            "score": frame["score"].astype("int64"),
            "position": ((slot + screen) % 3 + 1).astype(str),
            "seconds": (4.0 + screen % 5).astype("float64"),
        }
    )


def test_the_reference_is_the_protocols_else_baseline_else_the_first():
    protocol = {"conditions": [{"key": "plain", "is_reference": False}, {"key": "entropy", "is_reference": True}]}
    assert reference_of(["plain", "entropy"], protocol) == "entropy"
    assert reference_of(["ours", "baseline", "resized"], None) == "baseline"
    assert reference_of(["plain", "entropy"], {"conditions": []}) == "plain"


def test_a_study_of_three_conditions_is_compared_by_condition_and_remade(tmp_path, monkeypatch):
    ratings = three_methods()
    documents = render_documents([StudyData(slug="k3", ratings=ratings)])
    expected = compare_conditions(ratings, reference="plain")

    summary = json.loads(documents["summary.json"])
    assert summary["studies"] == [] and [entry["study"] for entry in summary["conditions"]] == ["k3"]
    entry = summary["conditions"][0]
    assert entry["reference"] == "plain" and entry["conditions"] == ["plain", "entropy", "upscale"]
    assert entry["omnibus"]["F"] == pytest.approx(expected.omnibus.F, rel=1e-12)
    assert [row["p_adjusted"] for row in entry["contrasts"]] == pytest.approx(
        [row.p_adjusted for row in expected.contrasts], rel=1e-12
    )
    for name in ("k3-means.tex", "k3-contrasts.md", "k3-omnibus.json", "k3-contrasts-single.pdf", "k3-ratings.csv"):
        assert name in documents, name
    means = json.loads(documents["k3-means.json"])
    assert json.dumps(means).count("plain") >= 1 and "upscale" in json.dumps(means)
    manifest = json.loads(documents["protocol.json"])
    (study,) = manifest["studies"]
    assert study["study"] == "k3" and study["analysis"]["reference"] == "plain"
    assert "reference condition" in documents["protocol.md"] and "bootstrap" not in documents["protocol.md"]

    out = tmp_path / "out"
    write_files(documents, out)
    command = readme_command(out)
    assert command[:2] == ["evalsite-analyze", "k3-ratings.parquet"]
    monkeypatch.chdir(out)
    assert main(command[1:]) == 0
    assert_same_files(out, out / "reproduced")


def test_a_screen_with_a_condition_twice_or_two_images_at_one_place_is_refused(tmp_path, capsys):
    ratings = three_methods(annotators=2)
    ratings.loc[1, "condition"] = ratings.loc[0, "condition"]  # the first screen: one condition twice
    ratings.loc[5, "position"] = ratings.loc[4, "position"]  # the second: two images at one place
    ratings.loc[7, "seconds"] = 99.0  # the third: its rows disagree on the screen's time
    path = tmp_path / "bad.csv"
    ratings.to_csv(path, index=False)
    assert main([str(path), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "line 3: a second plain score by 'a0' for this item (first on line 2)" in err
    assert "line 7: upscale and entropy (line 6) were both shown at 3" in err
    assert "line 10: seconds differ between the rows of one screen (6.0, 99.0, 6.0)" in err
    assert not (tmp_path / "out").exists()


def three_way_choices(slug: str = "arena", annotators: int = 12, items: int = 10, seed: int = 4) -> pd.DataFrame:
    """Pairwise judgments among three conditions with ties: each annotator judges each item once, on a pair drawn
    at random, sides at random, by Davidson's model with strengths 0, 0.5 and −0.4."""
    rng = np.random.default_rng(seed)
    names = np.array(["plain", "entropy", "resized"])
    strength = np.array([0.0, 0.5, -0.4])
    rows = []
    for annotator in range(annotators):
        for item in range(items):
            left, right = rng.permutation(3)[:2]
            a, b = np.exp(strength[left]), np.exp(strength[right])
            tie = 0.5 * np.sqrt(a * b)
            u = rng.random() * (a + b + tie)
            choice = "left" if u < a else "right" if u < a + b else "tie"
            rows.append(
                {
                    "study": slug,
                    "annotator": f"a{annotator}",
                    "item": f"prompt {item}",
                    "criterion": "consistency",
                    "left": names[left],
                    "right": names[right],
                    "choice": choice,
                    "seconds": float(3 + (annotator + item) % 4),
                }
            )
    return pd.DataFrame(rows)


def test_pairwise_judgments_get_a_leaderboard_with_the_fits_numbers_and_are_remade(tmp_path, monkeypatch):
    judgments = three_way_choices()
    options = AnalysisOptions(seed=5, bootstrap_resamples=200)
    documents = render_documents([StudyData(slug="arena", ratings=judgments, options=options)])
    first = judgments.loc[0, "left"]  # no protocol, no baseline: the first condition of the file is the reference
    expected = pairwise_study(judgments, seed=5, resamples=200, reference=first)

    summary = json.loads(documents["summary.json"])
    (entry,) = summary["pairwise"]
    assert entry["study"] == "arena" and entry["reference"] == first and entry["model"] == "Davidson"
    assert entry["leaderboard"] == list(expected.leaderboard)
    assert [row["log_strength"] for row in entry["strengths"]] == pytest.approx(
        [row.log_strength for row in expected.strengths], rel=1e-12
    )
    names = set(documents)
    assert {"arena-judgments.csv", "arena-judgments.parquet"} <= names and "arena-ratings.csv" not in names
    assert any(name.startswith("arena-") and name.endswith(".tex") for name in names - {"arena-judgments.csv"})
    assert any(name.startswith("arena-") and name.endswith("-single.pdf") for name in names)
    (study,) = json.loads(documents["protocol.json"])["studies"]
    assert study["analysis"]["primary_model"] == "Davidson" and study["counts_analysed"]["judgments"] == 120

    out = tmp_path / "out"
    write_files(documents, out)
    command = readme_command(out)
    assert command[:2] == ["evalsite-analyze", "arena-judgments.parquet"]
    monkeypatch.chdir(out)
    assert main(command[1:]) == 0
    assert_same_files(out, out / "reproduced")


def test_a_second_choice_of_one_pair_or_a_bad_choice_is_refused(tmp_path, capsys):
    judgments = three_way_choices(annotators=2, items=3)
    judgments.loc[1, ["left", "right"]] = [judgments.loc[0, "right"], judgments.loc[0, "left"]]
    judgments.loc[1, "item"] = judgments.loc[0, "item"]  # the same pair again, sides swapped
    judgments.loc[3, "choice"] = "both"
    judgments.loc[4, "right"] = judgments.loc[4, "left"]
    path = tmp_path / "bad.csv"
    judgments.to_csv(path, index=False)
    assert main([str(path), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "line 3: a second choice between" in err and "by 'a0' for this item (first on line 2)" in err
    assert "line 5: choice 'both' is not one of left, right, tie" in err
    assert "line 6: left and right are both" in err


def test_tukeys_contrasts_are_an_option_the_readme_remakes(tmp_path, monkeypatch):
    ratings = three_methods(annotators=8)
    options = AnalysisOptions(seed=1, bootstrap_resamples=100, contrasts="tukey")
    documents = render_documents([StudyData(slug="k3", ratings=ratings, options=options)])
    expected = compare_conditions(ratings, reference="plain", adjustment="tukey")
    (entry,) = json.loads(documents["summary.json"])["conditions"]
    assert entry["adjustment"] == "tukey" and entry["ci_adjustment"] == "tukey"
    assert [row["p_adjusted"] for row in entry["contrasts"]] == pytest.approx(
        [row.p_adjusted for row in expected.contrasts], rel=1e-9
    )
    out = tmp_path / "out"
    write_files(documents, out)
    command = readme_command(out)
    assert command[-2:] == ["--contrasts", "tukey"]
    monkeypatch.chdir(out)
    assert main(command[1:]) == 0
    assert_same_files(out, out / "reproduced")


def test_a_paired_study_three_conditions_and_judgments_render_together():
    """Each unit gets its own analysis in one run, the paired one the study report (with its p in the table)."""
    from tests.analysis.simulate import simulate_ratings

    paired = simulate_ratings(annotators=6, items=8, seed=2).assign(study="seed")
    options = AnalysisOptions(seed=1, bootstrap_resamples=100)
    studies = [
        StudyData(
            slug="seed", ratings=paired[["study", *[c for c in paired.columns if c != "study"]]], options=options
        ),
        StudyData(slug="k3", ratings=three_methods(annotators=6), options=options),
        StudyData(slug="arena", ratings=three_way_choices(annotators=6), options=options),
    ]
    summary = json.loads(render_documents(studies, formats=["json"])["summary.json"])
    assert [entry["study"] for entry in summary["studies"]] == ["seed"]
    assert [entry["study"] for entry in summary["conditions"]] == ["k3"]
    assert [entry["study"] for entry in summary["pairwise"]] == ["arena"]
