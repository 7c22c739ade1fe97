"""The live monitor's JSON: per-annotator progress and state, time per pair, attention checks, speeders and
straight-liners by analysis.stats.quality's rules, the quota and its ETA, the position check that waits for finished
annotators; and who may read it."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from scipy.stats import binomtest

from analysis.models import AnalysisSettings
from annotations import services
from annotations.models import Annotator, Rating, Study
from annotations.selectors import position_balance, quota_eta
from annotations.services import leases
from tests.factories import make_open_study, pair_ratings

pytestmark = pytest.mark.django_db


def answer(annotator: Annotator, count: int | None = None, *, scores=((7, 4), (3, 8)), passing: bool = True) -> None:
    """Consent and answer the first ``count`` (default: all) assignments in order, cycling through ``scores`` and
    passing (or failing) each attention check."""
    services.give_consent(annotator=annotator)
    for k, assignment in enumerate(annotator.assignments.order_by("order")[:count]):
        if assignment.check_pair_id:
            good = (1, 9) if assignment.ours_on_left else (9, 1)  # a low score for the mismatched image passes
            left, right = good if passing else good[::-1]
        else:
            left, right = scores[k % len(scores)]
        services.submit_rating(
            annotator_id=annotator.pk, assignment_id=assignment.pk, scores={"left": left, "right": right}
        )


def take_seconds(annotator: Annotator, seconds: float) -> None:
    Rating.objects.filter(assignment__annotator=annotator).update(seconds=seconds)


def owner_client(study: Study) -> Client:
    account = get_user_model().objects.create_user("owner", password="a long password 123", is_staff=True)
    account.groups.add(Group.objects.get(name="Researcher"))
    Study.objects.filter(pk=study.pk).update(owner=account)
    client = Client()
    client.force_login(account)
    return client


@pytest.fixture
def crowd():
    """Four pairs and an attention check each: careful and straight finished, fast two answers in, returned released
    after two answers, idle only invited."""
    study, (careful, straight, fast, returned, idle) = make_open_study(
        slug="live", prompts=4, annotators=5, attention_checks=1
    )
    answer(careful)
    answer(straight, scores=((5, 5),), passing=False)
    answer(fast, 2)
    answer(returned, 2, scores=((6, 2),))
    leases.release(annotators=Annotator.objects.filter(pk=returned.pk), reason=Annotator.ReleaseReason.RETURNED)
    take_seconds(careful, 5.0)
    take_seconds(straight, 4.0)
    take_seconds(fast, 1.0)
    return study, {"careful": careful, "straight": straight, "fast": fast, "returned": returned, "idle": idle}


def test_the_json_counts_each_annotators_progress_and_flags(crowd):
    study, people = crowd
    data = owner_client(study).get(reverse("annotations:monitor_data", args=[study.slug])).json()
    rows = {row["label"]: row for row in data["annotators"]}
    by = {name: rows[annotator.label] for name, annotator in people.items()}
    assert [row["label"] for row in data["annotators"]] == [a.label for a in people.values()]  # the order they joined

    assert by["careful"] == {
        "label": people["careful"].label,
        "state": "finished",
        "state_display": "finished",
        "answered": 5,
        "total": 5,
        "median_seconds": 5.0,
        "checks_failed": 0,
        "checks_answered": 1,
        "speeder": False,
        "straight_liner": False,
    }
    assert (by["straight"]["state"], by["straight"]["answered"], by["straight"]["total"]) == ("finished", 5, 5)
    assert (by["straight"]["checks_failed"], by["straight"]["straight_liner"], by["straight"]["speeder"]) == (
        1,
        True,
        False,
    )
    assert (by["fast"]["state"], by["fast"]["answered"], by["fast"]["total"]) == ("rating", 2, 5)
    assert (by["fast"]["median_seconds"], by["fast"]["speeder"], by["fast"]["straight_liner"]) == (1.0, True, False)
    returned = Annotator.objects.get(pk=people["returned"].pk)
    answered = returned.assignments.count()  # its unanswered pairs went back to the pool
    assert by["returned"]["state"] == "released" and by["returned"]["state_display"] == "released: returned on prolific"
    assert by["returned"]["answered"] == by["returned"]["total"] == answered
    assert (by["idle"]["state"], by["idle"]["answered"], by["idle"]["total"], by["idle"]["median_seconds"]) == (
        "invited",
        0,
        0,
        None,
    )

    assert data["speed_threshold"] == 2.0
    assert data["speeders"] == [people["fast"].label]
    assert data["straight_liners"] == [people["straight"].label]
    assert data["failed_checks"] == [{"label": people["straight"].label, "failed": 1, "answered": 1}]
    ratings = pair_ratings().filter(assignment__annotator__study=study).count()
    assert data["counts"] == {
        "invited": 5,
        "consented": 4,
        "started": study.annotators.filter(started_at__isnull=False).count(),
        "finished": 2,
        "screened_out": 0,
        "ratings": ratings,
        "median_seconds": data["counts"]["median_seconds"],
    }
    assert len(data["pairs"]) == 4 and sum(pair["ratings"] for pair in data["pairs"]) == ratings

    # no quota is set: the target is the pairs handed out that are rated or may still be
    rated_by_returned = pair_ratings().filter(assignment__annotator=returned).count()
    assert data["quota"]["target"] == 4 + 4 + 4 + rated_by_returned
    assert data["quota"]["rule"].startswith("the pairs handed to annotators so far")
    assert data["quota"]["ratings"] == ratings and data["quota"]["remaining"] == 4 + 4 + 4 + rated_by_returned - ratings
    # every rating is minutes old at most: the rate is over the minute the window is at least
    assert data["quota"]["per_minute"] == pytest.approx(ratings)
    assert data["quota"]["eta_seconds"] == pytest.approx(data["quota"]["remaining"] / ratings * 60)

    # the position check counts only the finished annotators' complete sequences
    finished = pair_ratings().filter(assignment__annotator__in=[people["careful"], people["straight"]])
    left = finished.filter(assignment__ours_on_left=True).count()
    assert data["position"] == {
        "finished": 2,
        "ratings": 8,
        "ours_left": left,
        "p_value": pytest.approx(binomtest(left, 8, 0.5).pvalue),
        "warning": "",
        "places": {},  # the seed's screen of two has sides, not places
    }


def test_the_studys_own_speed_rule_sets_the_threshold(crowd):
    study, people = crowd
    AnalysisSettings.objects.create(study=study, min_seconds_per_item=4.5)
    data = owner_client(study).get(reverse("annotations:monitor_data", args=[study.slug])).json()
    assert data["speed_threshold"] == 4.5
    assert data["speeders"] == [people["straight"].label, people["fast"].label]


def test_the_page_shows_the_same_and_loads_its_script(crowd):
    study, people = crowd
    html = owner_client(study).get(reverse("annotations:monitor", args=[study.slug])).content.decode()
    assert f'data-url="{reverse("annotations:monitor_data", args=[study.slug])}"' in html
    assert '<script src="/static/annotations/staff/monitor.js">' in html
    progress = html[html.index('id="annotator-progress"') :]
    assert f"<td>{people['fast'].label}</td><td>rating</td><td>2 / 5</td><td>1.0</td>" in progress
    assert f"<td>{people['straight'].label}</td><td>finished</td><td>5 / 5</td><td>4.0</td><td>1 of 1</td>" in progress
    assert f'<span class="flag">{people["fast"].label}</span>' in html[html.index('id="warn-speeders"') :]


def test_the_position_check_waits_for_finished_annotators_then_warns():
    study, (first, second, third) = make_open_study(slug="sides", prompts=6, annotators=3)
    answer(third, 4)
    third.assignments.update(ours_on_left=True)
    assert position_balance(study=study).ratings == 0  # nobody finished: a sequence in progress is not balanced yet
    assert position_balance(study=study).warning == ""
    for annotator in (first, second):
        answer(annotator)
        annotator.assignments.update(ours_on_left=True)
    check = position_balance(study=study)
    assert (check.finished, check.ratings, check.ours_left) == (2, 12, 12)
    assert check.p_value == pytest.approx(2 * 0.5**12)
    assert check.warning.startswith("“Ours” was on the left in 12 of 12 ratings of finished annotators")


def test_the_eta_divides_what_is_missing_by_the_recent_rate():
    study, (first, second) = make_open_study(slug="eta", prompts=3, annotators=2, ratings_per_pair=2)
    now = timezone.now()
    quota = quota_eta(study=study, now=now)
    assert (quota.target, quota.ratings, quota.remaining, quota.per_minute) == (6, 0, 6, None)
    assert quota.rule == "ratings per pair × pairs: 2 × 3"
    assert quota.eta == "unknown: no ratings in the last 15 minutes"

    answer(first)
    for minutes, rating in zip((10, 5, 1), pair_ratings().order_by("pk"), strict=True):
        Rating.objects.filter(assignment=rating.assignment).update(created_at=now - timedelta(minutes=minutes))
    quota = quota_eta(study=study, now=now)
    assert (quota.ratings, quota.remaining) == (3, 3)
    assert quota.per_minute == pytest.approx(0.3)  # three ratings over the ten minutes since the first
    assert quota.eta_seconds == pytest.approx(600) and quota.eta == "about 10 min 00 s"
    # older ratings fall out of the window
    later = now + timedelta(minutes=20)
    assert quota_eta(study=study, now=later).per_minute is None
    answer(second)
    assert quota_eta(study=study).eta == "reached"


def test_an_enrolment_cap_sets_the_target_with_the_invited():
    study, (invited, _) = make_open_study(slug="cap", prompts=3, annotators=2, enrolment_cap=4, pairs_per_annotator=2)
    answer(invited, 1)
    quota = quota_eta(study=study)
    assert quota.target == 4 * 2 + 2
    assert quota.rule == "enrolment cap × pairs each: 4 × 2, plus 2 pairs handed to invite-link annotators"


def test_only_those_who_may_view_the_study_read_its_monitor(crowd, client):
    study, _ = crowd
    url = reverse("annotations:monitor_data", args=[study.slug])
    response = client.get(url)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    owner = owner_client(study)
    assert owner.get(url).status_code == 200 and owner.get(url)["Cache-Control"] == "no-store"
    viewer = get_user_model().objects.create_user("viewer", password="a long password 123", is_staff=True)
    Study.objects.filter(pk=study.pk).update(owner=viewer)
    staff = Client()
    staff.force_login(viewer)
    assert staff.get(url).status_code == 403  # no view_study permission
    other = get_user_model().objects.create_user("other", password="a long password 123", is_staff=True)
    other.groups.add(Group.objects.get(name="Researcher"))
    stranger = Client()
    stranger.force_login(other)
    assert stranger.get(url).status_code == 404  # another's study looks like none
    assert stranger.get(reverse("annotations:monitor_data", args=["nope"])).status_code == 404
