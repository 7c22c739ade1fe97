"""Leases: an annotator idle past the study's timeout, or marked returned or timed out on Prolific, gives its unrated
pairs back to the pool and holds no quota; a late return is told its time ran out; enrolments per network address
are limited."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from annotations import selectors, sequence, services
from annotations.models import Annotator, Assignment, Study
from annotations.services import leases
from annotations.services.enrolment import StudyFull, enrol
from tests.annotations.test_views import current, post_as_script, url
from tests.factories import make_open_study, pair_rating, pair_ratings

pytestmark = pytest.mark.django_db

TIME_RAN_OUT = "your time for this study ran out"


def idle(annotator: Annotator, minutes: float) -> None:
    """Move the annotator's every moment of activity (enrolment, consent, pairs shown) ``minutes`` into the past."""
    then = timezone.now() - timedelta(minutes=minutes)
    Assignment.objects.filter(annotator=annotator, shown_at__isnull=False).update(shown_at=then)
    Annotator.objects.filter(pk=annotator.pk).update(created_at=then)
    Annotator.objects.filter(pk=annotator.pk, consented_at__isnull=False).update(consented_at=then)


def rate_one(client: Client, annotator: Annotator) -> Assignment:
    client.get(url("rate", annotator))
    assignment = current(annotator)
    assert post_as_script(client, annotator, assignment, "7", "3").status_code == 200
    return assignment


def crowded_study(**fields) -> tuple[Study, list[Annotator]]:
    """Three pairs, two per annotator, one rating per pair: the second annotator finds the study full."""
    return make_open_study(slug="lease", prompts=3, annotators=3, pairs_per_annotator=2, ratings_per_pair=1, **fields)


def test_an_idle_annotators_unrated_pairs_go_back_to_the_pool_and_its_ratings_stay(client):
    study, (idler, newcomer, _) = crowded_study()
    services.give_consent(annotator=idler)
    rated = rate_one(client, idler)
    with pytest.raises(StudyFull):
        services.give_consent(annotator=newcomer)
    idle(idler, 61)
    services.give_consent(annotator=newcomer)  # the idler's lease is over: its unrated pair is free again
    idler.refresh_from_db()
    assert idler.released_at is not None and idler.release_reason == Annotator.ReleaseReason.IDLE
    assert list(idler.assignments.all()) == [rated] and pair_rating(assignment=rated)
    mine = set(newcomer.assignments.values_list("pair_id", flat=True))
    assert len(mine) == 2 and rated.pair_id not in mine  # a rated pair keeps counting toward ratings_per_pair
    assert {pair: total for pair, (total, _) in selectors.assigned_sides(study).items()} == dict.fromkeys(
        study.pairs.values_list("pk", flat=True), 1
    )


def test_an_annotator_within_its_timeout_or_with_no_timeout_keeps_its_pairs(client):
    study, (idler, newcomer, _) = crowded_study()
    services.give_consent(annotator=idler)
    rate_one(client, idler)
    idle(idler, 59)
    with pytest.raises(StudyFull):
        services.give_consent(annotator=newcomer)
    Study.objects.filter(pk=study.pk).update(idle_timeout_minutes=None)
    idle(idler, 60 * 24 * 30)
    with pytest.raises(StudyFull):
        services.give_consent(annotator=newcomer)
    assert not sequence.rater(idler.token).out_of_time
    assert Annotator.objects.get(pk=idler.pk).released_at is None


def test_an_idle_enrolment_frees_its_place_under_the_cap():
    study, _ = make_open_study(slug="cap", prompts=2, annotators=1, enrolment_open=True, enrolment_cap=1)
    gone = enrol(study=study, source="open", external_id="open-1")
    with pytest.raises(StudyFull, match="all the participants"):
        enrol(study=study, source="open", external_id="open-2")
    assert selectors.enrolment_count(study) == 1
    idle(gone, 61)  # joined, never consented, never came back
    newcomer = enrol(study=study, source="open", external_id="open-2")
    assert newcomer.pk != gone.pk and selectors.enrolment_count(study) == 1
    assert Annotator.objects.get(pk=gone.pk).release_reason == Annotator.ReleaseReason.IDLE


def test_invited_annotators_who_never_started_keep_their_links():
    study, (invited, other) = make_open_study(slug="inv", prompts=2, annotators=2)
    idle(invited, 60 * 24)
    services.give_consent(annotator=other)
    assert Annotator.objects.get(pk=invited.pk).released_at is None and not sequence.rater(invited.token).out_of_time


@pytest.mark.parametrize("released", [False, True], ids=["expired", "released"])
def test_a_late_return_is_told_its_time_ran_out_and_stores_nothing(client, released):
    study, (late, *_) = crowded_study()
    services.give_consent(annotator=late)
    rated = rate_one(client, late)
    client.get(url("rate", late))
    waiting = current(late)
    idle(late, 61)
    if released:
        leases.release_expired(study_id=study.pk)
        assert not Assignment.objects.filter(pk=waiting.pk).exists()
    assert sequence.rater(late.token).out_of_time and not sequence.rater(late.token).may_rate
    for page in (client.get(url("rate", late)), client.get(url("invite", late))):
        assert page.status_code == 410
        html = page.content.decode()
        assert TIME_RAN_OUT in html and "ratings you gave are kept" in html
    plain = client.post(url("rate", late), {"assignment": waiting.pk, "left": 5, "right": 5})
    assert plain.status_code == 410 and TIME_RAN_OUT in plain.content.decode()
    scripted = post_as_script(client, late, waiting, "5", "5")
    assert scripted.json() == {"redirect": url("rate", late)}
    assert list(pair_ratings().filter(assignment__annotator=late)) == [pair_ratings().get(assignment=rated)]
    assert Annotator.objects.get(pk=late.pk).finished_at is None


def test_a_submit_for_a_pair_released_under_it_is_refused_as_time_ran_out(client):
    """The rating path read the annotator before the release; the pair was gone when the answer came."""
    study, (late, *_) = crowded_study()
    services.give_consent(annotator=late)
    client.get(url("rate", late))
    waiting = current(late)
    leases.release(annotators=Annotator.objects.filter(pk=late.pk), reason=Annotator.ReleaseReason.RETURNED)
    with pytest.raises(leases.TimeRanOut):
        services.submit_rating(annotator_id=late.pk, assignment_id=waiting.pk, scores={"left": 3, "right": 4})
    assert not pair_ratings().exists()
    assert Annotator.objects.get(pk=late.pk).finished_at is None  # nothing left unanswered, but not finished


def test_the_rater_sees_expiry_without_a_release_and_a_finished_annotator_never_expires(client):
    study, (annotator, *_) = make_open_study(slug="fin", prompts=1, annotators=1)
    services.give_consent(annotator=annotator)
    idle(annotator, 61)
    assert sequence.rater(annotator.token).out_of_time
    Study.objects.filter(pk=study.pk).update(idle_timeout_minutes=90)
    assert not sequence.rater(annotator.token).out_of_time
    rate_one(client, annotator)  # the last pair: finished
    Study.objects.filter(pk=study.pk).update(idle_timeout_minutes=60)
    idle(annotator, 600)
    assert not sequence.rater(annotator.token).out_of_time
    assert leases.release_expired(study_id=study.pk) == 0


def test_the_rater_counts_from_the_last_pair_shown_when_the_lease_began_long_ago(client):
    """A lease that began within the timeout cannot have ended (its assignments are not read then); one that began
    earlier has ended only if no pair was shown since the timeout's start, as the release's search decides."""
    study, (annotator, *_) = make_open_study(slug="long", prompts=3, annotators=1)
    services.give_consent(annotator=annotator)
    rate_one(client, annotator)
    idle(annotator, 61)
    assert sequence.rater(annotator.token).out_of_time
    assert [a.pk for a in leases.expired(study=study)] == [annotator.pk]
    Assignment.objects.filter(annotator=annotator, shown_at__isnull=False).update(shown_at=timezone.now())
    assert not sequence.rater(annotator.token).out_of_time  # consented 61 minutes ago, shown a pair just now
    assert not leases.expired(study=study).exists()
    Annotator.objects.filter(pk=annotator.pk).update(consented_at=timezone.now() - timedelta(minutes=59))
    Assignment.objects.filter(annotator=annotator).update(shown_at=None)
    assert not sequence.rater(annotator.token).out_of_time  # within the timeout of its consent, nothing shown
    assert not leases.expired(study=study).exists()


@pytest.mark.parametrize(
    ("action", "reason"),
    [("mark_returned", Annotator.ReleaseReason.RETURNED), ("mark_timed_out", Annotator.ReleaseReason.TIMED_OUT)],
)
def test_the_researcher_marks_prolific_returns_and_the_slots_are_released(admin_client, action, reason):
    study, _ = make_open_study(slug="ret", prompts=2, annotators=1, enrolment_open=True, pairs_per_annotator=1)
    browser = Client()
    prolific = reverse("annotations:prolific", kwargs={"enrolment_token": study.enrolment_token})
    ids = "?PROLIFIC_PID=gone&STUDY_ID=st&SESSION_ID=se1"
    token_url = browser.get(prolific + ids)["Location"]
    participant = Annotator.objects.get(external_id="gone")
    browser.post(token_url, {"consent": "yes"})
    assert participant.assignments.count() == 1
    response = admin_client.post(
        reverse("admin:annotations_annotator_changelist"),
        {"action": action, "_selected_action": [participant.pk]},
        follow=True,
    )
    assert "1 participant released" in response.content.decode()
    participant.refresh_from_db()
    assert participant.release_reason == reason and not participant.assignments.exists()
    again = browser.get(prolific + ids)  # a released participant entering again
    assert again.status_code == 410 and TIME_RAN_OUT in again.content.decode()
    assert selectors.enrolment_count(study) == 0


def join_from(client: Client, study: Study, address: str, **extra):
    join = reverse("annotations:join", kwargs={"enrolment_token": study.enrolment_token})
    return client.post(join, REMOTE_ADDR=address, **extra)


def test_enrolments_per_address_are_limited_and_the_address_is_not_stored():
    study, _ = make_open_study(
        slug="limit", prompts=2, annotators=1, enrolment_open=True, enrolments_per_address_per_hour=2
    )
    for _ in range(2):
        assert join_from(Client(), study, "203.0.113.7").status_code == 302
    refused = join_from(Client(), study, "203.0.113.7")
    assert refused.status_code == 429 and "Too many people joined from your network" in refused.content.decode()
    prolific = reverse("annotations:prolific", kwargs={"enrolment_token": study.enrolment_token})
    from_prolific = Client().get(prolific + "?PROLIFIC_PID=p3&STUDY_ID=s&SESSION_ID=x", REMOTE_ADDR="203.0.113.7")
    assert from_prolific.status_code == 429
    assert join_from(Client(), study, "198.51.100.1").status_code == 302  # another address
    enrolled = Annotator.objects.filter(study=study).exclude(source="invite")
    assert enrolled.count() == 3
    assert all(a.enrolled_from and "203.0.113" not in a.enrolled_from for a in enrolled)
    assert len({a.enrolled_from for a in enrolled}) == 2
    enrolled.update(created_at=timezone.now() - timedelta(minutes=61))  # an hour later
    assert join_from(Client(), study, "203.0.113.7").status_code == 302
    Study.objects.filter(pk=study.pk).update(enrolments_per_address_per_hour=None)
    for _ in range(3):
        assert join_from(Client(), study, "203.0.113.7").status_code == 302


def test_ipv6_addresses_count_by_their_64_bit_network():
    study, _ = make_open_study(
        slug="six", prompts=2, annotators=1, enrolment_open=True, enrolments_per_address_per_hour=1
    )
    assert join_from(Client(), study, "2001:db8:1:2::1").status_code == 302
    assert join_from(Client(), study, "2001:db8:1:2::ffff").status_code == 429
    assert join_from(Client(), study, "2001:db8:1:3::1").status_code == 302


def test_behind_trusted_proxies_the_forwarded_client_address_counts(settings):
    settings.EVALSITE_TRUSTED_PROXIES = 1
    study, _ = make_open_study(
        slug="px", prompts=2, annotators=1, enrolment_open=True, enrolments_per_address_per_hour=1
    )
    proxy = "10.0.0.2"
    assert join_from(Client(), study, proxy, HTTP_X_FORWARDED_FOR="spoofed, 203.0.113.7").status_code == 302
    assert join_from(Client(), study, proxy, HTTP_X_FORWARDED_FOR="other, 203.0.113.7").status_code == 429
    assert join_from(Client(), study, proxy, HTTP_X_FORWARDED_FOR="203.0.113.8").status_code == 302
    settings.EVALSITE_TRUSTED_PROXIES = 0  # no proxy trusted: the header is ignored, the proxy's address counts
    assert join_from(Client(), study, proxy, HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 302
    assert join_from(Client(), study, proxy, HTTP_X_FORWARDED_FOR="203.0.113.10").status_code == 429


def test_the_study_form_shows_the_lease_and_address_settings(admin_client):
    html = admin_client.get(reverse("admin:annotations_study_add")).content.decode()
    assert 'name="idle_timeout_minutes"' in html and 'name="enrolments_per_address_per_hour"' in html


def test_a_process_looks_for_expired_annotators_once_a_minute_unless_someone_would_be_turned_away(client, settings):
    """Consents look for expired annotators at most once per EVALSITE_LEASE_SWEEP_SECONDS per study (with many
    people starting at once, a search on every consent slowed everyone); a newcomer who would find the study full
    makes the search at once."""
    from annotations.services import leases

    settings.EVALSITE_LEASE_SWEEP_SECONDS = 60
    leases._last_sweep.clear()
    study, (idler, newcomer, third) = crowded_study()
    services.give_consent(annotator=idler)  # the first consent looks (nobody to release)
    rate_one(client, idler)
    idle(idler, 61)
    assert leases.release_expired(study_id=study.pk) == 0  # looked a moment ago: not again
    idler.refresh_from_db()
    assert idler.released_at is None
    services.give_consent(annotator=newcomer)  # full but for the idler: the look is forced, and frees its pair
    idler.refresh_from_db()
    assert idler.release_reason == Annotator.ReleaseReason.IDLE
    with pytest.raises(StudyFull):  # nobody else to release: full it is
        services.give_consent(annotator=third)
