"""A Prolific ID is not a password: who enters with a participant's PROLIFIC_PID gets nothing of that participant
unless the entry comes from the participant's browser (its signed cookie) or repeats the participant's current
attempt exactly (SESSION_ID is Prolific's secret id of an attempt). Over-long Prolific fields are refused, not cut.
"""

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse

from annotations.models import Annotator, Study
from annotations.services import binding
from tests.factories import make_open_study

pytestmark = pytest.mark.django_db

PID = "5f1e2d3c4b5a69788796a5b4"


def prolific_url(study: Study, **params: str) -> str:
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return reverse("annotations:prolific", kwargs={"enrolment_token": study.enrolment_token}) + "?" + query


def entry(study: Study, session: str, pid: str = PID, study_id: str = "st") -> str:
    return prolific_url(study, PROLIFIC_PID=pid, STUDY_ID=study_id, SESSION_ID=session)


def invite_url(annotator: Annotator) -> str:
    return reverse("annotations:invite", kwargs={"token": annotator.token})


@pytest.fixture
def study() -> Study:
    study, _ = make_open_study(slug="bound", prompts=3, annotators=1, enrolment_open=True)
    return study


@pytest.fixture
def participant(study) -> tuple[Client, Annotator]:
    """A participant who entered from Prolific (attempt se1) in its own browser and consented."""
    browser = Client()
    response = browser.get(entry(study, "se1"))
    annotator = Annotator.objects.get(study=study, external_id=PID)
    assert response.status_code == 302 and response["Location"] == invite_url(annotator)
    browser.post(invite_url(annotator), {"consent": "yes"})
    return browser, annotator


def test_a_known_prolific_id_from_another_browser_gets_nothing_of_the_participant(study, participant):
    _, annotator = participant
    intruder = Client()
    response = intruder.get(entry(study, "guessed-session"))
    assert response.status_code == 409
    html = response.content.decode()
    assert "already taking part from another browser" in html and "contact the researcher" in html
    assert annotator.token not in html and "Location" not in response
    assert not any(name.startswith(binding.COOKIE_PREFIX) for name in response.cookies)
    annotator.refresh_from_db()  # the intruder's attempt is not recorded as the participant's
    assert annotator.entry == {"PROLIFIC_PID": PID, "STUDY_ID": "st", "SESSION_ID": "se1"}
    assert Annotator.objects.filter(study=study, external_id=PID).count() == 1


def test_the_participants_browser_resumes_with_a_new_attempt(study, participant):
    browser, annotator = participant
    response = browser.get(entry(study, "se2"))
    assert response.status_code == 302 and response["Location"] == invite_url(annotator)
    annotator.refresh_from_db()
    assert annotator.entry["SESSION_ID"] == "se2" and annotator.entry["earlier_session_ids"] == ["se1"]


def test_the_exact_current_attempt_resumes_in_a_new_browser_and_binds_it(study, participant):
    _, annotator = participant
    new_browser = Client()
    assert new_browser.get(entry(study, "se1"))["Location"] == invite_url(annotator)
    # bound now: a later attempt from this browser resumes too
    assert new_browser.get(entry(study, "se2"))["Location"] == invite_url(annotator)
    # the same PID and SESSION_ID with another STUDY_ID is not the participant's attempt
    other = Client().get(entry(study, "se2", study_id="another"))
    assert other.status_code == 409


def test_the_cookie_is_signed_httponly_lax_and_secure_over_https(study):
    response = Client().get(entry(study, "se1", pid="securepid"), secure=True)
    annotator = Annotator.objects.get(external_id="securepid")
    cookie = response.cookies[binding.cookie_name(study.pk)]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["secure"]
    assert annotator.browser_key and annotator.token not in cookie.value
    assert cookie.value != f"{annotator.pk}:{annotator.browser_key}"  # signed, not bare
    plain = Client().get(entry(study, "se1", pid="plainpid"))
    assert not plain.cookies[binding.cookie_name(study.pk)]["secure"]


@pytest.mark.parametrize("forgery", ["unsigned", "wrong-key", "other-salt"])
def test_a_forged_or_tampered_cookie_does_not_resume(study, participant, forgery):
    _, annotator = participant
    claim = f"{annotator.pk}:{annotator.browser_key}"
    value = {
        "unsigned": claim,
        "wrong-key": signing.get_cookie_signer(salt=binding.cookie_name(study.pk) + binding.COOKIE_SALT).sign(
            f"{annotator.pk}:{'x' * 43}"
        ),
        "other-salt": signing.get_cookie_signer(salt="another").sign(claim),
    }[forgery]
    intruder = Client()
    intruder.cookies[binding.cookie_name(study.pk)] = value
    assert intruder.get(entry(study, "se9")).status_code == 409


def test_the_researcher_lets_the_participant_continue_from_a_new_browser(study, participant, admin_client):
    _, annotator = participant
    changelist = reverse("admin:annotations_annotator_changelist")
    response = admin_client.post(
        changelist, {"action": "let_continue_from_new_browser", "_selected_action": [annotator.pk]}, follow=True
    )
    assert "can continue from a new browser" in response.content.decode()
    annotator.refresh_from_db()
    assert annotator.browser_key == ""
    new_browser = Client()
    assert new_browser.get(entry(study, "se7"))["Location"] == invite_url(annotator)  # the next entry binds
    assert Client().get(entry(study, "se8")).status_code == 409  # and only that one


@pytest.mark.parametrize("field", ["PROLIFIC_PID", "STUDY_ID", "SESSION_ID"])
def test_an_over_long_prolific_field_is_refused_naming_it_not_cut(study, field):
    limit = Annotator._meta.get_field("external_id").max_length
    params = {"PROLIFIC_PID": "p" * limit, "STUDY_ID": "s" * limit, "SESSION_ID": "x" * limit}
    assert Client().get(prolific_url(study, **params)).status_code == 302  # the limit itself is fine
    Annotator.objects.filter(study=study, source="prolific").delete()
    response = Client().get(prolific_url(study, **{**params, field: "y" * (limit + 1)}))
    assert response.status_code == 400
    assert f"{field} is longer than {limit} characters" in response.content.decode()
    assert not Annotator.objects.filter(study=study, source="prolific").exists()


def test_the_open_link_remembers_its_annotator_by_the_signed_cookie_only(study):
    join = reverse("annotations:join", kwargs={"enrolment_token": study.enrolment_token})
    browser = Client()
    annotator_location = browser.post(join)["Location"]
    annotator = Annotator.objects.get(study=study, source="open")
    assert annotator_location == invite_url(annotator)
    assert browser.cookies[binding.cookie_name(study.pk)]["httponly"]
    assert browser.get(join)["Location"] == invite_url(annotator)  # same browser: same annotator
    stranger = Client()
    stranger.cookies[binding.cookie_name(study.pk)] = f"{annotator.pk}:{annotator.browser_key}"  # unsigned
    assert stranger.get(join).status_code == 200  # the join page, not the annotator
