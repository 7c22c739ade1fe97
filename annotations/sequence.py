"""An annotator's way through its assignments, in SQL: who is rating, the pairs to show next, storing an answer.

These run on every rating, since a submit answers with the next pair. Built by the ORM, their queries cost about
ten times as much Python as the queries themselves take (docs/benchmarks.md, "Load"), so they are written out here,
in SQL that SQLite and PostgreSQL both run. Everything else reads and writes through the ORM.
"""
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from generation.models import PairJob

from .models import Annotator, Assignment, CheckResponse, ImagePair, Prompt, Rating, Study

ANNOTATOR = Annotator._meta.db_table
ASSIGNMENT = Assignment._meta.db_table
CHECK_RESPONSE = CheckResponse._meta.db_table
PAIR = ImagePair._meta.db_table
JOB = PairJob._meta.db_table
PROMPT = Prompt._meta.db_table
RATING = Rating._meta.db_table
STUDY = Study._meta.db_table

#: An assignment is answered once it has a rating or, for an attention check, a check response.
UNANSWERED = (
    f'NOT EXISTS (SELECT 1 FROM "{RATING}" r WHERE r.assignment_id = a.id) '
    f'AND NOT EXISTS (SELECT 1 FROM "{CHECK_RESPONSE}" c WHERE c.assignment_id = a.id)'
)


def _fetch(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _write(sql: str, params: list) -> int:
    """Run one statement (committed at once outside a transaction); the number of rows it changed."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _db_now() -> tuple[datetime, object]:
    """Now, and now as the database's cursor takes it."""
    now = timezone.now()
    return now, connection.ops.adapt_datetimefield_value(now)


def _aware(value: datetime | str) -> datetime:
    """A timestamp column read by a bare cursor (SQLite gives text in UTC) as an aware datetime."""
    if isinstance(value, str):
        value = parse_datetime(value)
    return value if timezone.is_aware(value) else value.replace(tzinfo=UTC)


# Who is rating -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rater:
    """What the rating pages need to know of an annotator."""

    annotator_id: int
    study_id: int
    consented: bool
    started: bool
    finished: bool
    screened_out: bool
    study_open: bool

    @property
    def may_rate(self) -> bool:
        return self.consented and not (self.finished or self.screened_out) and self.study_open


def rater(token: str) -> Rater | None:
    """The annotator with this token, or None."""
    rows = _fetch(
        f"""SELECT a.id, a.study_id, a.consented_at IS NOT NULL, a.started_at IS NOT NULL,
                   a.finished_at IS NOT NULL, a.screened_out_at IS NOT NULL, s.status
            FROM "{ANNOTATOR}" a JOIN "{STUDY}" s ON s.id = a.study_id WHERE a.token = %s""",
        [token],
    )
    if not rows:
        return None
    annotator_id, study_id, status = rows[0][0], rows[0][1], rows[0][-1]
    return Rater(annotator_id, study_id, *(bool(flag) for flag in rows[0][2:-1]), status == Study.Status.OPEN)


# What comes next -------------------------------------------------------------------------------------------------


def image_names(*, ours_on_left: bool, baseline: str, ours: str, check_baseline: str | None) -> dict[str, str]:
    """The storage names an assignment shows, by side ("left", "right").

    A rating shows the pair's two arms, ours on the left when ``ours_on_left``. An attention check shows the pair's
    baseline image beside the baseline image of another prompt (``check_baseline``), which is on the left when
    ``ours_on_left``.
    """
    if check_baseline is not None:
        other, own = check_baseline, baseline
    else:
        other, own = ours, baseline
    return {"left": other, "right": own} if ours_on_left else {"left": own, "right": other}


@dataclass(frozen=True)
class Upcoming:
    """An unanswered assignment, with what the page shows of it."""

    assignment_id: int
    order: int
    prompt: str
    images: dict[str, str]  # storage names by side
    shown: bool


@dataclass(frozen=True)
class Ahead:
    """The annotator's first unanswered assignments (the current one, then the next) and its progress."""

    upcoming: list[Upcoming]
    answered: int
    total: int


def ahead(*, annotator_id: int, count: int = 2) -> Ahead:
    """The first ``count`` unanswered assignments in order, and how many of all are answered. Two queries."""
    rows = _fetch(
        f"""SELECT a.id, a."order", a.pair_id, a.check_pair_id, a.ours_on_left, a.shown_at IS NOT NULL,
                   COUNT(*) OVER (),
                   (SELECT COUNT(*) FROM "{ASSIGNMENT}" t WHERE t.annotator_id = a.annotator_id)
            FROM "{ASSIGNMENT}" a
            WHERE a.annotator_id = %s AND {UNANSWERED}
            ORDER BY a."order" LIMIT %s""",
        [annotator_id, count],
    )
    if not rows:
        return Ahead([], 0, 0)
    pair_ids = {row[2] for row in rows} | {row[3] for row in rows if row[3] is not None}
    pairs = {
        pair_id: (text, baseline or "", ours or "")
        for pair_id, text, baseline, ours in _fetch(
            f"""SELECT p.id, pr.text, j.baseline_image, j.ours_image
                FROM "{PAIR}" p JOIN "{PROMPT}" pr ON pr.id = p.prompt_id LEFT JOIN "{JOB}" j ON j.id = p.job_id
                WHERE p.id IN ({", ".join(["%s"] * len(pair_ids))})""",
            sorted(pair_ids),
        )
    }
    upcoming = []
    for assignment_id, order, pair_id, check_pair_id, ours_on_left, shown, _, _ in rows:
        text, baseline, ours = pairs[pair_id]
        check_baseline = pairs[check_pair_id][1] if check_pair_id is not None else None
        names = image_names(ours_on_left=bool(ours_on_left), baseline=baseline, ours=ours, check_baseline=check_baseline)
        upcoming.append(Upcoming(assignment_id, order, text, names, bool(shown)))
    remaining, total = rows[0][6], rows[0][7]
    return Ahead(upcoming, total - remaining, total)


def has_unanswered(*, annotator_id: int) -> bool:
    rows = _fetch(f'SELECT 1 FROM "{ASSIGNMENT}" a WHERE a.annotator_id = %s AND {UNANSWERED} LIMIT 1', [annotator_id])
    return bool(rows)


def mark_shown(*, assignment_id: int, annotator_id: int, started: bool = False) -> None:
    """Stamp the first time the server showed an assignment (later views keep the first stamp), and the annotator's
    start with it unless ``started`` says it has one."""
    _, now = _db_now()
    _write(f'UPDATE "{ASSIGNMENT}" SET shown_at = %s WHERE id = %s AND shown_at IS NULL', [now, assignment_id])
    if not started:
        _write(f'UPDATE "{ANNOTATOR}" SET started_at = %s WHERE id = %s AND started_at IS NULL', [now, annotator_id])


# Storing an answer -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stored:
    created: bool  # False: the assignment was answered already, and that first answer stands
    failed_check: bool  # an attention check answered now, and failed


def store_answer(*, annotator_id: int, assignment_id: int, left: int, right: int) -> Stored:
    """Store the scores given to one of this annotator's assignments, once: a repeat changes nothing.

    A rating stores the scores by arm; an attention check stores the matching and mismatched image's scores and
    whether the matching one scored higher. Seconds on the item count from the first time the server showed it.
    Raises ``Assignment.DoesNotExist`` for an assignment that is not this annotator's.
    """
    rows = _fetch(
        f'SELECT ours_on_left, check_pair_id, shown_at FROM "{ASSIGNMENT}" WHERE id = %s AND annotator_id = %s',
        [assignment_id, annotator_id],
    )
    if not rows:
        raise Assignment.DoesNotExist(f"Assignment {assignment_id} is not this annotator's.")
    ours_on_left, check_pair_id, shown_at = rows[0]
    now, db_now = _db_now()
    seconds = (now - _aware(shown_at)).total_seconds() if shown_at is not None else None
    first, second = (left, right) if ours_on_left else (right, left)  # (the "ours" side's score, the other's)
    if check_pair_id is None:
        table, columns, values = RATING, "baseline_score, ours_score", [second, first]
    else:  # the mismatched image stands where "ours" would
        table, columns, values = CHECK_RESPONSE, "matching_score, mismatched_score, passed", [second, first, second > first]
    created = _write(
        f"""INSERT INTO "{table}" (assignment_id, {columns}, seconds, created_at)
            VALUES (%s, {", ".join(["%s"] * len(values))}, %s, %s)
            ON CONFLICT (assignment_id) DO NOTHING""",
        [assignment_id, *values, seconds, db_now],
    )
    return Stored(created=created == 1, failed_check=created == 1 and check_pair_id is not None and second <= first)
