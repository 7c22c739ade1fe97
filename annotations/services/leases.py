"""Leases: how long an annotator holds its pairs and its place in a study without activity, and giving them back.

An annotator's lease ends after the study's ``idle_timeout_minutes`` (None: never) without activity. Its last
activity is the last time the server showed it a pair (``Assignment.shown_at``: each page and submit shows one),
else its consent, else, for an annotator who enrolled (open link or Prolific), its enrolment. An invited annotator
who never consented holds nothing and has no lease; neither has one who finished or was screened out. The rating
path reads the same rule in SQL (``sequence.rater``), so a late return is refused before any release has run.

Releasing an annotator deletes its unanswered assignments, so that their pairs go back to the pool, and records when
and why (``Annotator.ReleaseReason``: idle, returned or timed out on Prolific). Answers already stored stay, with
their assignments; a released annotator counts toward no quota and may not rate again. Releases of idle annotators
happen lazily: consent (and enrolment under a cap) releases the study's expired annotators first, in a transaction
of its own, before the study's lock is taken.

A submit racing a release either stores its answer, which the release then sees and keeps, or is refused: the
release locks the annotators' assignment rows (``SELECT ... FOR UPDATE`` on PostgreSQL) before it deletes the
unanswered ones in a statement of its own, so an answer committed before the lock is seen by the delete, and an
answer inserted after it waits for the release and then fails its foreign key (``services.ratings`` turns that
into ``TimeRanOut``).
"""

import time
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Max, Q, QuerySet
from django.utils import timezone

from .. import sequence
from ..models import Annotator, Assignment, CheckResponse, Rating, Study

ASSIGNMENT = Assignment._meta.db_table
RATING = Rating._meta.db_table
CHECK_RESPONSE = CheckResponse._meta.db_table


class TimeRanOut(ValidationError):
    """The annotator's lease has ended: it was idle past the study's timeout, or released by the researcher."""

    def __init__(self, message: str = "Your time for this study ran out; the ratings you gave are kept.") -> None:
        super().__init__(message)


def _lease_ended(annotators: QuerySet, *, timeout_minutes: int, now: datetime) -> QuerySet:
    """Those of ``annotators`` (unreleased) whose last activity is more than ``timeout_minutes`` before ``now``."""
    cutoff = now - timedelta(minutes=timeout_minutes)
    enrolled_long_ago = Q(consented_at__isnull=True, created_at__lt=cutoff) & ~Q(source=Annotator.Source.INVITE)
    return (
        annotators.filter(released_at__isnull=True, finished_at__isnull=True, screened_out_at__isnull=True)
        .order_by()
        .annotate(last_shown=Max("assignments__shown_at"))
        .filter(
            Q(last_shown__lt=cutoff) | Q(last_shown__isnull=True) & (Q(consented_at__lt=cutoff) | enrolled_long_ago)
        )
    )


def expired(*, study: Study, now: datetime | None = None) -> QuerySet:
    """The study's annotators whose lease has ended but who are not released yet (pilots hold nothing: no lease)."""
    if study.idle_timeout_minutes is None:
        return Annotator.objects.none()
    annotators = study.annotators.filter(is_pilot=False)
    return _lease_ended(annotators, timeout_minutes=study.idle_timeout_minutes, now=now or timezone.now())


def has_run_out(annotator: Annotator) -> bool:
    """Whether the annotator may not go on: released, or its lease has ended (released or not). Read as the rating
    path reads it (``sequence.rater``): a lease begun within the timeout cannot have ended, which needs no query (the
    common case: every rating page and consent); else in one query for this annotator alone."""
    if annotator.released_at is not None:
        return True
    timeout = annotator.study.idle_timeout_minutes
    if annotator.finished_at or annotator.screened_out_at or timeout is None:
        return False
    enrolled = annotator.source != Annotator.Source.INVITE
    start = annotator.consented_at or (annotator.created_at if enrolled else None)
    if start is None:
        return False  # an invitee holds nothing before it consents: no lease to end, and no query for it
    if timezone.now() - start <= timedelta(minutes=timeout):
        return False  # the last activity comes no earlier than the lease's start
    rater = sequence.rater(annotator.token)
    return rater is not None and rater.out_of_time


#: When each study's expired annotators were last looked for in this process (``time.monotonic()``).
_last_sweep: dict[int, float] = {}


def _swept_lately(study_id: int) -> bool:
    """Whether this process looked for the study's expired annotators within ``EVALSITE_LEASE_SWEEP_SECONDS`` (and
    note that it looks now, if not): a timeout counts in minutes, and with many people consenting at once the
    search on every consent slowed everyone's requests."""
    interval, now = settings.EVALSITE_LEASE_SWEEP_SECONDS, time.monotonic()
    if interval > 0 and now - _last_sweep.get(study_id, float("-inf")) < interval:
        return True
    _last_sweep[study_id] = now
    return False


def release_expired(*, study_id: int, sparing: int | None = None, force: bool = False) -> int:
    """Release the study's annotators whose lease has ended (but ``sparing``, an annotator being served now); the
    number released. Annotators another transaction holds locked (e.g. one finishing now) are left for next time.
    A process looks at most once per ``EVALSITE_LEASE_SWEEP_SECONDS`` per study, unless ``force``d (when someone
    would otherwise be turned away as the study is full); a consent that does not look costs no query, and one that
    looks reads the study's timeout as it is now."""
    if _swept_lately(study_id) and not force:
        return 0
    study = Study.objects.get(pk=study_id)
    if study.idle_timeout_minutes is None:
        return 0
    return _release_expired(study=study, sparing=sparing)


@transaction.atomic
def _release_expired(*, study: Study, sparing: int | None) -> int:
    now = timezone.now()
    candidates = list(expired(study=study, now=now).exclude(pk=sparing).values_list("pk", flat=True))
    if not candidates:
        return 0
    locked = list(
        Annotator.objects.select_for_update(skip_locked=True)
        .filter(pk__in=candidates)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    _lock_assignments(locked)
    # a pair shown after the first look but before the locks is activity: read the rule again under them
    ids = list(
        _lease_ended(
            Annotator.objects.filter(pk__in=locked), timeout_minutes=study.idle_timeout_minutes, now=now
        ).values_list("pk", flat=True)
    )
    return _release(ids, reason=Annotator.ReleaseReason.IDLE, now=now)


@transaction.atomic
def release(*, annotators: QuerySet, reason: str) -> int:
    """Release the given annotators (e.g. returned or timed out on Prolific) but those finished or released
    already; the number released."""
    if reason not in Annotator.ReleaseReason.values:
        raise ValidationError(f"{reason!r} is not a reason to release an annotator.")
    ids = list(
        Annotator.objects.select_for_update()
        .filter(pk__in=annotators.values("pk"), released_at__isnull=True, finished_at__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    _lock_assignments(ids)
    return _release(ids, reason=reason, now=timezone.now())


def _lock_assignments(annotator_ids: list[int]) -> None:
    """Lock the annotators' assignment rows until the transaction ends: an answer being inserted is waited for,
    and one inserted after this waits for the release (its foreign key reads the assignment)."""
    assignments = Assignment.objects.select_for_update().filter(annotator_id__in=annotator_ids).order_by("pk")
    list(assignments.values_list("pk", flat=True))


def _release(annotator_ids: list[int], *, reason: str, now: datetime) -> int:
    """Delete the annotators' unanswered assignments (in a statement of its own, which sees every answer committed
    before the locks) and record the release. An annotator whose every pair is answered (its last answer came in
    just now, and it is finishing) is left to finish."""
    holding = Q(consented_at__isnull=True) | Q(
        assignments__ratings__isnull=True, assignments__check_response__isnull=True
    )
    annotator_ids = list(
        Annotator.objects.filter(holding, pk__in=annotator_ids).order_by().distinct().values_list("pk", flat=True)
    )
    if not annotator_ids:
        return 0
    marks = ", ".join(["%s"] * len(annotator_ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"""DELETE FROM "{ASSIGNMENT}" WHERE annotator_id IN ({marks})
                AND NOT EXISTS (SELECT 1 FROM "{RATING}" r WHERE r.assignment_id = "{ASSIGNMENT}".id)
                AND NOT EXISTS (SELECT 1 FROM "{CHECK_RESPONSE}" c WHERE c.assignment_id = "{ASSIGNMENT}".id)""",
            annotator_ids,
        )
    return Annotator.objects.filter(pk__in=annotator_ids).update(released_at=now, release_reason=reason)
