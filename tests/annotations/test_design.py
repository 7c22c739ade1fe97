"""A study's design: its conditions and criteria, made with the study, copied with it, named and edited in the admin
under the rules of ``services.design``."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse

from analysis.protocol import study_protocol
from analysis.protocol_text import annotator_rows
from analysis.selectors import study_labels
from annotations import services
from annotations.models import DEFAULT_QUESTION, Condition, Criterion, Study
from annotations.services import design, pilots
from annotations.services.duplication import duplicate_study
from tests.annotations.test_staff_pages import change_form
from tests.annotations.test_views import consent, current, post_as_script, url
from tests.factories import make_open_study, make_study, pair_rating, pair_ratings

pytestmark = pytest.mark.django_db

ZWSP = "\u200b"


def design_rows(study: Study) -> tuple[list[tuple], list[tuple]]:
    conditions = list(study.conditions.values_list("position", "key", "name", "kind", "is_reference"))
    criteria = list(study.criteria.values_list("position", "key", "question", "label", "low_anchor", "high_anchor"))
    return conditions, criteria


def test_a_new_study_has_the_seed_design_asking_its_question():
    study = make_study(slug="seed", question="Which image fits the text better?")
    conditions, criteria = design_rows(study)
    assert conditions == [(0, "baseline", "Baseline", "plain", True), (1, "ours", "Ours", "entropy", False)]
    assert criteria == [
        (0, "consistency", "Which image fits the text better?", "Score", "does not match", "matches exactly")
    ]
    assert make_study(slug="default").criteria.get().question == DEFAULT_QUESTION


def test_a_question_with_a_zero_width_space_is_refused_and_nothing_is_written():
    with pytest.raises(ValidationError, match=r"Question: contains U\+200B ZERO WIDTH SPACE .* at character 6"):
        make_study(slug="bad", question=f"Which{ZWSP} fits?")
    assert not Study.objects.exists() and not Condition.objects.exists() and not Criterion.objects.exists()
    with pytest.raises(ValidationError, match="question: This field cannot be blank"):
        make_study(slug="empty", question="")
    assert not Study.objects.exists()


def test_the_database_keeps_one_reference_and_unique_keys_and_names():
    study = make_study(slug="rules")
    for change in (
        {"is_reference": True},  # a second reference
        {"key": "baseline"},
        {"name": "Baseline"},
        {"kind": "drawn"},  # no such kind
        {"kind": "plain"},  # a second plain condition: the same images
        {"position": 8},  # past the most conditions a screen shows
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            study.conditions.filter(key="ours").update(**change)
    with pytest.raises(IntegrityError), transaction.atomic():
        study.criteria.update(question="")


def test_names_may_change_any_time_but_what_annotators_read_locks_at_the_first_consent():
    study, (annotator, _) = make_open_study(slug="locks", prompts=2)
    criterion = study.criteria.get()
    criterion.label = "Image–text consistency"
    design.check_criterion(criterion=criterion, changed=["label"])
    criterion.question = "Another question?"
    design.check_criterion(criterion=criterion, changed=["question"])  # nobody has read it yet

    services.give_consent(annotator=pilots.start_pilot(study=study))  # a pilot run locks nothing
    design.check_criterion(criterion=criterion, changed=["question"])
    services.give_consent(annotator=annotator)
    design.check_criterion(criterion=criterion, changed=["label"])
    for field, name in (("question", "question"), ("scale_points", "scale"), ("high_anchor", "high anchor")):
        with pytest.raises(ValidationError, match=f"the criterion's {name} can no longer change: 1 "):
            design.check_criterion(criterion=criterion, changed=[field])
    condition = study.conditions.get(key="ours")
    condition.name = "+ entropy scaling"
    design.check_condition(condition=condition, changed=["name"])
    condition.name = f"ours{ZWSP}"
    with pytest.raises(ValidationError, match="Name: contains U\\+200B"):
        design.check_condition(condition=condition, changed=["name"])


def test_a_copy_takes_the_design_names_and_texts():
    study = make_study(slug="source", question="Does it look natural?")
    study.conditions.filter(key="ours").update(name="+ entropy scaling")
    study.criteria.update(label="Naturalness", low_anchor="artificial", high_anchor="a photograph")
    owner = get_user_model().objects.create_superuser("owner", password="x")
    copy = duplicate_study(study=study, user=owner)
    assert design_rows(copy) == design_rows(study)
    assert copy.criteria.get().pk != study.criteria.get().pk


def test_the_admin_names_conditions_and_edits_the_criterion_and_results_follow(admin_client):
    study, (annotator, _) = make_open_study(slug="named", prompts=2)
    url = reverse("admin:annotations_study_change", args=[study.pk])
    page = admin_client.get(url).content.decode()
    assert "Conditions (named in results, never shown to annotators)" in page
    assert "Criteria (what each image is rated on, and on what scale)" in page
    baseline, ours = study.conditions.order_by("position")
    criterion = study.criteria.get()

    def rows(ours_name: str, question: str, label: str) -> dict:
        return {
            "conditions-TOTAL_FORMS": 2,
            "conditions-INITIAL_FORMS": 2,
            "conditions-0-id": baseline.pk,
            "conditions-0-study": study.pk,
            "conditions-0-name": "SD-2.1",
            "conditions-1-id": ours.pk,
            "conditions-1-study": study.pk,
            "conditions-1-name": ours_name,
            "criteria-TOTAL_FORMS": 1,
            "criteria-INITIAL_FORMS": 1,
            "criteria-0-id": criterion.pk,
            "criteria-0-study": study.pk,
            "criteria-0-question": question,
            "criteria-0-label": label,
            "criteria-0-scale_points": criterion.scale_points,
            "criteria-0-low_anchor": criterion.low_anchor,
            "criteria-0-high_anchor": criterion.high_anchor,
        }

    response = admin_client.post(url, change_form(study, **rows("+ entropy scaling", "New question?", "Consistency")))
    assert response.status_code == 302, response.context["errors"] if response.context else response
    labels = study_labels(study)
    assert (labels.baseline, labels.ours, labels.question) == ("SD-2.1", "+ entropy scaling", "Consistency")
    assert study.criteria.get().question == "New question?"

    services.give_consent(annotator=annotator)
    response = admin_client.post(url, change_form(study, **rows("Ours, renamed", "Changed again?", "Consistency")))
    assert response.status_code == 200
    (criteria,) = [
        inline.formset for inline in response.context["inline_admin_formsets"] if inline.formset.prefix == "criteria"
    ]
    assert "the criterion's question can no longer change: 1 annotator has consented" in str(criteria.errors)
    assert study.criteria.get().question == "New question?"
    assert study.conditions.get(key="ours").name == "+ entropy scaling"  # nothing of a refused form is saved

    response = admin_client.post(url, change_form(study, **rows("Ours", "New question?", "Consistency")))
    assert response.status_code == 302
    response = admin_client.post(url, change_form(study, **rows("SD-2.1", "New question?", "Consistency")))
    assert response.status_code == 200
    (conditions,) = [
        inline.formset for inline in response.context["inline_admin_formsets"] if inline.formset.prefix == "conditions"
    ]
    assert "Please correct the duplicate values below." in str(conditions.non_form_errors()) + str(conditions.errors)


def test_the_add_page_asks_the_question_and_the_study_gets_the_seed_design(admin_client):
    data = change_form(Study(slug="added", title="Added"), question="  Which image fits?  ", model="")
    response = admin_client.post(reverse("admin:annotations_study_add"), data)
    assert response.status_code == 302
    study = Study.objects.get(slug="added")
    conditions, criteria = design_rows(study)
    assert [row[1] for row in conditions] == ["baseline", "ours"]
    assert criteria[0][2] == "Which image fits?"
    response = admin_client.post(reverse("admin:annotations_study_add"), {**data, "slug": "other", "question": " "})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["question"] == [
        "Give the question annotators are asked about each image."
    ]


def seven_point_study(slug: str = "seven"):
    study, annotators = make_open_study(slug=slug, prompts=3)
    study.criteria.update(scale_points=7, high_anchor="a perfect match")
    return study, annotators


def test_a_seven_point_scale_takes_1_to_7_on_every_path(client):
    study, (annotator, other) = seven_point_study()
    consent(client, annotator)
    page = client.get(url("rate", annotator)).content.decode()
    assert [int(score) for score in re.findall(r'name="left" value="(\d+)"', page)] == list(range(1, 8))
    assert "7 = a perfect match" in page and "Keys: 1–7 score" in page

    assignment = current(annotator)
    response = post_as_script(client, annotator, assignment, "8", "3")  # the script's submit
    assert response.status_code == 400 and response.json() == {"error": "8 is outside 1–7."}
    response = client.post(url("rate", annotator), {"assignment": assignment.pk, "left": "3", "right": "9"})
    assert response.status_code == 400 and "9 is outside 1–7." in response.content.decode()  # the form's
    assert not pair_ratings().exists()
    services.give_consent(annotator=other)
    with pytest.raises(ValidationError, match="10 is outside 1–7"):  # from code: the service reads the scale
        services.submit_rating(annotator_id=other.pk, assignment_id=current(other).pk, scores={"left": 10, "right": 1})
    assert post_as_script(client, annotator, assignment, "7", "1").status_code == 200
    assert pair_rating().ours_score in (7, 1)


def test_the_scale_locks_with_the_question_and_the_protocol_reports_it():
    study, (annotator, _) = seven_point_study(slug="locked")
    criterion = study.criteria.get()
    services.give_consent(annotator=annotator)
    criterion.scale_points = 10
    with pytest.raises(ValidationError, match="the criterion's scale can no longer change"):
        design.check_criterion(criterion=criterion, changed=["scale_points"])
    rows = dict(annotator_rows(study_protocol(study=study)))
    assert rows["scale"] == "1–7 (1 = does not match, 7 = a perfect match)"
    with pytest.raises(IntegrityError), transaction.atomic():
        study.criteria.update(scale_points=6)


def test_the_analysis_draws_a_study_on_its_own_scale(tmp_path):
    from analysis.cli import _scale_points
    from analysis.selectors import study_data

    study, _ = seven_point_study(slug="drawn")
    assert study_data(study).scale_points == 7
    assert study_data(make_study(slug="ten")).scale_points == 10
    assert _scale_points(study_protocol(study=study)) == 7  # evalsite-analyze, from the bundle's protocol
    assert _scale_points(None) == _scale_points({"criteria": [{"scale_points": "7"}]}) == 10
