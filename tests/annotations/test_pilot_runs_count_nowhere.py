"""Pilot runs change none of a study's numbers: every export, the monitor, study_status, the API, the results
bundle's fingerprint, the protocol, the study lists' counts, quotas and allocation read the same before and after a
pilot has rated everything (attention checks failed, one score throughout, fast)."""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from analysis.protocol import study_protocol
from analysis.selectors import bundle_fingerprint
from annotations import services
from annotations.models import Annotator, Rating, Study
from annotations.selectors import (
    assigned_sides,
    attention_check_results,
    enrolment_count,
    live_monitor,
    pilot_runs,
    tidy_rows,
    with_counts,
)
from annotations.services import leases, pilots
from tests.api.helpers import get, token_of
from tests.factories import make_open_study, make_researchers

pytestmark = pytest.mark.django_db

API = ["/api/studies", "/api/studies/s/progress", "/api/studies/s/results", "/api/studies/s/ratings"]


def answer_everything(annotator: Annotator, score_of) -> None:
    """Consent, then answer each assignment in order with ``score_of(assignment)`` = (left, right)."""
    services.give_consent(annotator=annotator)
    for assignment in annotator.assignments.order_by("order"):
        left, right = score_of(assignment)
        services.submit_rating(
            annotator_id=annotator.pk, assignment_id=assignment.pk, scores={"left": left, "right": right}
        )


def real_answers(assignment) -> tuple[int, int]:
    """Ours a little better, varied; an attention check passed (the matching image, away from "ours", higher)."""
    if assignment.is_attention_check:
        return (3, 9) if assignment.ours_on_left else (9, 3)
    ours, baseline = 4 + assignment.order % 5, 3 + assignment.pk % 4
    return (ours, baseline) if assignment.ours_on_left else (baseline, ours)


def snapshot(study: Study, tmp_path, name: str, token: str, now) -> dict:
    """Everything that counts or analyses the study's annotators, as text or plain data."""
    study = Study.objects.get(pk=study.pk)
    out = tmp_path / name
    call_command("export_results", study.slug, "--format", "all", "--out", str(out), stdout=io.StringIO())
    status = io.StringIO()
    call_command("study_status", study.slug, stdout=status)
    monitor = live_monitor(study=study, now=now).as_dict()
    api = {path: get(path, token).json() for path in API}
    api["/api/studies/s/progress"].pop("updated_at")
    counted = with_counts(Study.objects.filter(pk=study.pk)).get()
    return {
        "files": {path.name: path.read_bytes() for path in sorted(out.iterdir())},
        "study_status": status.getvalue(),
        "monitor": monitor,
        "api": api,
        "fingerprint": bundle_fingerprint(study),
        "protocol": study_protocol(study=study),
        "counts": (counted.annotator_count, counted.rating_count),
        "tidy": list(tidy_rows(study=study)),
        "checks": attention_check_results(study=study),
        "assigned": assigned_sides(study),
        "enrolled": enrolment_count(study),
    }


def test_a_pilot_run_changes_none_of_the_studys_numbers(tmp_path):
    (ada,) = make_researchers("ada")
    study, annotators = make_open_study(
        slug="s", prompts=4, annotators=2, attention_checks=1, ratings_per_pair=3, enrolment_open=True, enrolment_cap=5
    )
    Study.objects.filter(pk=study.pk).update(owner=ada)
    for annotator in annotators:
        answer_everything(annotator, real_answers)
    token, now = token_of(ada), timezone.now()
    before = snapshot(study, tmp_path, "before", token, now)
    assert before["counts"] == (2, 8) and "summary.json" in before["files"]

    pilot = pilots.start_pilot(study=study)
    linked = pilots.join_pilot(study=study, external_id="pilot-0123456789abcdef", address="192.0.2.7")
    answer_everything(pilot, lambda assignment: (1, 10) if assignment.ours_on_left else (10, 1))  # checks failed
    answer_everything(linked, lambda assignment: (5, 5))  # one score throughout
    Rating.objects.filter(assignment__annotator__in=[pilot, linked]).update(seconds=0.2)  # speeders
    assert pilot_runs(study=study).answers == 2 * 5

    after = snapshot(study, tmp_path, "after", token, now)
    pilots_line = "Pilot runs (counted in none of the above): 2, 2 finished, 10 answers\n"  # apart, labelled
    assert after.pop("study_status") == before.pop("study_status") + pilots_line
    assert after.keys() == before.keys()
    for key in before:
        assert after[key] == before[key], key


def test_a_pilot_never_uses_up_a_place_or_a_pair():
    """A study of two pairs, each rated once at most, with room for one joiner: pilots take neither."""
    study, (invited,) = make_open_study(
        slug="s", prompts=2, annotators=1, ratings_per_pair=1, enrolment_open=True, enrolment_cap=1
    )
    for _ in range(3):
        services.give_consent(annotator=pilots.start_pilot(study=study))
    services.give_consent(annotator=pilots.join_pilot(study=study, external_id="pilot-a", address="192.0.2.1"))
    assert enrolment_count(study) == 0 and assigned_sides(study) == {}
    joined = services.enrolment.enrol(study=study, source=Annotator.Source.OPEN, address="192.0.2.1")
    services.give_consent(annotator=joined)
    assert joined.assignments.count() == 2
    with pytest.raises(services.enrolment.StudyFull):  # the two pairs have their one rating each now
        services.give_consent(annotator=invited)
    # and a full study still takes pilots, with the whole sequence
    assert services.give_consent(annotator=pilots.start_pilot(study=study)).assignments.count() == 2


def test_pilots_count_apart_from_real_joins_per_address():
    study, _ = make_open_study(
        slug="s", prompts=2, annotators=1, enrolment_open=True, enrolments_per_address_per_hour=1
    )
    pilots.join_pilot(study=study, external_id="pilot-a", address="192.0.2.1")
    with pytest.raises(services.enrolment.TooManyEnrolments, match="pilot runs"):
        pilots.join_pilot(study=study, external_id="pilot-b", address="192.0.2.1")
    services.enrolment.enrol(study=study, source=Annotator.Source.OPEN, address="192.0.2.1")  # a real join still may
    with pytest.raises(services.enrolment.TooManyEnrolments, match="joined"):
        services.enrolment.enrol(study=study, source=Annotator.Source.OPEN, address="192.0.2.1")


def test_an_idle_pilot_holds_nothing_and_never_runs_out_of_time():
    study, _ = make_open_study(slug="s", prompts=2, annotators=1, idle_timeout_minutes=1)
    pilot = services.give_consent(annotator=pilots.start_pilot(study=study))
    Annotator.objects.filter(pk=pilot.pk).update(consented_at=timezone.now() - timedelta(hours=2))
    pilot.refresh_from_db()
    assert not leases.expired(study=study).exists()
    assert leases.release_expired(study_id=study.pk, force=True) == 0
    assert not leases.has_run_out(pilot)
    assert pilot.assignments.count() == 2


def test_a_pilots_consent_locks_no_setting():
    study, _ = make_open_study(slug="s", prompts=2, annotators=1)
    services.give_consent(annotator=pilots.start_pilot(study=study))
    services.studies.check_settings_change(study=study, changed=["question", "pairs_per_annotator", "slug"])
