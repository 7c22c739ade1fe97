"""An annotator's way through its assignments, in SQL: who is rating, the pairs to show next, storing an answer.

These run on every rating, since a submit answers with the next pair. Built by the ORM, their queries cost about
ten times as much Python as the queries themselves take (docs/benchmarks.md, "Load"), so they are written out here,
in SQL that SQLite and PostgreSQL both run. Everything else reads and writes through the ORM (``selectors`` and
``services``).

It holds both the path's reads and its writes, unlike the rest of the app, because they are one piece: a submit is
at most four queries (five on the first pair), exactly-once storage rests on the inserts' ``ON CONFLICT`` and on
what counts as answered (``UNANSWERED``), and the reads and writes share those fragments, the table names and the
cursor helpers. Kept together, the whole query budget of a submit can be read, and tested, in one place.
``services.ratings.submit_rating`` is the write that views call; it checks the scores and stores them here.
"""

from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from analysis.stats.tidy import POSITIONS, SLOTS
from generation.models import PairJob

from .models import (
    JOB_ARMS,
    Annotator,
    Assignment,
    CheckResponse,
    Condition,
    ConditionImage,
    Criterion,
    ImagePair,
    Prompt,
    Rating,
    Study,
    is_token,
    takes_answers,
)

ANNOTATOR = Annotator._meta.db_table
ASSIGNMENT = Assignment._meta.db_table
CHECK_RESPONSE = CheckResponse._meta.db_table
CONDITION = Condition._meta.db_table
CONDITION_IMAGE = ConditionImage._meta.db_table
CRITERION = Criterion._meta.db_table
PAIR = ImagePair._meta.db_table
JOB = PairJob._meta.db_table
PROMPT = Prompt._meta.db_table
RATING = Rating._meta.db_table
STUDY = Study._meta.db_table

#: An assignment is answered once it has ratings or, for an attention check, a check response.
UNANSWERED = (
    f'NOT EXISTS (SELECT 1 FROM "{RATING}" r WHERE r.assignment_id = a.id) '
    f'AND NOT EXISTS (SELECT 1 FROM "{CHECK_RESPONSE}" c WHERE c.assignment_id = a.id)'
)


def _fetch(sql: str, params: list | dict) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _write(sql: str, params: list | dict) -> int:
    """Run one statement (committed at once outside a transaction); the number of rows it changed."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _db_now() -> object:
    """Now, as the database's cursor takes it."""
    return connection.ops.adapt_datetimefield_value(timezone.now())


# Who is rating -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scale:
    """A criterion as the rating path needs it: its id, its key and the top of its scale."""

    id: int
    key: str
    points: int


#: The places of the seed's screen of two images, whose arms ``ours_on_left`` sets: the tidy ratings' positions.
PAIR_PLACES = POSITIONS


def numbered_places(count: int) -> tuple[str, ...]:
    """The places of a screen of ``count`` images, from the left: "1" to ``count`` (the tidy ratings' slots)."""
    return SLOTS[:count]


@dataclass(frozen=True)
class Design:
    """What storing an answer needs of a study's design: its criteria in order, and its conditions' ids and kinds in
    order. The seed's design (the pair job's two arms, the plain reference first) shows them on a screen of two,
    ours on the left when ``ours_on_left``; every other design shows every condition's image, in the places the
    assignment's ``layout`` gives."""

    criteria: tuple[Scale, ...]
    conditions: tuple[int, ...]
    kinds: tuple[str, ...]
    pairwise: bool = False  # a choice between two conditions' images per criterion (stored as ``CHOSEN`` scores)
    ties: bool = True  # a pairwise study takes "tie" as an answer

    @property
    def paired(self) -> bool:
        """Whether the study's screen is the seed's: its two conditions, the pair job's plain and entropy arms, each
        image rated."""
        return not self.pairwise and self.kinds == ("plain", "entropy")

    @property
    def reference(self) -> int:
        return self.conditions[0]

    @property
    def ours(self) -> int:
        return self.conditions[1]

    @property
    def places(self) -> tuple[str, ...]:
        """The places of the study's screen: "left" and "right" on the seed's, "1" to K on a screen of K images, "1"
        and "2" on a pairwise screen."""
        if self.paired:
            return PAIR_PLACES
        return numbered_places(2 if self.pairwise else len(self.conditions))


@dataclass(frozen=True)
class Rater:
    """What the rating pages need to know of an annotator."""

    annotator_id: int
    study_id: int
    consented: bool
    started: bool
    finished: bool
    screened_out: bool
    released: bool
    pilot: bool  # a pilot run (``services.pilots``): it has no lease
    study_open: bool  # the study takes this annotator's answers (``models.takes_answers``)
    lease_ended: bool  # idle past the study's timeout (the lease rule of ``services.leases``), released or not
    design: Design  # what storing an answer needs of the study's conditions and criteria

    @property
    def out_of_time(self) -> bool:
        """Released, or its lease has ended."""
        return self.released or self.lease_ended

    @property
    def may_rate(self) -> bool:
        return self.consented and not (self.finished or self.screened_out or self.out_of_time) and self.study_open


#: When the annotator's lease began: its consent, else (for an annotator who enrolled rather than was invited) its
#: enrolment; NULL for an invited annotator who never consented.
LEASE_START = "COALESCE(a.consented_at, CASE WHEN a.source <> %(invite)s THEN a.created_at END)"
#: The annotator's last activity (``services.leases``): the last time a pair was shown, else the lease's start.
LAST_ACTIVITY = f'COALESCE((SELECT MAX(x.shown_at) FROM "{ASSIGNMENT}" x WHERE x.annotator_id = a.id), {LEASE_START})'
#: Seconds from a moment to ``%(now)s``, per database.
SECONDS_SINCE = {
    "postgresql": "EXTRACT(EPOCH FROM (%(now)s - {}))",
    "sqlite": "(julianday(%(now)s) - julianday({})) * 86400.0",
}


def _lease_ended_sql(vendor: str) -> str:
    """Whether the annotator's lease has ended. The last activity comes no earlier than the lease's start, so a lease
    that began within the timeout cannot have ended, and its assignments are not read: the common case on every
    submit, which the search through them would cost a visit to each of the annotator's assignment rows."""
    since = SECONDS_SINCE[vendor]
    timeout = "s.idle_timeout_minutes * 60"
    return (
        "CASE WHEN s.idle_timeout_minutes IS NULL OR a.is_pilot OR a.finished_at IS NOT NULL "
        "OR a.screened_out_at IS NOT NULL THEN 0 "
        f"WHEN {since.format(LEASE_START)} <= {timeout} THEN 0 "
        f"WHEN {since.format(LAST_ACTIVITY)} > {timeout} THEN 1 ELSE 0 END"
    )


#: Each database's aggregate that joins texts with a separator.
AGGREGATE = {"postgresql": "string_agg", "sqlite": "group_concat"}

#: The study's criteria as "position:id:key:points" texts and its conditions as "position:id:kind" texts, each joined
#: by commas, per database (keys and kinds hold no ":" or ",").
DESIGN = {
    vendor: tuple(
        f"""(SELECT {aggregate}({text}, ',') FROM "{table}" c WHERE c.study_id = a.study_id)"""
        for table, text in (
            (CRITERION, "c.position || ':' || c.id || ':' || c.key || ':' || c.scale_points"),
            (CONDITION, "c.position || ':' || c.id || ':' || c.kind"),
        )
    )
    for vendor, aggregate in AGGREGATE.items()
}


def _design(criteria: str | None, conditions: str | None, task: str = "rating", ties: bool = True) -> Design:
    """The design ``DESIGN``'s two texts give (in position order, whatever order the database joined them in)."""

    def parts(joined: str | None) -> list[list[str]]:
        return sorted((item.split(":") for item in (joined or "").split(",") if item), key=lambda part: int(part[0]))

    scales = tuple(Scale(int(pk), key, int(points)) for _, pk, key, points in parts(criteria))
    ordered = parts(conditions)
    pks, kinds = tuple(int(pk) for _, pk, _ in ordered), tuple(kind for _, _, kind in ordered)
    return Design(scales, pks, kinds, pairwise=task == Study.Task.PAIRWISE, ties=bool(ties))


def rater(token: str) -> Rater | None:
    """The annotator with this token, or None (also for text no token can be, e.g. with a NUL)."""
    if not is_token(token):
        return None
    rows = _fetch(
        f"""SELECT a.id, a.study_id, a.consented_at IS NOT NULL, a.started_at IS NOT NULL,
                   a.finished_at IS NOT NULL, a.screened_out_at IS NOT NULL, a.released_at IS NOT NULL, a.is_pilot,
                   s.status, {_lease_ended_sql(connection.vendor)}, {", ".join(DESIGN[connection.vendor])}, s.task,
                   s.allow_ties
            FROM "{ANNOTATOR}" a JOIN "{STUDY}" s ON s.id = a.study_id WHERE a.token = %(token)s""",
        {"token": token, "now": _db_now(), "invite": Annotator.Source.INVITE.value},
    )
    if not rows:
        return None
    annotator_id, study_id, *flags, status, lease_ended, criteria, conditions, task, ties = rows[0]
    return Rater(
        annotator_id,
        study_id,
        *(bool(flag) for flag in flags),
        study_open=takes_answers(status, pilot=bool(flags[-1])),
        lease_ended=bool(lease_ended),
        design=_design(criteria, conditions, task, ties),
    )


# What comes next -------------------------------------------------------------------------------------------------


def image_names(
    *,
    ours_on_left: bool,
    baseline: str,
    ours: str,
    check_arm: str = "",
    check_other_arm: str = "",
    check_baseline: str = "",
    check_ours: str = "",
) -> dict[str, str]:
    """The storage names an assignment shows, by side ("left", "right").

    A rating shows the pair's two arms, ours on the left when ``ours_on_left``. An attention check (``check_arm``
    given) shows the pair's image of ``check_arm`` beside the other prompt's image of ``check_other_arm``
    (``check_baseline`` or ``check_ours``), the other prompt's on the left when ``ours_on_left``.
    """
    if check_arm:
        shown = baseline if check_arm == "baseline" else ours
        other = check_baseline if check_other_arm == "baseline" else check_ours
    else:
        shown, other = baseline, ours  # "other" stands where ours would
    return {"left": other, "right": shown} if ours_on_left else {"left": shown, "right": other}


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


def ahead(*, annotator_id: int, count: int = 2, laid_out: bool | None = None) -> Ahead:
    """The first ``count`` unanswered assignments in order, and how many of all are answered, in one query.

    The assignments are picked in a subquery of their own and only they are joined to their pairs, prompts and
    jobs: joined in one flat query, PostgreSQL would spend longer planning the joins than running them.
    ``laid_out``: whether the study shows every condition's image (``Design.paired`` is false); unknown (None), the
    seed's screen is read first, and a second query reads a screen of several images if the assignments have one.
    """
    if laid_out:
        return _ahead_laid_out(annotator_id=annotator_id, count=count)
    rows = _fetch(
        f"""SELECT u.id, u."order", u.ours_on_left, u.shown, u.remaining,
                   (SELECT COUNT(*) FROM "{ASSIGNMENT}" t WHERE t.annotator_id = %(annotator)s),
                   pr.text, j.baseline_image, j.ours_image, u.check_arm, u.check_other_arm,
                   cj.baseline_image, cj.ours_image, u.layout
            FROM (SELECT a.id, a."order", a.pair_id, a.check_pair_id, a.check_arm, a.check_other_arm, a.ours_on_left,
                         a.layout, a.shown_at IS NOT NULL AS shown, COUNT(*) OVER () AS remaining
                  FROM "{ASSIGNMENT}" a WHERE a.annotator_id = %(annotator)s AND {UNANSWERED}
                  ORDER BY a."order" LIMIT %(count)s) u
            JOIN "{PAIR}" p ON p.id = u.pair_id
            JOIN "{PROMPT}" pr ON pr.id = p.prompt_id
            LEFT JOIN "{JOB}" j ON j.id = p.job_id
            LEFT JOIN "{PAIR}" cp ON cp.id = u.check_pair_id
            LEFT JOIN "{JOB}" cj ON cj.id = cp.job_id
            ORDER BY u."order"
        """,
        {"annotator": annotator_id, "count": count},
    )
    if not rows:
        return Ahead([], 0, 0)
    if laid_out is None and any(row[13] for row in rows):
        return _ahead_laid_out(annotator_id=annotator_id, count=count)
    upcoming = []
    for row in rows:
        assignment_id, order, ours_on_left, shown, _, _, text, baseline, ours, arm, other_arm = row[:11]
        check_baseline, check_ours = row[11:13]
        names = image_names(
            ours_on_left=bool(ours_on_left),
            baseline=baseline or "",
            ours=ours or "",
            check_arm=arm,
            check_other_arm=other_arm,
            check_baseline=check_baseline or "",
            check_ours=check_ours or "",
        )
        upcoming.append(Upcoming(assignment_id, order, text, names, bool(shown)))
    remaining, total = rows[0][4], rows[0][5]
    return Ahead(upcoming, total - remaining, total)


def _condition_images_sql(vendor: str, *, pair: str, job: str) -> str:
    """A pair's image of each condition of its study, as "position:storage name" texts joined by commas: from the
    pair job's arms (``job``, joined) for the plain and entropy conditions, from its prompt's condition images for
    the rest (``pair``: the joined pair). Empty names for images not there."""
    arms = " ".join(f"WHEN '{kind}' THEN {job}.{arm}_image" for kind, arm in JOB_ARMS.items())
    name = f"COALESCE(ci.name, CASE c.kind {arms} END, '')"
    return f"""(SELECT {AGGREGATE[vendor]}(c.position || ':' || {name}, ',') FROM "{CONDITION}" c
                LEFT JOIN "{CONDITION_IMAGE}" ci ON ci.condition_id = c.id AND ci.prompt_id = {pair}.prompt_id
                WHERE c.study_id = {pair}.study_id)"""


def laid_out_names(layout: str, images: str | None) -> list[str]:
    """The storage names a screen of every condition's image shows, place by place: the image of the condition
    ``layout`` puts there (one digit per place, the condition's position), from ``images`` as
    ``_condition_images_sql`` gives them."""
    by_position = dict(item.split(":", 1) for item in (images or "").split(",") if item)
    return [by_position.get(digit, "") for digit in layout]


def _ahead_laid_out(*, annotator_id: int, count: int) -> Ahead:
    """``ahead`` for a screen of every condition's image: each place's image from the assignment's layout, and on
    an attention check the other prompt's image (of the same condition) in the check's place."""
    vendor = connection.vendor
    rows = _fetch(
        f"""SELECT u.id, u."order", u.layout, u.check_slot, u.shown, u.remaining,
                   (SELECT COUNT(*) FROM "{ASSIGNMENT}" t WHERE t.annotator_id = %(annotator)s), pr.text,
                   {_condition_images_sql(vendor, pair="p", job="j")},
                   CASE WHEN u.check_pair_id IS NOT NULL THEN {_condition_images_sql(vendor, pair="cp", job="cj")} END
            FROM (SELECT a.id, a."order", a.pair_id, a.check_pair_id, a.layout, a.check_slot,
                         a.shown_at IS NOT NULL AS shown, COUNT(*) OVER () AS remaining
                  FROM "{ASSIGNMENT}" a WHERE a.annotator_id = %(annotator)s AND {UNANSWERED}
                  ORDER BY a."order" LIMIT %(count)s) u
            JOIN "{PAIR}" p ON p.id = u.pair_id
            JOIN "{PROMPT}" pr ON pr.id = p.prompt_id
            LEFT JOIN "{JOB}" j ON j.id = p.job_id
            LEFT JOIN "{PAIR}" cp ON cp.id = u.check_pair_id
            LEFT JOIN "{JOB}" cj ON cj.id = cp.job_id
            ORDER BY u."order"
        """,
        {"annotator": annotator_id, "count": count},
    )
    if not rows:
        return Ahead([], 0, 0)
    upcoming = []
    for assignment_id, order, layout, check_slot, shown, _, _, text, images, check_images in rows:
        names = laid_out_names(layout, images)
        if check_slot is not None:
            names[check_slot] = laid_out_names(layout, check_images)[check_slot]
        places = numbered_places(len(names))
        upcoming.append(Upcoming(assignment_id, order, text, dict(zip(places, names, strict=True)), bool(shown)))
    remaining, total = rows[0][5], rows[0][6]
    return Ahead(upcoming, total - remaining, total)


def has_unanswered(*, annotator_id: int) -> bool:
    rows = _fetch(f'SELECT 1 FROM "{ASSIGNMENT}" a WHERE a.annotator_id = %s AND {UNANSWERED} LIMIT 1', [annotator_id])
    return bool(rows)


def mark_shown(*, assignment_id: int, annotator_id: int, started: bool = False) -> None:
    """Stamp the first time the server showed an assignment (later views keep the first stamp), and the annotator's
    start with it unless ``started`` says it has one."""
    now = _db_now()
    _write(f'UPDATE "{ASSIGNMENT}" SET shown_at = %s WHERE id = %s AND shown_at IS NULL', [now, assignment_id])
    if not started:
        _write(f'UPDATE "{ANNOTATOR}" SET started_at = %s WHERE id = %s AND started_at IS NULL', [now, annotator_id])


# Storing an answer -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stored:
    created: bool  # False: the assignment was answered already, and that first answer stands
    failed_check: bool  # an attention check answered now, and failed


#: Seconds from an assignment's first showing (``x.shown_at``) to ``%(now)s``, per database (SQLite's date functions
#: count milliseconds); NULL if never shown.
SECONDS_SINCE_SHOWN = {
    "postgresql": "EXTRACT(EPOCH FROM (%(now)s - x.shown_at))",
    "sqlite": "(julianday(%(now)s) - julianday(x.shown_at)) * 86400.0",
}
#: The score given on the side where "ours" is shown (for an attention check: the mismatched image), and the other.
OURS_SIDE = "CASE WHEN x.ours_on_left THEN %(left)s ELSE %(right)s END"
OTHER_SIDE = "CASE WHEN x.ours_on_left THEN %(right)s ELSE %(left)s END"


def store_answer(
    *, annotator_id: int, assignment_id: int, scores: dict[tuple[str, int], int], design: Design
) -> Stored:
    """Store the scores given to one of this annotator's assignments, once: a repeat changes nothing.

    ``scores`` holds a score for each place of ``design``'s screen (``Design.places``) on each of its criteria (by
    position). A rating stores one row per image and criterion, all in one statement that reads the assignment as
    it inserts: on the seed's screen the image on the left is ``design.ours``' when ``ours_on_left``; on a screen of
    every condition's image, each place's condition is the one the assignment's ``layout`` puts there. An attention
    check stores the matching and the mismatched image's scores on the first criterion (on a screen of several
    matching images, the lowest of theirs) and whether the matching one scored higher. Seconds on the item count
    from the first time the server showed it. Raises ``Assignment.DoesNotExist`` for an assignment that is not this
    annotator's, an id beyond any id (SQLite refuses integers past 64 bits) included.
    """
    if not 0 < assignment_id < 2**63:
        raise Assignment.DoesNotExist(f"There is no assignment {assignment_id}.")
    now = _db_now()
    params = {"now": now, "id": assignment_id, "annotator": annotator_id}
    values = []
    for number, ((place, position), score) in enumerate(sorted(scores.items())):
        values.append(f"(%(place{number})s, %(criterion{number})s, %(score{number})s)")
        where = (place == "left") if design.paired else int(place)
        params |= {f"place{number}": where, f"criterion{number}": design.criteria[position].id}
        params[f"score{number}"] = score
    if design.paired:
        params |= {"reference": design.reference, "ours": design.ours}
        condition = "CASE WHEN v.column1 = x.ours_on_left THEN %(ours)s ELSE %(reference)s END"
    else:
        params |= {f"condition{position}": pk for position, pk in enumerate(design.conditions)}
        positions = range(len(design.conditions))
        whens = " ".join(f"WHEN '{position}' THEN %(condition{position})s" for position in positions)
        condition = f"CASE substr(x.layout, v.column1, 1) {whens} END"
    seconds = SECONDS_SINCE_SHOWN[connection.vendor]
    this_annotators = f'FROM "{ASSIGNMENT}" x WHERE x.id = %(id)s AND x.annotator_id = %(annotator)s'
    # the rows go in one order (by condition, then criterion), so two submits of one pair at once wait on each other
    # at the first row rather than each holding a row the other needs
    inserted = _write(
        f"""INSERT INTO "{RATING}" (assignment_id, condition_id, criterion_id, score, seconds, created_at)
            SELECT x.id, {condition}, v.column2, v.column3, {seconds}, %(now)s
            FROM "{ASSIGNMENT}" x CROSS JOIN (VALUES {", ".join(values)}) v
            WHERE x.id = %(id)s AND x.annotator_id = %(annotator)s AND x.check_pair_id IS NULL
            ORDER BY 2, 3
            ON CONFLICT (assignment_id, condition_id, criterion_id) DO NOTHING""",
        params,
    )
    if inserted:
        return Stored(created=True, failed_check=False)
    matching, mismatched = _check_scores(scores, design, params)
    passed = _fetch(
        f"""INSERT INTO "{CHECK_RESPONSE}"
                (assignment_id, matching_score, mismatched_score, passed, seconds, created_at)
            SELECT x.id, {matching}, {mismatched}, {matching} > {mismatched}, {seconds}, %(now)s
            {this_annotators} AND x.check_pair_id IS NOT NULL
            ON CONFLICT (assignment_id) DO NOTHING RETURNING passed""",
        params,
    )
    if passed:
        return Stored(created=True, failed_check=not passed[0][0])
    if not _fetch(f"SELECT 1 {this_annotators}", params):
        raise Assignment.DoesNotExist(f"Assignment {assignment_id} is not this annotator's.")
    return Stored(created=False, failed_check=False)  # answered before


def _check_scores(scores: dict[tuple[str, int], int], design: Design, params: dict) -> tuple[str, str]:
    """SQL for an attention check's matching and mismatched image's scores on the first criterion, reading the
    assignment ``x``; their values go into ``params``. On the seed's screen the mismatched image stands where ours
    would; on a screen of every condition's image it stands in ``check_slot``, and the matching score is the lowest
    of the other places'."""
    if design.paired:
        params |= {"left": scores[("left", 0)], "right": scores[("right", 0)]}
        return OTHER_SIDE, OURS_SIDE
    first = [scores[(place, 0)] for place in design.places]
    whens_matching, whens_mismatched = [], []
    for slot, score in enumerate(first):
        params[f"mismatched{slot}"] = score
        params[f"matching{slot}"] = min(first[:slot] + first[slot + 1 :])
        whens_matching.append(f"WHEN {slot} THEN %(matching{slot})s")
        whens_mismatched.append(f"WHEN {slot} THEN %(mismatched{slot})s")
    return (f"CASE x.check_slot {' '.join(whens_matching)} END", f"CASE x.check_slot {' '.join(whens_mismatched)} END")
