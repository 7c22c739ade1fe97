"""Several criteria in one study: added and removed until the first consent, each image scored on each (once, in one
statement), refused whole when a score is missing or off its criterion's scale, and read back by criterion."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from analysis.protocol import study_protocol
from analysis.protocol_text import annotator_rows
from analysis.selectors import ratings_frame
from annotations import selectors, sequence, services
from annotations.models import CheckResponse, Criterion, Rating, Study
from annotations.services import design
from tests.annotations.test_staff_pages import change_form
from tests.annotations.test_views import consent, current, url
from tests.factories import make_open_study, pair_rating, pair_ratings

pytestmark = pytest.mark.django_db

QUALITY = {"key": "quality", "question": "How good does the image look?", "label": "Visual quality"}


def add_quality(study: Study, scale_points: int = 5) -> Criterion:
    return design.add_criterion(criterion=Criterion(study=study, scale_points=scale_points, **QUALITY))


def study_of_two_criteria(slug: str = "two", **options):
    study, annotators = make_open_study(slug=slug, prompts=3, **options)
    add_quality(study)
    return study, annotators


def test_criteria_are_added_after_the_others_and_removed_until_the_first_consent():
    study, (annotator, _) = make_open_study(slug="crit", prompts=2)
    quality = add_quality(study)
    assert list(study.criteria.values_list("position", "key")) == [(0, "consistency"), (1, "quality")]
    with pytest.raises(ValidationError, match="has a criterion 'quality' already"):
        add_quality(study)
    with pytest.raises(ValidationError, match="contains U\\+202E"):
        design.add_criterion(criterion=Criterion(study=study, key="other", question="Fits\u202e?", label="Other"))
    with pytest.raises(ValidationError, match="key"):
        design.add_criterion(criterion=Criterion(study=study, key="Bad Key", question="Fits?", label="Bad"))
    assert study.criteria.count() == 2

    design.remove_criterion(criterion=study.criteria.get(key="consistency"))
    assert list(study.criteria.values_list("position", "key")) == [(0, "quality")]  # the gap is closed
    with pytest.raises(ValidationError, match="its only criterion"):
        design.remove_criterion(criterion=study.criteria.get())
    design.add_criterion(
        criterion=Criterion(study=study, key="consistency", question="Does it fit?", label="Consistency")
    )
    services.give_consent(annotator=annotator)
    with pytest.raises(ValidationError, match="criteria can be added no longer: 1 annotator has consented"):
        design.add_criterion(criterion=Criterion(study=study, key="late", question="Late?", label="Late"))
    with pytest.raises(ValidationError, match="criteria can be removed no longer: 1 annotator has consented"):
        design.remove_criterion(criterion=quality)
    assert study.criteria.count() == 2


def test_each_image_is_scored_on_each_criterion_once_and_read_back_by_criterion():
    study, (annotator, _) = study_of_two_criteria(slug="both")
    services.give_consent(annotator=annotator)
    assignment = current(annotator)
    scores = {"left": 8, "right": 3, "left-quality": 5, "right-quality": 1}
    result = services.submit_rating(annotator_id=annotator.pk, assignment_id=assignment.pk, scores=scores)
    assert result.created
    again = services.submit_rating(
        annotator_id=annotator.pk, assignment_id=assignment.pk, scores={**scores, "left": 1, "left-quality": 2}
    )
    assert not again.created
    stored = {
        (rating.condition.key, rating.criterion.key): rating.score
        for rating in Rating.objects.filter(assignment=assignment).select_related("condition", "criterion")
    }
    ours_left = assignment.ours_on_left
    left, right = ("ours", "baseline") if ours_left else ("baseline", "ours")
    assert stored == {(left, "consistency"): 8, (right, "consistency"): 3, (left, "quality"): 5, (right, "quality"): 1}
    assert pair_ratings().count() == 1 and (pair_rating().ours_score == (8 if ours_left else 3))
    quality = ratings_frame(study=study, criterion="quality")
    assert sorted(zip(quality["condition"], quality["score"], quality["position"], strict=True)) == sorted(
        [(left, 5, "left"), (right, 1, "right")]
    )
    assert sorted(ratings_frame(study=study)["score"]) == [3, 8]  # the first criterion's, as before


def test_a_missing_or_off_scale_score_refuses_the_whole_answer_naming_each_field():
    study, (annotator, _) = study_of_two_criteria(slug="bad")
    services.give_consent(annotator=annotator)
    assignment = current(annotator)
    with pytest.raises(ValidationError) as refused:
        services.submit_rating(
            annotator_id=annotator.pk,
            assignment_id=assignment.pk,
            scores={"left": 8, "right": 3, "left-quality": 6},  # 6 on a 1–5 scale, and no right-quality
        )
    assert refused.value.message_dict == {
        "left-quality": ["6 is outside 1–5."],
        "right-quality": ["Choose a score from 1 to 5."],
    }
    assert not Rating.objects.exists()


def test_the_rater_reads_the_design_as_the_orm_does():
    study, (annotator, _) = study_of_two_criteria(slug="rater")
    design.add_criterion(criterion=Criterion(study=study, key="objects", question="All objects?", label="Objects"))
    read = sequence.rater(annotator.token).design
    assert [(scale.key, scale.points) for scale in read.criteria] == [
        ("consistency", 10),
        ("quality", 5),
        ("objects", 10),
    ]
    assert [scale.id for scale in read.criteria] == list(study.criteria.values_list("pk", flat=True))
    assert (read.reference, read.ours) == tuple(study.conditions.values_list("pk", flat=True))
    assert selectors.rating_design(study_id=study.pk) == read


def test_the_page_shows_a_scale_per_criterion_and_both_paths_store_them(client):
    study, (annotator, _) = study_of_two_criteria(slug="page")
    consent(client, annotator)
    page = client.get(url("rate", annotator)).content.decode()
    for field in ("left", "right", "left-quality", "right-quality"):
        assert f'id="scale-{field}" data-field="{field}"' in page
    assert page.count('name="left-quality"') == 5 and page.count('name="left"') == 10
    assert "How good does the image look?" in page and "Rate each image on each question" in page
    first = current(annotator)
    response = client.post(url("rate", annotator), {"assignment": first.pk, "left": "4", "right": "6"})
    assert response.status_code == 400 and "Choose a score from 1 to 5." in response.content.decode()
    assert not Rating.objects.exists()
    data = {"assignment": first.pk, "left": "4", "right": "6", "left-quality": "2", "right-quality": "5"}
    assert client.post(url("rate", annotator), data).status_code == 302
    second = current(annotator)
    data = {"assignment": second.pk, "left": "1", "right": "2", "left-quality": "3", "right-quality": "4"}
    answer = client.post(url("rate", annotator), data, HTTP_ACCEPT="application/json")
    assert answer.status_code == 200 and "pair" in answer.json()
    assert Rating.objects.count() == 8 and pair_ratings().count() == 2


def test_the_consent_page_lists_each_question_and_its_scale(client):
    study, (annotator, _) = study_of_two_criteria(slug="consent")
    page = client.get(url("invite", annotator)).content.decode()
    assert 'id="criterion-consistency"' in page and 'id="criterion-quality"' in page
    assert "<strong>Question 2</strong>: from 1 to 5" in page and "Give each its own score on each question" in page
    assert "Visual quality" not in page  # a criterion's name is what results call it, never shown to annotators


def test_the_admin_adds_and_removes_criteria_until_the_first_consent(admin_client):
    study, (annotator, _) = make_open_study(slug="adm", prompts=2)
    consistency = study.criteria.get()
    change = reverse("admin:annotations_study_change", args=[study.pk])

    def criteria_rows(*new: dict, delete: bool = False) -> dict:
        rows = {
            "criteria-TOTAL_FORMS": 1 + len(new),
            "criteria-INITIAL_FORMS": 1,
            "criteria-0-id": consistency.pk,
            "criteria-0-study": study.pk,
            "criteria-0-question": consistency.question,
            "criteria-0-label": consistency.label,
            "criteria-0-scale_points": consistency.scale_points,
            "criteria-0-low_anchor": consistency.low_anchor,
            "criteria-0-high_anchor": consistency.high_anchor,
            **({"criteria-0-DELETE": "on"} if delete else {}),
        }
        for number, values in enumerate(new, start=1):
            rows |= {f"criteria-{number}-study": study.pk, f"criteria-{number}-scale_points": 10}
            rows |= {f"criteria-{number}-{name}": value for name, value in values.items()}
        return rows

    objects = {"key": "objects", "question": "Are all objects there?", "label": "Objects"}
    response = admin_client.post(change, change_form(study, **criteria_rows(QUALITY, objects)))
    assert response.status_code == 302
    assert list(study.criteria.values_list("position", "key")) == [(0, "consistency"), (1, "quality"), (2, "objects")]

    response = admin_client.post(change, change_form(study, **criteria_rows({**QUALITY, "key": "consistency"})))
    assert response.status_code == 200 and "choose another key" in response.content.decode()
    assert study.criteria.count() == 3

    services.give_consent(annotator=annotator)
    (inline,) = [
        inline
        for inline in admin_client.get(change).context["inline_admin_formsets"]
        if inline.formset.prefix == "criteria"
    ]
    assert not (inline.has_add_permission or inline.has_delete_permission)
    assert 'name="criteria-0-DELETE"' not in admin_client.get(change).content.decode()
    response = admin_client.post(change, change_form(study, **criteria_rows(delete=True)))
    assert study.criteria.count() == 3


def test_the_results_page_shows_each_criterion_on_its_own(admin_client):
    study, annotators = study_of_two_criteria(slug="res", annotators=2)
    for number, annotator in enumerate(annotators):
        services.give_consent(annotator=annotator)
        for order, assignment in enumerate(annotator.assignments.order_by("order")):
            scores = {"left": 2 + order, "right": 9 - number, "left-quality": 1 + order, "right-quality": 5 - order}
            services.submit_rating(annotator_id=annotator.pk, assignment_id=assignment.pk, scores=scores)
    results = reverse("analysis:results", args=[study.slug])
    first = admin_client.get(results)
    assert first.context["criterion"].key == "consistency" and first.context["report"].study == "res.consistency"
    page = first.content.decode()
    assert "Results: Score" in page and 'href="?criterion=quality"' in page
    quality = admin_client.get(results, {"criterion": "quality", "exclusions": "off"})
    assert quality.context["report"].study == "res.quality" and quality.context["report"].counts.ratings == 6
    assert 'href="?exclusions=on&amp;criterion=quality"' in quality.content.decode()
    missing = admin_client.get(results, {"criterion": "nope"})
    assert "has no criterion 'nope'; it has consistency, quality" in missing.context["error"]


def test_the_protocol_reports_every_question_and_an_attention_check_asks_them_all(client):
    study, (annotator, _) = study_of_two_criteria(slug="proto", attention_checks=1)
    rows = dict(annotator_rows(study_protocol(study=study)))
    assert rows["questions"] == (
        f"1. Score: {study.criteria.get(key='consistency').question}; 2. Visual quality: How good does the image look?"
    )
    assert rows["scale"] == "1–10 (1 = does not match, 10 = matches exactly); 1–5"
    consent(client, annotator)
    check = annotator.assignments.get(check_pair__isnull=False)
    with pytest.raises(ValidationError, match="right-quality"):
        services.submit_rating(annotator_id=annotator.pk, assignment_id=check.pk, scores={"left": 2, "right": 9})
    scores = {"left": 2, "right": 9, "left-quality": 3, "right-quality": 3}
    assert services.submit_rating(annotator_id=annotator.pk, assignment_id=check.pk, scores=scores).created
    stored = CheckResponse.objects.get(assignment=check)
    assert {stored.matching_score, stored.mismatched_score} == {2, 9}  # the first criterion's, as a check's
    assert not Rating.objects.filter(assignment=check).exists()


def test_the_admin_removes_the_first_criterion_while_renaming_the_others(admin_client):
    study, _ = make_open_study(slug="renum", prompts=2)
    add_quality(study)
    design.add_criterion(criterion=Criterion(study=study, key="objects", question="All there?", label="Objects"))
    rows = list(study.criteria.order_by("position"))
    data = {"criteria-TOTAL_FORMS": 3, "criteria-INITIAL_FORMS": 3}
    for number, criterion in enumerate(rows):
        data |= {
            f"criteria-{number}-id": criterion.pk,
            f"criteria-{number}-study": study.pk,
            f"criteria-{number}-question": criterion.question,
            f"criteria-{number}-label": f"{criterion.label}, renamed",
            f"criteria-{number}-scale_points": criterion.scale_points,
            f"criteria-{number}-low_anchor": criterion.low_anchor,
            f"criteria-{number}-high_anchor": criterion.high_anchor,
        }
    data["criteria-0-DELETE"] = "on"
    change = reverse("admin:annotations_study_change", args=[study.pk])
    response = admin_client.post(change, change_form(study, **data))
    assert response.status_code == 302
    assert list(study.criteria.values_list("position", "key", "label")) == [
        (0, "quality", "Visual quality, renamed"),
        (1, "objects", "Objects, renamed"),
    ]


def test_the_add_page_offers_designs_of_one_two_and_three_criteria(admin_client):
    from annotations.admin.studies import StudyForm

    assert (
        "design_preset" in StudyForm().fields
        and "design_preset" not in StudyForm(instance=make_open_study(slug="x", prompts=1)[0]).fields
    )
    add = reverse("admin:annotations_study_add")
    for slug, preset, expected in (
        ("plain", "seed", ["consistency"]),
        ("with-quality", "quality", ["consistency", "quality"]),
        ("failures", "failures", ["consistency", "quality", "objects"]),
    ):
        data = change_form(Study(slug=slug, title=slug), question="Which image fits?", model="", design_preset=preset)
        assert admin_client.post(add, data).status_code == 302, slug
        study = Study.objects.get(slug=slug)
        assert list(study.criteria.values_list("key", flat=True)) == expected
        assert study.criteria.get(position=0).question == "Which image fits?"
    objects = Study.objects.get(slug="failures").criteria.get(key="objects")
    assert (objects.scale_points, objects.low_anchor, objects.label) == (5, "missing or repeated", "Objects")
    data = change_form(Study(slug="bad", title="bad"), question="Fits?", model="", design_preset="nope")
    response = admin_client.post(add, data)
    assert response.status_code == 200 and "design_preset" in response.context["adminform"].form.errors
    assert not Study.objects.filter(slug="bad").exists()
