"""Importing tidy ratings: round trip with export_results, and whole-file rejection of bad input."""

import csv
import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.utils import timezone

from analysis.selectors import ratings_frame
from annotations import services
from annotations.models import Annotator, Assignment, ImagePair, Prompt, Rating, Study
from annotations.selectors import TIDY_COLUMNS
from annotations.services.rating_import import import_ratings
from tests.factories import make_open_study, make_study, pair_rating, pair_ratings

pytestmark = pytest.mark.django_db

MODELS = (Study, Prompt, ImagePair, Annotator, Assignment, Rating)


def row_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


def rated_study(slug: str = "orig") -> Study:
    """An open study whose two annotators rated all three pairs (one pair never 'shown': no seconds)."""
    study, annotators = make_open_study(slug=slug, prompts=3, annotators=2)
    scores = iter([(9, 2), (3, 3), (10, 1), (4, 8), (7, 5), (1, 10)])
    for annotator in annotators:
        services.give_consent(annotator=annotator)
        for assignment in annotator.assignments.order_by("order"):
            if assignment.order != 2:
                shown = timezone.now() - timedelta(seconds=3 + assignment.order)
                Assignment.objects.filter(pk=assignment.pk).update(shown_at=shown)
            left, right = next(scores)
            services.submit_rating(
                annotator_id=annotator.pk, assignment_id=assignment.pk, scores={"left": left, "right": right}
            )
    return study


def write_csv(path: Path, rows: list[dict], header=TIDY_COLUMNS) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(header), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def good_rows(slug: str = "imp") -> list[dict]:
    """Two annotators, two items each: eight tidy rows."""
    rows = []
    for annotator in ("ann-a", "ann-b"):
        for item, (baseline, ours), ours_side in (("a cat", (3, 8), "left"), ("a dog", (5, 5), "right")):
            base_side = "right" if ours_side == "left" else "left"
            rows.append(
                {
                    "study": slug,
                    "annotator": annotator,
                    "item": item,
                    "condition": "baseline",
                    "score": baseline,
                    "position": base_side,
                    "seconds": "4.5",
                }
            )
            rows.append(
                {
                    "study": slug,
                    "annotator": annotator,
                    "item": item,
                    "condition": "ours",
                    "score": ours,
                    "position": ours_side,
                    "seconds": "4.5",
                }
            )
    return rows


def test_round_trip_through_export_and_import(tmp_path):
    original = rated_study("orig")
    call_command("export_results", "orig", "--format", "csv", "--out", str(tmp_path), stdout=io.StringIO())
    exported = (tmp_path / "orig-ratings.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert len(rows) == 12
    for row in rows:
        row["study"] = "copy"
    path = write_csv(tmp_path / "copy.csv", rows)

    out = io.StringIO()
    call_command("import_ratings", "copy", str(path), stdout=out)
    assert "Created study 'copy': 6 ratings by 2 annotators on 3 items." in out.getvalue()

    copy = Study.objects.get(slug="copy")
    before = ratings_frame(study=original).drop(columns="study")
    after = ratings_frame(study=copy).drop(columns="study")
    assert list(after.columns) == [column for column in TIDY_COLUMNS if column != "study"]
    assert after.equals(before), (before, after)
    assert before["seconds"].isna().sum() == 4 and before["seconds"].notna().sum() == 8
    assert copy.pairs.filter(job__isnull=True).count() == 3
    # the original study is untouched
    assert pair_ratings().filter(assignment__annotator__study=original).count() == 6


def test_import_creates_the_missing_study_via_function():
    text = write_csv_text(good_rows("imp"))
    report = import_ratings(slug="imp", text=text)
    assert report.created_study and (report.ratings, report.annotators, report.items) == (4, 2, 2)
    study = Study.objects.get(slug="imp")
    assert study.status == Study.Status.DRAFT and study.model is None
    assert list(study.prompts.values_list("position", "text")) == [(0, "a cat"), (1, "a dog")]
    assert set(study.annotators.values_list("external_id", flat=True)) == {"ann-a", "ann-b"}
    cat = pair_rating(assignment__annotator__external_id="ann-a", assignment__pair__prompt__text="a cat")
    assert (cat.baseline_score, cat.ours_score, cat.seconds, cat.assignment.ours_on_left) == (3, 8, 4.5, True)
    dog = pair_rating(assignment__annotator__external_id="ann-a", assignment__pair__prompt__text="a dog")
    assert dog.assignment.ours_on_left is False
    assert sorted(Assignment.objects.filter(annotator__external_id="ann-b").values_list("order", flat=True)) == [0, 1]


def test_import_adds_to_an_existing_study(tmp_path):
    import_ratings(slug="imp", text=write_csv_text(good_rows("imp")))
    more = [dict(row, annotator="ann-c") for row in good_rows("imp")[:4]]
    more += [dict(row, annotator="ann-a", item="a bird") for row in good_rows("imp")[:2]]
    report = import_ratings(slug="imp", text=write_csv_text(more))
    assert not report.created_study and report.ratings == 3
    study = Study.objects.get(slug="imp")
    assert list(study.prompts.values_list("position", "text")) == [(0, "a cat"), (1, "a dog"), (2, "a bird")]
    assert sorted(Assignment.objects.filter(annotator__external_id="ann-a").values_list("order", flat=True)) == [
        0,
        1,
        2,
    ]
    assert pair_ratings().count() == 7


def test_import_after_a_single_item_takes_the_next_position():
    """An existing maximum of 0 (one prompt, one assignment) must not be mistaken for 'none'."""
    import_ratings(slug="imp", text=write_csv_text(good_rows("imp")[:2]))
    import_ratings(slug="imp", text=write_csv_text(good_rows("imp")[2:4]))
    study = Study.objects.get(slug="imp")
    assert list(study.prompts.values_list("position", "text")) == [(0, "a cat"), (1, "a dog")]
    assert list(Assignment.objects.filter(annotator__external_id="ann-a").values_list("order", flat=True)) == [0, 1]


def write_csv_text(rows: list[dict], header=TIDY_COLUMNS) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(header), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def import_expecting_error(tmp_path: Path, text: str, slug: str = "imp") -> str:
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    before = row_counts()
    with pytest.raises(CommandError) as info:
        call_command("import_ratings", slug, str(path), stdout=io.StringIO())
    assert row_counts() == before
    assert "nothing was written" in str(info.value)
    return str(info.value)


def test_bad_file_lists_every_bad_line_and_writes_nothing(tmp_path):
    rows = good_rows("imp")  # data lines 2..9
    rows[0] = dict(rows[0], score="eleven")  # line 2: bad score (its ours half on line 3 is then alone)
    rows[3] = dict(rows[3], condition="theirs")  # line 5: unknown condition
    rows[4] = dict(rows[4], position="middle")  # line 6: wrong position
    rows[6] = dict(rows[6], study="other")  # line 8: wrong study column
    rows[7] = dict(rows[7], seconds="soon")  # line 9: non-numeric seconds
    message = import_expecting_error(tmp_path, write_csv_text(rows))
    assert "line 2: score 'eleven' is not a whole number" in message
    assert "line 5: condition 'theirs' is not baseline or ours: a study takes imported ratings of its two" in message
    assert "line 6: position 'middle' is not left, right or a place from 1 to 16" in message
    assert "line 8: study is 'other', not 'imp'" in message
    assert "line 9: seconds 'soon' is not a number" in message
    # halves left alone by the bad lines are reported on their own lines
    assert "line 3: 'ann-a' has no baseline score" in message
    assert "line 4: 'ann-a' has no ours score" in message
    listed = [int(number) for number in re.findall(r"line (\d+):", message)]
    assert listed == sorted(listed)
    assert Study.objects.filter(slug="imp").count() == 0


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda rows: rows.__setitem__(1, dict(rows[1], score="0")), "line 3: score 0 is outside 1–10"),
        (lambda rows: rows.__setitem__(1, dict(rows[1], score="11")), "line 3: score 11 is outside 1–10"),
        (lambda rows: rows.pop(1), "line 2: 'ann-a' has no ours score for this item"),
        (
            lambda rows: rows.insert(2, dict(rows[0])),
            "line 4: a second baseline score by 'ann-a' for this item (first on line 2)",
        ),
        (
            lambda rows: rows.__setitem__(1, dict(rows[1], position="right")),
            "line 3: baseline (line 2) and ours are both on the right",
        ),
        (
            lambda rows: rows.__setitem__(1, dict(rows[1], seconds="-1")),
            "line 3: seconds '-1' must be a non-negative number",
        ),
        (
            lambda rows: rows.__setitem__(1, dict(rows[1], seconds="nan")),
            "line 3: seconds 'nan' must be a non-negative number",
        ),
        (
            lambda rows: rows.__setitem__(1, dict(rows[1], seconds="7")),
            "line 3: seconds differ from the baseline row on line 2",
        ),
        (lambda rows: rows.__setitem__(1, dict(rows[1], annotator=" ")), "line 3: annotator is empty"),
    ],
)
def test_each_kind_of_bad_row(tmp_path, change, expected):
    rows = good_rows("imp")
    change(rows)
    message = import_expecting_error(tmp_path, write_csv_text(rows))
    assert expected in message


def test_missing_header_columns(tmp_path):
    header = [column for column in TIDY_COLUMNS if column not in ("position", "seconds")]
    message = import_expecting_error(tmp_path, write_csv_text(good_rows("imp"), header=header))
    assert "line 1" in message and "position, seconds" in message


def test_wrong_field_count(tmp_path):
    text = write_csv_text(good_rows("imp")).splitlines()
    text[3] = text[3] + ",extra"
    text[5] = ",".join(text[5].split(",")[:-2])
    message = import_expecting_error(tmp_path, "\n".join(text) + "\n")
    assert "line 4: expected 8 fields" in message
    assert "line 6: expected 8 fields" in message


def test_empty_file_and_bad_slug(tmp_path):
    assert "no ratings" in import_expecting_error(tmp_path, write_csv_text([]))
    rows = [dict(row, study="not a slug") for row in good_rows()]
    assert "not a valid study slug" in import_expecting_error(tmp_path, write_csv_text(rows), slug="not a slug")


def test_unreadable_file_is_a_command_error(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_ratings", "imp", str(tmp_path / "missing.csv"))


def test_importing_the_same_ratings_twice_is_refused_whole(tmp_path):
    path = write_csv(tmp_path / "ratings.csv", good_rows("imp"))
    call_command("import_ratings", "imp", str(path), stdout=io.StringIO())
    assert pair_ratings().count() == 4
    before = row_counts()
    with pytest.raises(CommandError) as info:
        call_command("import_ratings", "imp", str(path), stdout=io.StringIO())
    message = str(info.value)
    for line in (2, 4, 6, 8):
        assert f"line {line}: " in message and "already rated this item" in message
    assert row_counts() == before

    # a file with one new and one repeated rating is refused whole too
    rows = good_rows("imp")[:2] + [dict(row, annotator="ann-new") for row in good_rows("imp")[:2]]
    with pytest.raises(ValidationError) as info:
        import_ratings(slug="imp", text=write_csv_text(rows))
    assert info.value.messages == ["line 2: 'ann-a' already rated this item in study 'imp'"]
    assert row_counts() == before
    assert not Annotator.objects.filter(external_id="ann-new").exists()


# studies that take imports, and values the database cannot hold -----------------------------------


IMPORT_RULE = "Only a study of imported ratings (no model, no generated pairs, draft or closed) takes imports"


def test_import_into_an_open_generated_study_is_refused_whole():
    """Its imported item would be a pair without images, handed to the study's next annotators."""
    study, (annotator, _) = make_open_study(slug="live", prompts=2, annotators=2)
    before = row_counts()
    with pytest.raises(ValidationError) as info:
        import_ratings(slug="live", text=write_csv_text(good_rows("live")))
    assert info.value.messages == [
        "Ratings cannot be imported into study 'live': it generates its pairs with the model 'unused' and it is "
        f"open. {IMPORT_RULE}; import into a new slug."
    ]
    assert row_counts() == before
    services.give_consent(annotator=annotator)
    assert all(assignment.pair.job_id for assignment in annotator.assignments.select_related("pair"))


@pytest.mark.parametrize("status", [Study.Status.DRAFT, Study.Status.GENERATING, Study.Status.CLOSED])
def test_import_into_a_study_with_generated_pairs_is_refused(tmp_path, status):
    study, _ = make_open_study(slug="gen", prompts=2)
    Study.objects.filter(pk=study.pk).update(status=status, model=None)
    message = import_expecting_error(tmp_path, write_csv_text(good_rows("gen")), slug="gen")
    assert "Ratings cannot be imported into study 'gen': it has generated pairs" in message


def test_import_into_a_draft_with_a_model_or_an_open_imported_study_is_refused(tmp_path):
    make_study(slug="drafted", prompts=2)
    message = import_expecting_error(tmp_path, write_csv_text(good_rows("drafted")), slug="drafted")
    assert "into study 'drafted': it generates its pairs with the model 'unused'." in message
    import_ratings(slug="imp", text=write_csv_text(good_rows("imp")[:4]))
    Study.objects.filter(slug="imp").update(status=Study.Status.OPEN)
    message = import_expecting_error(tmp_path, write_csv_text(good_rows("imp")[4:]))
    assert "into study 'imp': it is open." in message


def test_import_into_a_closed_study_of_imported_ratings_is_allowed():
    import_ratings(slug="imp", text=write_csv_text(good_rows("imp")[:4]))
    Study.objects.filter(slug="imp").update(status=Study.Status.CLOSED)
    assert import_ratings(slug="imp", text=write_csv_text(good_rows("imp")[4:])).ratings == 2


def test_too_long_slug_and_annotator_are_named(tmp_path):
    slug = "s" * 81
    message = import_expecting_error(tmp_path, write_csv_text(good_rows(slug)), slug=slug)
    assert "The study slug is 81 characters long; at most 80 are allowed." in message
    rows = good_rows("imp")
    rows[2] = dict(rows[2], annotator="a" * 201)
    message = import_expecting_error(tmp_path, write_csv_text(rows))
    assert "line 4: annotator is 201 characters long; at most 200 are allowed" in message
    rows = [dict(row, annotator="a" * 200) for row in good_rows("imp")[:2]]
    assert import_ratings(slug="imp", text=write_csv_text(rows)).ratings == 1  # 200 fit


@pytest.mark.parametrize("column", ["annotator", "item", "seconds", "study"])
def test_nul_in_a_field_is_named_with_its_line(tmp_path, column):
    rows = good_rows("imp")
    rows[1] = dict(rows[1], **{column: f"x\x00{rows[1][column]}"})
    message = import_expecting_error(tmp_path, write_csv_text(rows))
    assert f"line 3: {column} contains U+0000 NULL (a control character) at character 2" in message
    assert Study.objects.filter(slug="imp").count() == 0


def test_lone_surrogate_in_the_text_is_named_with_its_line():
    rows = good_rows("imp")
    rows[0] = dict(rows[0], item="a cat \ud800")
    with pytest.raises(ValidationError) as info:
        import_ratings(slug="imp", text=write_csv_text(rows))
    expected = "line 2: item contains U+D800 (half of a surrogate pair, which is not valid text) at character 7"
    assert expected in info.value.messages
    assert Study.objects.filter(slug="imp").count() == 0


def test_a_field_too_long_for_the_csv_reader_is_named_with_its_line(tmp_path):
    rows = good_rows("imp")
    rows[2] = dict(rows[2], item="x" * 140_000)
    message = import_expecting_error(tmp_path, write_csv_text(rows))
    assert "line 4: not valid CSV (field larger than field limit (131072)); the lines after it were not read" in message
    header = ",".join(TIDY_COLUMNS).replace("seconds", "s" * 140_000)
    message = import_expecting_error(tmp_path, header + "\n")
    assert "line 1: not valid CSV (field larger than field limit (131072))." in message
