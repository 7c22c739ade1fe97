"""The annotator's pages and the admin, through Django's test client."""

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.messages import ERROR, SUCCESS
from django.test import Client
from django.urls import reverse

from annotations import services
from annotations.models import DEFAULT_QUESTION, Annotator, Assignment, Rating, Study
from generation.models import PairJob
from tests.factories import image_link, make_open_study, make_study, pair_rating, pair_ratings

pytestmark = pytest.mark.django_db


def url(name: str, annotator: Annotator, **kwargs) -> str:
    return reverse(f"annotations:{name}", kwargs={"token": annotator.token, **kwargs})


def consent(client: Client, annotator: Annotator) -> None:
    response = client.post(url("invite", annotator), {"consent": "yes"})
    assert response.status_code == 302 and response["Location"] == url("rate", annotator)


def current(annotator: Annotator) -> Assignment:
    return (
        annotator.assignments.filter(ratings__isnull=True)
        .select_related("pair__prompt", "pair__job")
        .order_by("order")
        .first()
    )


# the annotator's flow -----------------------------------------------------------------------------


def test_invite_shows_consent_and_a_post_without_the_box_stores_nothing(client):
    _, (annotator, _) = make_open_study(slug="s")
    response = client.get(url("invite", annotator))
    assert response.status_code == 200
    assert 'name="consent"' in response.content.decode()
    response = client.post(url("invite", annotator), {})
    assert response.status_code == 400
    assert "Tick the box" in response.content.decode()
    annotator.refresh_from_db()
    assert annotator.consented_at is None
    assert Assignment.objects.count() == 0
    # rating before consent sends the annotator back to the invite
    response = client.get(url("rate", annotator))
    assert response.status_code == 302 and response["Location"] == url("invite", annotator)


def test_full_flow_rate_resume_finish(client):
    _, (annotator, _) = make_open_study(slug="s", prompts=3)
    consent(client, annotator)
    assert annotator.assignments.count() == 3

    response = client.get(url("rate", annotator))
    html = response.content.decode()
    first = current(annotator)
    assert response.status_code == 200
    assert DEFAULT_QUESTION == "Please rate your preference on image-text consistency from 1 to 10"
    assert DEFAULT_QUESTION in html
    assert "Pair 1 of 3" in html
    assert first.pair.prompt.text in html
    assert f'name="assignment" value="{first.pk}"' in html
    assert Assignment.objects.get(pk=first.pk).shown_at is not None

    response = client.post(url("rate", annotator), {"assignment": first.pk, "left": "8", "right": "3"})
    assert response.status_code == 302 and response["Location"] == url("rate", annotator)
    rating = pair_rating(assignment=first)
    expected = (8, 3) if first.ours_on_left else (3, 8)
    assert (rating.ours_score, rating.baseline_score) == expected

    # a refresh resumes at the next pair
    response = client.get(url("rate", annotator))
    html = response.content.decode()
    second = current(annotator)
    assert second.order == 1
    assert "Pair 2 of 3" in html
    assert second.pair.prompt.text in html
    # the invite link of a consented annotator goes on to rating
    assert client.get(url("invite", annotator))["Location"] == url("rate", annotator)

    for _ in range(2):
        assignment = current(annotator)
        response = client.post(url("rate", annotator), {"assignment": assignment.pk, "left": "5", "right": "6"})
        assert response.status_code == 302
    response = client.get(url("rate", annotator))
    assert response.status_code == 302 and response["Location"] == url("done", annotator)
    annotator.refresh_from_db()
    assert annotator.completion_code
    response = client.get(url("done", annotator))
    assert response.status_code == 200
    assert annotator.completion_code in response.content.decode()
    assert pair_ratings().count() == 3
    # a finished annotator's invite link leads to the finish page
    assert client.get(url("invite", annotator))["Location"] == url("done", annotator)


def test_double_post_stores_one_rating(client):
    _, (annotator, _) = make_open_study(slug="s")
    consent(client, annotator)
    assignment = current(annotator)
    for left in ("9", "1"):
        response = client.post(url("rate", annotator), {"assignment": assignment.pk, "left": left, "right": "4"})
        assert response.status_code == 302
    rating = pair_rating()
    assert (rating.ours_score if assignment.ours_on_left else rating.baseline_score) == 9


def test_bad_score_redisplays_with_error_and_stores_nothing(client):
    _, (annotator, _) = make_open_study(slug="s")
    consent(client, annotator)
    assignment = current(annotator)
    response = client.post(url("rate", annotator), {"assignment": assignment.pk, "left": "11", "right": "4"})
    assert response.status_code == 400
    assert 'role="alert"' in response.content.decode()
    assert pair_ratings().count() == 0


def post_as_script(client: Client, annotator: Annotator, assignment: Assignment, left: str, right: str):
    """A submit as the rating page's script sends it: the same form, asking for JSON."""
    data = {"assignment": assignment.pk, "left": left, "right": right}
    return client.post(url("rate", annotator), data, HTTP_ACCEPT="application/json")


def test_script_submit_answers_with_the_next_pair(client):
    _, (annotator, _) = make_open_study(slug="s", prompts=3)
    consent(client, annotator)
    client.get(url("rate", annotator))
    first = current(annotator)
    response = post_as_script(client, annotator, first, "8", "2")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    second = current(annotator)
    assert response.json() == {
        "pair": {
            "assignment": second.pk,
            "prompt": second.pair.prompt.text,
            "position": 2,
            "total": 3,
            "images": {side: image_link(annotator, second.order, side) for side in ("left", "right")},
            "preload": [image_link(annotator, second.order + 1, side) for side in ("left", "right")],
        }
    }
    assert Assignment.objects.get(pk=second.pk).shown_at is not None
    # A retry of the same submit stores nothing more and answers with the same pair.
    assert post_as_script(client, annotator, first, "8", "2").json()["pair"]["assignment"] == second.pk
    assert pair_ratings().count() == 1
    bad = post_as_script(client, annotator, second, "0", "5")
    assert bad.status_code == 400 and bad.json() == {"error": "0 is outside 1–10."}
    assert pair_ratings().count() == 1
    third = post_as_script(client, annotator, second, "5", "5").json()["pair"]
    assert third["preload"] == [] and (third["position"], third["total"]) == (3, 3)
    last = post_as_script(client, annotator, current(annotator), "1", "10")
    assert last.json() == {"redirect": url("done", annotator)}
    annotator.refresh_from_db()
    assert annotator.finished_at and pair_ratings().count() == 3


def test_script_submit_sends_a_leaving_annotator_to_the_rating_page(client):
    study, (annotator, _) = make_open_study(slug="s", prompts=3)
    consent(client, annotator)
    Study.objects.filter(pk=study.pk).update(status=Study.Status.CLOSED)
    response = post_as_script(client, annotator, current(annotator), "5", "5")
    assert response.json() == {"redirect": url("rate", annotator)} and pair_ratings().count() == 0
    assert client.get(url("rate", annotator)).status_code == 403  # where the page says the study is closed


def test_done_before_finishing_goes_back(client):
    _, (annotator, _) = make_open_study(slug="s")
    consent(client, annotator)
    response = client.get(url("done", annotator))
    assert response.status_code == 302 and response["Location"] == url("invite", annotator)


@pytest.mark.parametrize("status", [Study.Status.CLOSED, Study.Status.READY])
def test_study_not_open_shows_the_not_open_page(client, status):
    study, (annotator, other) = make_open_study(slug="s")
    services.give_consent(annotator=other)
    Study.objects.filter(pk=study.pk).update(status=status)
    for who, name in ((annotator, "invite"), (other, "rate")):
        response = client.get(url(name, who))
        assert response.status_code == 403
        assert "not taking ratings" in response.content.decode()
    response = client.post(url("invite", annotator), {"consent": "yes"})
    assert response.status_code == 403
    assignment = current(other)
    response = client.post(url("rate", other), {"assignment": assignment.pk, "left": "5", "right": "5"})
    assert response.status_code == 403
    assert pair_ratings().count() == 0
    assert Annotator.objects.get(pk=annotator.pk).consented_at is None


# blindness ----------------------------------------------------------------------------------------


# CSRF ---------------------------------------------------------------------------------------------


# admin --------------------------------------------------------------------------------------------


@pytest.fixture
def superuser():
    return get_user_model().objects.create_superuser(username="root", email="", password="pw-not-used-anywhere")


@pytest.fixture
def staff_client(client, superuser):
    client.force_login(superuser)
    return client


def changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def test_admin_is_staff_only(client):
    study, _ = make_open_study(slug="s")
    paths = [
        reverse("admin:index"),
        changelist(Study),
        changelist(Rating),
        reverse("admin:annotations_study_change", args=[study.pk]),
    ]
    for path in paths:
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith(reverse("admin:login")), path
    user = get_user_model().objects.create_user(username="plain", password="pw-not-used-anywhere")
    client.force_login(user)
    for path in paths:
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login")), path


def test_every_admin_changelist_renders(staff_client):
    _, (annotator, _) = make_open_study(slug="s")
    make_study(slug="draft", model="")
    services.give_consent(annotator=annotator)
    first = annotator.assignments.order_by("order").first()
    services.submit_rating(annotator_id=annotator.pk, assignment_id=first.pk, scores={"left": 4, "right": 7})
    models = list(admin.site._registry)
    assert {Study, Annotator, Assignment, Rating, PairJob} <= set(models)
    for model in models:
        response = staff_client.get(changelist(model))
        assert response.status_code == 200, model
    html = staff_client.get(changelist(Study)).content.decode()
    assert "3/3" in html  # pairs generated
    html = staff_client.get(changelist(Annotator)).content.decode()
    assert f"/a/{annotator.token}/" in html


def test_admin_study_change_page_renders(staff_client):
    study, _ = make_open_study(slug="s")
    response = staff_client.get(reverse("admin:annotations_study_change", args=[study.pk]))
    assert response.status_code == 200
    assert study.prompts.first().text in response.content.decode()


def run_action(client: Client, action: str, *studies: Study) -> list[tuple[int, str]]:
    response = client.post(
        changelist(Study), {"action": action, "_selected_action": [s.pk for s in studies]}, follow=True
    )
    assert response.status_code == 200
    return [(message.level, message.message) for message in response.context["messages"]]


def test_admin_generate_action(staff_client):
    study = make_study(slug="s", prompts=2)
    no_model = make_study(slug="nomodel", model="")
    messages = run_action(staff_client, "queue_generation", study, no_model)
    assert (SUCCESS, "s: generation queued.") in messages
    assert any(level == ERROR and "nomodel" in text and "no model" in text for level, text in messages)
    assert Study.objects.get(pk=study.pk).status == Study.Status.GENERATING
    assert study.pairs.count() == 2 and PairJob.objects.count() == 2
    assert Study.objects.get(pk=no_model.pk).status == Study.Status.DRAFT


def test_admin_open_and_close_actions(staff_client):
    study, _ = make_open_study(slug="s")
    draft = make_study(slug="draft")
    messages = run_action(staff_client, "close_selected", study, draft)
    assert (SUCCESS, "s: closed.") in messages
    assert any(level == ERROR and "'draft' is not open" in text for level, text in messages)
    assert Study.objects.get(pk=study.pk).status == Study.Status.CLOSED

    messages = run_action(staff_client, "open_selected", study, draft)
    assert (SUCCESS, "s: open.") in messages
    assert any(level == ERROR and "'draft' is a draft" in text for level, text in messages)
    assert Study.objects.get(pk=study.pk).status == Study.Status.OPEN
    assert Study.objects.get(pk=draft.pk).status == Study.Status.DRAFT


def test_admin_create_annotators_action(staff_client):
    study, _ = make_open_study(slug="s", annotators=1)
    messages = run_action(staff_client, "add_ten_annotators", study)
    assert messages == [(SUCCESS, "s: 10 invite links created (see Annotators).")]
    assert study.annotators.count() == 11
    assert len(set(study.annotators.values_list("token", flat=True))) == 11


# input no token can hold, and studies that cannot serve -------------------------------------------


def test_consent_to_a_study_that_cannot_lay_out_a_sequence_logs_why(client, caplog):
    """A study opened with one pair and an attention check (as before open_study refused it): a page, not a 500;
    the reason, which tells of the study's checks, goes to the researchers' log, not to the annotator."""
    study, (annotator, _) = make_open_study(slug="one", prompts=1)
    Study.objects.filter(pk=study.pk).update(attention_checks=1)
    response = client.post(url("invite", annotator), {"consent": "yes"})
    assert response.status_code == 503
    assert "cannot start" in response.content.decode()
    assert "attention" not in response.content.decode()
    assert "needs at least two pairs for attention checks" in caplog.text
    annotator.refresh_from_db()
    assert annotator.consented_at is None and Assignment.objects.count() == 0


def test_an_example_image_missing_from_storage_is_404(client):
    study, (annotator, _) = make_open_study(slug="s")
    Study.objects.filter(pk=study.pk).update(example_low_image="examples/missing.png")
    assert client.get(url("example", annotator, end="low")).status_code == 404
    assert client.get(url("example", annotator, end="high")).status_code == 404  # none set
