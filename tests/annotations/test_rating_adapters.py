"""Ratings from other tools: per-image seconds and extra columns in tidy files, Label Studio's JSON export and
Potato's annotation output, each read whole or refused whole with the line of every problem."""

import io
import json
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from analysis.selectors import ratings_frame
from annotations.models import Study
from annotations.rating_adapters.json_text import array_elements
from annotations.rating_adapters.label_studio import read_label_studio
from annotations.rating_adapters.potato import read_potato
from annotations.services.rating_import import import_ratings
from tests.annotations.test_imports import good_rows, import_expecting_error, row_counts, write_csv_text
from tests.factories import pair_rating, pair_ratings

pytestmark = pytest.mark.django_db

SAMPLES = Path(__file__).parent / "samples"
POTATO = SAMPLES / "potato"


def stored(slug: str) -> dict[tuple[str, str], tuple[int, int, bool, float | None]]:
    """(annotator, item) → (baseline score, ours score, ours on the left, seconds)."""
    rated = pair_ratings().filter(assignment__annotator__study__slug=slug)
    scores = [pair_rating(assignment=assignment) for assignment in rated.values_list("assignment", flat=True)]
    return {
        (r.assignment.annotator.external_id, r.assignment.pair.prompt.text): (
            r.baseline_score,
            r.ours_score,
            r.assignment.ours_on_left,
            r.seconds,
        )
        for r in scores
    }


# tidy files: per-image seconds and extra columns -------------------------------------------------------------------


def per_image_rows() -> list[dict]:
    rows = good_rows("imp")
    for index, row in enumerate(rows):
        row["seconds"] = str(1.5 + index)  # every row its own time
    return rows


def test_per_image_seconds_are_refused_as_pair_times_naming_the_flag(tmp_path):
    message = import_expecting_error(tmp_path, write_csv_text(per_image_rows()))
    assert "line 3: seconds differ from the baseline row on line 2 (1.5 and 2.5)" in message
    assert "read the file with --seconds image" in message


def test_per_image_seconds_sum_to_the_pair_time(tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_text(write_csv_text(per_image_rows()), encoding="utf-8")
    out = io.StringIO()
    call_command("import_ratings", "imp", str(path), "--seconds", "image", stdout=out)
    assert "Created study 'imp': 4 ratings" in out.getvalue()
    ratings = stored("imp")
    assert ratings[("ann-a", "a cat")] == (3, 8, True, 1.5 + 2.5)
    assert ratings[("ann-b", "a dog")] == (5, 5, False, 7.5 + 8.5)
    frame = ratings_frame(study=Study.objects.get(slug="imp"))
    assert (frame.groupby(["annotator", "item"])["seconds"].nunique() == 1).all()  # the pair's time on both rows


def test_per_image_seconds_on_one_row_only_are_refused(tmp_path):
    rows = per_image_rows()
    rows[1]["seconds"] = ""
    with pytest.raises(ValidationError) as info:
        import_ratings(slug="imp", text=write_csv_text(rows), seconds="image")
    assert info.value.messages == ["line 3: seconds are given on one row of the pair only (baseline on line 2)"]


def test_extra_columns_are_refused_by_default_and_left_out_by_name(tmp_path):
    header = ("study", "annotator", "rater_age", "item", "condition", "score", "position", "seconds", "device")
    rows = [dict(row, rater_age="31", device="phone") for row in good_rows("imp")]
    message = import_expecting_error(tmp_path, write_csv_text(rows, header=header))
    assert "line 1: column(s) rater_age, device are not tidy columns" in message
    assert "--extra-columns ignore" in message
    path = tmp_path / "extra.csv"
    path.write_text(write_csv_text(rows, header=header), encoding="utf-8")
    out = io.StringIO()
    call_command("import_ratings", "imp", str(path), "--extra-columns", "ignore", stdout=out)
    assert "Columns left out: rater_age, device." in out.getvalue()
    assert pair_ratings().count() == 4


def test_unknown_modes_are_named():
    with pytest.raises(ValidationError, match="Unknown --seconds 'both'; choose from pair, image"):
        import_ratings(slug="imp", text=write_csv_text(good_rows("imp")), seconds="both")
    with pytest.raises(ValidationError, match="Unknown --extra-columns 'keep'; choose from reject, ignore"):
        import_ratings(slug="imp", text=write_csv_text(good_rows("imp")), extra="keep")


# Label Studio ------------------------------------------------------------------------------------------------------


def test_label_studio_pair_tasks():
    text = (SAMPLES / "label-studio-pairs.json").read_text(encoding="utf-8")
    tidy = read_label_studio(text, slug="ls")
    assert tidy.notes == (
        "Left out: 1 cancelled (skipped) annotation.",
        "Left out: results that are not scores, 1 of type textarea.",
    )
    fox, city = "a red fox in fresh snow, telephoto", "an isometric city block at dusk"
    assert [
        (r.where, r.annotator, r.item, r.baseline_score, r.ours_score, r.ours_on_left, r.seconds) for r in tidy.ratings
    ] == [
        ("task on line 2, annotation 1", "3", fox, 4, 8, True, 6.412),
        ("task on line 2, annotation 2", "5", fox, 6, 6, True, 3.05),
        ("task on line 91, annotation 1", "3", city, 3, 9, False, 4.9),
    ]


def test_label_studio_one_image_tasks_sum_their_times_through_the_command():
    out = io.StringIO()
    call_command(
        "import_ratings", "ls", str(SAMPLES / "label-studio-images.json"), "--from", "label-studio", stdout=out
    )
    assert "Created study 'ls': 1 ratings by 1 annotators on 1 items." in out.getvalue()
    assert stored("ls") == {("rater1@lab.example", "a lighthouse in a storm"): (4, 7, True, 2.5 + 3.75)}


def test_label_studio_bad_tasks_are_listed_by_line_and_nothing_is_written():
    tasks = json.loads((SAMPLES / "label-studio-pairs.json").read_text(encoding="utf-8"))
    tasks[0]["annotations"][0]["result"][0]["value"]["rating"] = 11
    tasks[0]["annotations"][1]["result"].pop()
    tasks[1]["data"].pop("ours_position")
    text = json.dumps(tasks, indent=2)
    before = row_counts()
    with pytest.raises(ValidationError) as info:
        read_label_studio(text, slug="ls")
    first, second = (line for line, _ in array_elements(text, name="export"))
    assert info.value.messages == [
        f"task on line {first}, annotation 1: score 11 is outside 1–10",
        f"task on line {first}, annotation 1: '3' has no ours score for this item",  # its other half was bad
        f"task on line {first}, annotation 2: a pair task needs the scores 'left' and 'right', not 'left'",
        f"task on line {second}, annotation 1: the task's data has neither 'condition' and 'position' (one image) "
        "nor 'ours_position' (a pair)",
    ]
    assert row_counts() == before


def test_label_studio_syntax_errors_and_mixed_kinds_are_named():
    with pytest.raises(ValidationError, match=r"line 3: not valid JSON"):
        read_label_studio('[\n  {"id": 1, "annotations": []},\n  {"id": 2,, }\n]', slug="ls")
    with pytest.raises(ValidationError, match=r"line 1: A Label Studio JSON export must be a JSON array"):
        read_label_studio('{"id": 1}', slug="ls")
    pairs = json.loads((SAMPLES / "label-studio-pairs.json").read_text(encoding="utf-8"))
    images = json.loads((SAMPLES / "label-studio-images.json").read_text(encoding="utf-8"))
    with pytest.raises(ValidationError) as info:
        read_label_studio(json.dumps(pairs[:1] + images), slug="ls")
    assert (
        "task on line 1, annotation 1: this task shows one image per task, but the task on task on line 1, "
        "annotation 1 shows a pair per task; a file holds one kind"
    ) in info.value.messages


# Potato ------------------------------------------------------------------------------------------------------------


def test_potato_output_folder_through_the_command():
    out = io.StringIO()
    call_command(
        "import_ratings",
        "pot",
        str(POTATO / "output"),
        "--from",
        "potato",
        "--instances",
        str(POTATO / "pairs.jsonl"),
        stdout=out,
    )
    assert "Created study 'pot': 3 ratings by 2 annotators on 2 items." in out.getvalue()
    assert "Left out: schemas without a score, comment (1 answers)." in out.getvalue()
    assert stored("pot") == {
        ("alice", "a red fox in fresh snow, telephoto"): (5, 8, True, 8.0),
        ("alice", "an isometric city block at dusk"): (2, 10, False, 66.0),
        ("bob", "a red fox in fresh snow, telephoto"): (6, 6, True, 14.0),
    }


def test_potato_bad_lines_are_listed_with_their_file(tmp_path):
    user = tmp_path / "output" / "carol"
    user.mkdir(parents=True)
    lines = (POTATO / "output" / "alice" / "annotated_instances.jsonl").read_text(encoding="utf-8").splitlines()
    lines[1] = lines[1].replace('"scale_5": "5"', '"scale_5": "5", "scale_6": "6"')  # two points in one schema
    lines[2] = lines[2].replace("Time spent: 0d 0h 1m 2s", "a minute")
    lines.insert(3, "{not json")
    (user / "annotated_instances.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ValidationError) as info:
        read_potato(tmp_path / "output", instances=POTATO / "pairs.jsonl", slug="pot")
    assert info.value.messages == [
        "carol/annotated_instances.jsonl line 1: 'carol' has no baseline score for this item",
        "carol/annotated_instances.jsonl line 2: a one-image task needs one score, not 0 (none)",
        "carol/annotated_instances.jsonl line 3: time_string 'a minute ' is not 'Time spent: Nd Nh Nm Ns'",
        "carol/annotated_instances.jsonl line 4: not valid JSON (Expecting property name enclosed in double quotes)",
        "carol/annotated_instances.jsonl line 5: 'carol' has no ours score for this item",
    ]


def test_potato_2_user_states_of_pair_tasks():
    tidy = read_potato(POTATO / "state", instances=POTATO / "pair-tasks.jsonl", slug="pot")
    fox, city = "a red fox in fresh snow, telephoto", "an isometric city block at dusk"
    assert [
        (r.where, r.annotator, r.item, r.baseline_score, r.ours_score, r.ours_on_left, r.seconds) for r in tidy.ratings
    ] == [
        ("carol/user_state.json line 50", "carol", fox, 4, 9, True, 6.25),
        ("carol/user_state.json line 66", "carol", city, 3, 7, False, 4.5),  # no total_time_ms: the session's span
        ("dave/user_state.json line 38", "dave", fox, 5, 5, True, 3.1),
    ]
    assert tidy.notes == ("Left out: schemas without a score, notes (1 answers).",)


def test_potato_2_bad_answers_are_named_by_file_and_line(tmp_path):
    user = tmp_path / "out" / "erin"
    user.mkdir(parents=True)
    text = (POTATO / "state" / "carol" / "user_state.json").read_text(encoding="utf-8")
    state = json.loads(text)
    state["instance_id_to_label_to_value"]["p-fox"][0][1] = "11"  # the label stays 9, the value is not read
    state["instance_id_to_label_to_value"]["p-fox"][0][0]["name"] = "11"
    state["instance_id_to_label_to_value"]["p-city"].pop(1)  # no right score
    (user / "user_state.json").write_text(json.dumps(state, indent=2), encoding="utf-8")
    with pytest.raises(ValidationError) as info:
        read_potato(user / "user_state.json", instances=POTATO / "pair-tasks.jsonl", slug="pot")
    assert info.value.messages == [
        "user_state.json line 50: score 11 is outside 1–10",
        "user_state.json line 50: 'erin' has no ours score for this item",
        "user_state.json line 66: a pair task needs the scores 'left' and 'right', not 'left'",
    ]
    (user / "user_state.json").write_text('{\n  "user_id": "erin",\n  "oops"\n}', encoding="utf-8")
    with pytest.raises(ValidationError, match=r"user_state.json line 4: not valid JSON"):
        read_potato(user / "user_state.json", instances=POTATO / "pair-tasks.jsonl", slug="pot")


def test_potato_needs_its_data_file():
    with pytest.raises(CommandError, match="--from potato needs --instances"):
        call_command("import_ratings", "pot", str(POTATO / "output"), "--from", "potato")
    with pytest.raises(CommandError, match="--seconds apply to tidy files only"):
        call_command(
            "import_ratings",
            "pot",
            str(SAMPLES / "label-studio-images.json"),
            "--from",
            "label-studio",
            "--seconds",
            "image",
        )
