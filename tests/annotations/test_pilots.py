"""Pilot runs through the pages: the study page's Preview as annotator and pilot link (with the permission they
need, for a study the user may see), the pilot link's page, a pilot's way through a ready study, its finish without
the study's code or completion URL, deleting pilot runs, and the rating path's query budget for a pilot."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotations import image_links, services
from annotations.admin.guards import answers_held
from annotations.admin.pilots import DELETE_URL_NAME, PREVIEW_URL_NAME
from annotations.models import Annotator, Study
from annotations.pilot_views import pilot_attempt_id
from annotations.services import pilots
from tests.annotations.test_views import consent, current, post_as_script, url
from tests.factories import (
    fake_generate,
    image_link,
    make_open_study,
    make_researchers,
    make_study,
    pair_rating,
    pair_ratings,
)

pytestmark = pytest.mark.django_db

BANNER = "Pilot run"
ATTEMPT = "A" * 43


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def ready_study(slug: str = "s", **fields) -> Study:
    """A study whose pairs are generated, not open yet."""
    study = make_study(slug=slug, **fields)
    services.queue_study_generation(study=study)
    for pair in study.pairs.select_related("job"):
        fake_generate(pair.job)
    services.studies.refresh_study_status(study_id=study.pk)
    study = Study.objects.get(pk=study.pk)
    assert study.status == Study.Status.READY
    return study


def pilot_url(study: Study) -> str:
    return reverse("annotations:pilot", kwargs={"pilot_token": study.pilot_token})


# the pilot's way through the pages ----------------------------------------------------------------------------------


def test_a_pilot_goes_through_a_ready_study_where_a_real_annotator_cannot(client):
    study = ready_study(prompts=3, attention_checks=1, completion_code="PROLIFIC1", completion_url="https://x.org/c")
    (real,) = services.create_annotators(study=study, count=1)
    refused = client.get(url("invite", real))  # not open: not taking ratings, and no pilot banner
    assert refused.status_code == 403 and BANNER not in refused.content.decode()
    assert client.post(url("invite", real), {"consent": "yes"}).status_code == 403

    pilot = pilots.start_pilot(study=study)
    response = client.get(url("invite", pilot))
    assert response.status_code == 200 and BANNER in response.content.decode()
    consent(client, pilot)
    assert pilot.assignments.count() == 4  # three pairs and the study's attention check
    page = client.get(url("rate", pilot)).content.decode()
    assert BANNER in page and 'class="rating pilot-run"' in page
    assert client.get(image_link(pilot, current(pilot).order, "left")).status_code == 200
    assert image_links.study_open(pilot.token) and not image_links.study_open(real.token)
    for assignment in pilot.assignments.order_by("order"):  # the attention check among them
        answer = post_as_script(client, pilot, assignment, "6", "4").json()
    pilot.refresh_from_db()
    assert answer == {"redirect": url("done", pilot)}  # the finish page, never the study's completion URL
    assert pilot.finished_at and pilot.completion_code not in ("", "PROLIFIC1")
    done = client.get(url("done", pilot))
    html = done.content.decode()
    assert done.status_code == 200 and BANNER in html and pilot.completion_code in html
    assert "PROLIFIC1" not in html and "completion URL" in html


def test_a_pilot_of_a_closed_study_is_told_it_takes_no_ratings(client):
    study = ready_study()
    pilot = pilots.start_pilot(study=study)
    consent(client, pilot)
    services.open_study(study=study)
    services.close_study(study=study)
    response = client.get(url("rate", pilot))
    assert response.status_code == 403
    assert "not taking ratings" in response.content.decode() and BANNER in response.content.decode()
    assert client.get(image_link(pilot, 0, "left")).status_code == 404


def test_the_pilot_link_starts_a_pilot_once_per_form(client):
    study = ready_study()
    page = client.get(pilot_url(study))
    assert page.status_code == 200 and BANNER in page.content.decode() and "Start the pilot" in page.content.decode()
    first = client.post(pilot_url(study), {"attempt": ATTEMPT})
    second = client.post(pilot_url(study), {"attempt": ATTEMPT})  # a double click
    (pilot,) = Annotator.objects.filter(study=study)
    assert pilot.is_pilot and pilot.external_id == pilot_attempt_id(ATTEMPT) and pilot.label.startswith("pilot-")
    assert first["Location"] == second["Location"] == url("invite", pilot)
    client.post(pilot_url(study), {"attempt": "B" * 43})
    assert Annotator.objects.filter(study=study, is_pilot=True).count() == 2
    assert not Annotator.objects.filter(study=study, is_pilot=False).exists()


@pytest.mark.parametrize("state", ["draft", "generating", "closed"])
def test_the_pilot_link_enrols_no_one_in_a_study_not_ready_or_open(client, state):
    study = make_study(prompts=2, enrolment_open=True)
    if state != "draft":
        services.queue_study_generation(study=study)
    if state == "closed":
        for pair in study.pairs.select_related("job"):
            fake_generate(pair.job)
        services.open_study(study=study)
        services.close_study(study=study)
    for response in (client.get(pilot_url(study)), client.post(pilot_url(study), {"attempt": ATTEMPT})):
        assert response.status_code == 403
        text = response.content.decode()
        assert ("is closed" if state == "closed" else "once every pair is generated") in text
    assert not Annotator.objects.exists()
    with pytest.raises(ValidationError):
        pilots.start_pilot(study=study)


def test_an_unknown_pilot_link_is_not_found(client):
    ready_study()
    assert client.get("/pilot/" + "x" * 43 + "/").status_code == 404


def test_a_pilots_submit_costs_four_queries_too(client):
    study, _ = make_open_study(slug="s", prompts=5)
    pilot = pilots.start_pilot(study=study)
    consent(client, pilot)
    client.get(url("rate", pilot))
    counts = []
    for _ in range(3):
        assignment = current(pilot)
        with CaptureQueriesContext(connection) as queries:
            response = post_as_script(client, pilot, assignment, "7", "3")
        assert "pair" in response.json()
        counts.append(len(queries))
    assert counts == [4, 4, 4]


# the study page -----------------------------------------------------------------------------------------------------


@pytest.fixture
def people():
    ada, grace = make_researchers("ada", "grace")
    viewer = get_user_model().objects.create_user("viewer", password="not-used-here", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_study"))
    return ada, grace, viewer


def owned(owner, **fields) -> Study:
    study = ready_study(**fields)
    Study.objects.filter(pk=study.pk).update(owner=owner)
    return Study.objects.get(pk=study.pk)


def study_page(client: Client, study: Study):
    return client.get(reverse("admin:annotations_study_change", args=[study.pk]))


def test_the_study_page_offers_preview_and_the_pilot_link_to_who_may_run_it(people, settings):
    settings.SITE_URL = "https://eval.example.org"
    ada, _, viewer = people
    study = owned(ada)
    study.shared_with.add(viewer)
    panel = study_page(signed_in(ada), study).context["study_panel"]["pilot"]
    assert panel.permitted and panel.reason == ""
    assert panel.link == f"https://eval.example.org/pilot/{study.pilot_token}/"
    html = study_page(signed_in(ada), study).content.decode()
    assert 'id="study-preview"' in html and 'data-copy-target="study-pilot-link"' in html
    assert "No pilot runs yet." in html

    seen = study_page(signed_in(viewer), study).content.decode()
    assert study.pilot_token not in seen and 'id="study-preview"' not in seen
    assert "Pilot runs need the permission annotations.run_study" in seen


def test_preview_as_annotator_starts_a_pilot_and_opens_its_consent_page(people):
    ada, grace, viewer = people
    study = owned(ada)
    preview = reverse(f"admin:{PREVIEW_URL_NAME}", args=[study.pk])
    response = signed_in(ada).post(preview)
    (pilot,) = Annotator.objects.filter(study=study)
    assert pilot.is_pilot and response.status_code == 302 and response["Location"] == url("invite", pilot)
    assert signed_in(ada).get(preview).status_code == 405
    assert signed_in(viewer).post(preview).status_code == 403  # lacks run_study
    assert signed_in(grace).post(preview).status_code == 404  # another's study
    assert Annotator.objects.count() == 1


def test_a_draft_study_says_why_it_cannot_be_piloted_yet(people):
    ada, _, _ = people
    study = make_study(slug="draft")
    Study.objects.filter(pk=study.pk).update(owner=ada)
    panel = study_page(signed_in(ada), study).context["study_panel"]["pilot"]
    assert panel.reason == "Study 'Draft' is a draft: it can be tried as a pilot once every pair is generated."
    response = signed_in(ada).post(reverse(f"admin:{PREVIEW_URL_NAME}", args=[study.pk]), follow=True)
    assert "once every pair is generated" in response.content.decode() and not Annotator.objects.exists()


def test_deleting_pilot_runs_keeps_every_real_answer(people):
    ada, grace, viewer = people
    study, (real,) = make_open_study(slug="s", prompts=2, annotators=1)
    Study.objects.filter(pk=study.pk).update(owner=ada)
    study.shared_with.add(viewer)
    for annotator in (real, pilots.start_pilot(study=study), pilots.start_pilot(study=study)):
        client = Client()
        consent(client, annotator)
        post_as_script(client, annotator, current(annotator), "8", "2")
    assert pair_ratings().count() == 3
    assert "2 pilot runs so far, 0 finished, 2 answers" in study_page(signed_in(ada), study).content.decode()
    # a pilot's answers are not collected data: a pilot may be deleted, a real annotator may not
    assert list(answers_held(Annotator.objects.filter(study=study))) == [real]

    delete = reverse(f"admin:{DELETE_URL_NAME}", args=[study.pk])
    assert signed_in(viewer).post(delete).status_code == 403
    assert signed_in(grace).post(delete).status_code == 404
    response = signed_in(ada).post(delete, follow=True)
    assert "deleted 2 pilot runs with their answers" in response.content.decode()
    assert list(Annotator.objects.all()) == [real] and pair_rating().assignment.annotator == real
    assert "No pilot runs yet." in response.content.decode()


def test_the_study_list_action_deletes_pilot_runs(people):
    ada, _, _ = people
    study = owned(ada)
    services.give_consent(annotator=pilots.start_pilot(study=study))
    response = signed_in(ada).post(
        reverse("admin:annotations_study_changelist"),
        {"action": "delete_pilot_runs_selected", "_selected_action": [study.pk]},
        follow=True,
    )
    assert "deleted 1 pilot run with their answers" in response.content.decode()
    assert not Annotator.objects.exists()


def test_the_monitor_lists_pilot_runs_apart_from_its_counts(people):
    ada, _, _ = people
    study, (real,) = make_open_study(slug="s", prompts=2, annotators=1)
    Study.objects.filter(pk=study.pk).update(owner=ada)
    pilot = pilots.start_pilot(study=study)
    for annotator in (real, pilot):
        client = Client()
        consent(client, annotator)
        post_as_script(client, annotator, current(annotator), "8", "2")
    response = signed_in(ada).get(reverse("annotations:monitor", args=[study.slug]))
    assert response.context["monitor"].invited == 1 and response.context["monitor"].ratings == 1
    assert [a.label for a in response.context["live"].annotators] == [real.label]
    assert [(a.label, a.answered, a.total) for a in response.context["pilots"]] == [(f"pilot-{pilot.pk}", 1, 2)]
    html = response.content.decode()
    assert 'id="pilot-progress"' in html and "counted in none of the numbers on this page" in html
