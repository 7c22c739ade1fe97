"""Submits racing a release, in threads, many rounds: every submit either stored exactly one answer, whose
assignment is kept, or was refused with ``TimeRanOut`` and stored nothing; answers given before are never lost.

Meant for PostgreSQL (``DATABASE_URL``), where the release and the submits run at once; on SQLite writers take
turns, and the same checks hold.
"""

import random
import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from annotations import services
from annotations.models import Annotator, Assignment, CheckResponse
from annotations.services import leases
from tests.factories import make_open_study, pair_ratings

pytestmark = pytest.mark.django_db(transaction=True)

ROUNDS = 24


def answers_of(assignment_id: int) -> int:
    return (
        pair_ratings().filter(assignment_id=assignment_id).count()
        + CheckResponse.objects.filter(assignment_id=assignment_id).count()
    )


def race(annotator: Annotator, racing: list[Assignment], release, jitter: float) -> dict[int, str]:
    """Submit every racing assignment, each in a thread, while ``release`` runs in another; the outcome of each."""
    barrier = threading.Barrier(len(racing) + 1)
    outcomes: dict[int, str] = {}

    def submit(assignment: Assignment) -> None:
        try:
            barrier.wait(timeout=30)
            result = services.submit_rating(
                annotator_id=annotator.pk, assignment_id=assignment.pk, scores={"left": 3, "right": 8}
            )
            outcomes[assignment.pk] = "stored" if result.created else "repeat"
        except leases.TimeRanOut:
            outcomes[assignment.pk] = "refused"
        except Exception as exc:  # noqa: BLE001 (any other outcome fails the test below)
            outcomes[assignment.pk] = f"error: {exc!r}"
        finally:
            connection.close()

    def releaser() -> None:
        try:
            barrier.wait(timeout=30)
            threading.Event().wait(jitter)
            release()
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(assignment,)) for assignment in racing]
    threads.append(threading.Thread(target=releaser))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_submits_racing_releases_store_each_answer_once_or_are_refused():
    study, annotators = make_open_study(
        slug="race", prompts=6, annotators=ROUNDS, pairs_per_annotator=4, attention_checks=1
    )
    rng = random.Random(7)
    totals: Counter = Counter()
    for number, annotator in enumerate(annotators):
        services.give_consent(annotator=annotator)
        first, *racing = annotator.assignments.order_by("order")
        services.submit_rating(annotator_id=annotator.pk, assignment_id=first.pk, scores={"left": 5, "right": 6})
        if number % 2:  # idle past the timeout: released by the lazy release of the study's expired annotators
            Assignment.objects.filter(pk=first.pk).update(shown_at=timezone.now() - timedelta(minutes=61))

            def release(study=study):
                return leases.release_expired(study_id=study.pk)

        else:  # marked returned on Prolific by the researcher

            def release(annotator=annotator):
                return leases.release(
                    annotators=Annotator.objects.filter(pk=annotator.pk), reason=Annotator.ReleaseReason.RETURNED
                )

        outcomes = race(annotator, racing, release, jitter=rng.uniform(0, 0.02))
        assert sorted(outcomes) == sorted(a.pk for a in racing), outcomes
        annotator.refresh_from_db()
        for assignment in racing:
            outcome = outcomes[assignment.pk]
            kept = Assignment.objects.filter(pk=assignment.pk).exists()
            if outcome == "stored":
                assert kept and answers_of(assignment.pk) == 1, (number, outcome)
            else:
                assert outcome == "refused", (number, outcome)
                assert not kept and answers_of(assignment.pk) == 0, (number, outcome)
            totals[outcome] += 1
        assert answers_of(first.pk) == 1  # the answer given before the race is kept
        stored = sum(outcome == "stored" for outcome in outcomes.values())
        mine = pair_ratings().filter(assignment__annotator=annotator).count()
        mine += CheckResponse.objects.filter(assignment__annotator=annotator).count()
        assert mine == 1 + stored
        unanswered = annotator.assignments.filter(ratings__isnull=True, check_response__isnull=True)
        if annotator.released_at is not None:
            assert not unanswered.exists() and annotator.finished_at is None
        else:  # every pair was answered before the release looked: it was left to finish
            assert stored == len(racing) and annotator.finished_at is not None
    print(f"\nlease races over {ROUNDS} rounds: {dict(totals)}")
    assert totals["stored"] + totals["refused"] == ROUNDS * 4
