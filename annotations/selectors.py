"""Reads for studies, annotators and ratings: lookups by token, what allocation counts, the tidy ratings, and the
researcher's monitoring page (its live part too: per-annotator progress and flags, the ETA, the position check).
The rating path's own reads are in ``sequence``, with its writes, in SQL.

Pilot runs (``services.pilots``) count nowhere: every read here that counts or analyses annotators, assignments,
ratings or attention-check answers leaves pilots out (``REAL``), and ``pilot_runs`` reads them apart."""

import statistics
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from django.db.models import Count, Max, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from scipy.stats import binomtest, chi2_contingency

from analysis.stats.judgments import paired_judgments
from analysis.stats.quality import AnnotatorQuality, ExclusionRules, annotator_quality, screen_quality
from analysis.stats.tidy import COLUMNS
from analysis.stats.tidy import CONDITIONS as PAIRED_CONDITIONS
from generation.models import PairJob
from generation.selectors import format_duration

from .models import (
    CHOSEN,
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
)
from .sequence import Design, Scale

#: Columns of the tidy ratings: one row per image rating (their codebook and checks: ``analysis.stats.tidy``).
TIDY_COLUMNS = COLUMNS
#: Filters that leave pilot runs out, from annotators, assignments, and ratings or attention-check answers.
REAL = Q(is_pilot=False)
REAL_ASSIGNMENTS = Q(annotator__is_pilot=False)
REAL_ANSWERS = Q(assignment__annotator__is_pilot=False)
#: One rating per rated pair: a pair's ratings are stored together (``sequence.store_answer``), so its rating of the
#: first condition on the first criterion stands for the pair's answer wherever rated pairs are counted.
ONE_PER_PAIR = Q(condition__position=0, criterion__position=0)


def consented_count(*, study_id: int) -> int:
    """The study's annotators who have consented, pilot runs aside: once there is one, what they read and the
    settings that shaped their sequences are fixed (``services.studies``, ``services.design``)."""
    return Annotator.objects.filter(REAL, study_id=study_id, consented_at__isnull=False).count()


def annotator_by_token(token: str) -> Annotator | None:
    """The annotator with this token, or None (also for text no token can be, e.g. with a NUL)."""
    if not is_token(token):
        return None
    try:
        return Annotator.objects.select_related("study").get(token=token)
    except Annotator.DoesNotExist:
        return None


def rating_design(*, study_id: int) -> Design:
    """What storing an answer needs of the study's design (``sequence.Design``), as the rating path's ``rater``
    reads it."""
    criteria = tuple(
        Scale(*row) for row in Criterion.objects.filter(study_id=study_id).values_list("pk", "key", "scale_points")
    )
    conditions = list(Condition.objects.filter(study_id=study_id).values_list("pk", "kind"))
    task, ties = Study.objects.values_list("task", "allow_ties").get(pk=study_id)
    pks, kinds = tuple(pk for pk, _ in conditions), tuple(kind for _, kind in conditions)
    return Design(criteria, pks, kinds, pairwise=task == Study.Task.PAIRWISE, ties=ties)


def condition_image_name(*, pair: ImagePair, key: str) -> str | None:
    """The storage name of ``pair``'s image of its study's condition ``key`` (its pair job's arm for the plain and
    entropy conditions); None for no such condition or no image of it yet."""
    condition = Condition.objects.filter(study_id=pair.study_id, key=key).first()
    if condition is None:
        return None
    if condition.kind in JOB_ARMS:
        return getattr(pair.job, f"{JOB_ARMS[condition.kind]}_image", None)
    image = ConditionImage.objects.filter(prompt_id=pair.prompt_id, condition=condition).first()
    return image.name if image else None


def condition_image_jobs(*, study_id: int) -> list[int]:
    """The pair jobs that make the study's condition images (its resized condition's)."""
    images = ConditionImage.objects.filter(prompt__study_id=study_id, job__isnull=False)
    return list(images.values_list("job_id", flat=True))


def missing_condition_images(*, study_id: int) -> dict[str, int]:
    """Per condition whose images are not its pair jobs' (resized, imported), by name: the study's prompts that have
    no image of it yet (none imported, or its job not done). Empty when every image is there."""
    prompts = Prompt.objects.filter(study_id=study_id).count()
    conditions = Condition.objects.filter(study_id=study_id).exclude(kind__in=list(JOB_ARMS))
    ready = Q(images__job__isnull=True) | Q(images__job__status=PairJob.Status.DONE)
    counted = conditions.annotate(ready=Count("images", filter=ready)).values_list("name", "ready")
    return {name: prompts - ready for name, ready in counted if ready < prompts}


def study_by_pilot_token(token: str) -> Study | None:
    """The study with this pilot link token, or None (also for text no token can be)."""
    if not is_token(token):
        return None
    return Study.objects.filter(pilot_token=token).first()


def generated_pairs(*, study_id: int) -> list[ImagePair]:
    """The study's pairs that annotators can be shown (generated, or imported), by id."""
    generated = Q(job__isnull=True) | Q(job__status=PairJob.Status.DONE)
    return list(ImagePair.objects.filter(generated, study_id=study_id).order_by("pk"))


def study_by_enrolment_token(token: str) -> Study | None:
    """The study with this open enrolment token, or None (also for text no token can be)."""
    if not is_token(token):
        return None
    return Study.objects.filter(enrolment_token=token).first()


def assigned_sides(study: Study) -> dict[int, tuple[int, int]]:
    """Per pair of the study, its assignments so far (attention checks and pilots aside): (all, those with ours on
    the left).

    A released annotator's unrated pairs are free again without a filter here: its unanswered assignments are
    deleted when it is released; the pairs it rated keep counting, since their ratings were given.
    """
    counts = (
        Assignment.objects.filter(REAL_ASSIGNMENTS, pair__study=study, check_pair__isnull=True)
        .values_list("pair_id")
        .annotate(total=Count("pk"), left=Count("pk", filter=Q(ours_on_left=True)))
        .order_by()
    )
    return {pair_id: (total, left) for pair_id, total, left in counts}


def assigned_layouts(study: Study) -> Counter:
    """Per (pair, layout) of the study, its assignments so far (attention checks and pilots aside), as
    ``assigned_sides`` counts them: how often each pair has shown its images in each order."""
    counts = (
        Assignment.objects.filter(REAL_ASSIGNMENTS, pair__study=study, check_pair__isnull=True)
        .values_list("pair_id", "layout")
        .annotate(total=Count("pk"))
        .order_by()
    )
    return Counter({(pair_id, layout): total for pair_id, layout, total in counts})


def enrolment_count(study: Study) -> int:
    """The study's annotators who joined by the open link or from Prolific and were not released (what
    ``enrolment_cap`` counts); pilots are not counted."""
    return study.annotators.exclude(source=Annotator.Source.INVITE).filter(REAL, released_at__isnull=True).count()


def attention_check_results(*, study: Study) -> dict[str, tuple[int, int]]:
    """Per annotator label: (failed checks, answered checks)."""
    results: dict[str, tuple[int, int]] = {}
    responses = CheckResponse.objects.filter(REAL_ANSWERS, assignment__annotator__study=study).select_related(
        "assignment__annotator"
    )
    for response in responses:
        label = response.assignment.annotator.label
        failed, answered = results.get(label, (0, 0))
        results[label] = (failed + (not response.passed), answered + 1)
    return results


def tidy_rows(*, study: Study, criterion: str | None = None) -> Iterator[dict]:
    """The study's ratings on a criterion (its key; None: on every criterion, one after another) as tidy rows
    (``TIDY_COLUMNS``), one per image and so two per rated pair and criterion, in a stable order."""
    on = Q(criterion__key=criterion) if criterion else Q()
    ratings = (
        Rating.objects.filter(REAL_ANSWERS, on, assignment__annotator__study=study)
        .select_related("assignment__annotator", "assignment__pair__prompt", "condition", "criterion")
        .order_by("criterion__position", "assignment__annotator_id", "assignment__order", "condition__position")
    )
    for rating in ratings:
        assignment = rating.assignment
        yield {
            "study": study.slug,
            "annotator": assignment.annotator.label,
            "item": assignment.pair.prompt.text,
            "condition": rating.condition.key,
            "criterion": rating.criterion.key,
            "score": rating.score,
            "position": shown_at(assignment, rating.condition.position),
            "seconds": rating.seconds,
        }


#: Columns of the tidy judgments of a pairwise study: one row per choice (``analysis.stats.choices``).
JUDGMENT_COLUMNS = ("study", "annotator", "item", "criterion", "left", "right", "choice", "seconds")


def judgment_rows(*, study: Study, criterion: str | None = None) -> Iterator[dict]:
    """A pairwise study's choices on a criterion (its key; None: on every criterion, one after another) as tidy
    judgments (``JUDGMENT_COLUMNS``), one per answered screen and criterion, in a stable order: the conditions shown
    left and right (the assignment's layout) and which was chosen, read back from the two ratings each choice
    stores (``models.CHOSEN``)."""
    on = Q(criterion__key=criterion) if criterion else Q()
    ratings = (
        Rating.objects.filter(REAL_ANSWERS, on, assignment__annotator__study=study)
        .select_related("assignment__annotator", "assignment__pair__prompt", "condition", "criterion")
        .order_by("criterion__position", "assignment__annotator_id", "assignment__order", "condition__position")
    )
    keys = dict(study.conditions.values_list("position", "key"))
    screens: dict[tuple[int, int], dict[int, Rating]] = {}
    for rating in ratings:
        screens.setdefault((rating.criterion.position, rating.assignment_id), {})[rating.condition.position] = rating
    for shown in screens.values():
        first = next(iter(shown.values()))
        assignment = first.assignment
        left, right = (int(digit) for digit in assignment.layout)
        chosen = [position for position in (left, right) if shown[position].score == CHOSEN]
        yield {
            "study": study.slug,
            "annotator": assignment.annotator.label,
            "item": assignment.pair.prompt.text,
            "criterion": first.criterion.key,
            "left": keys[left],
            "right": keys[right],
            "choice": "tie" if not chosen else ("left" if chosen[0] == left else "right"),
            "seconds": first.seconds,
        }


def shown_at(assignment: Assignment, condition_position: int) -> str:
    """Where the assignment showed the image of the condition at ``condition_position``: "left" or "right" on the
    seed's screen of two, its place from the left ("1" to K) on a screen of every condition's image."""
    if assignment.layout:
        return str(assignment.layout.index(str(condition_position)) + 1)
    return "left" if (condition_position == 1) == assignment.ours_on_left else "right"


# Monitoring ---------------------------------------------------------------------------------------------------


#: An annotator is flagged for straight-lining after this many ratings with a single score throughout.
STRAIGHT_LINE_MIN_RATINGS = 3


@dataclass(frozen=True)
class PairLoad:
    """One pair's load: its rating assignments (attention checks excluded), and its ratings by the side "ours" was
    shown on."""

    prompt: str
    assigned: int
    ratings: int
    ours_left: int  # ratings given with "ours" on the left
    ours_right: int  # ratings given with "ours" on the right


@dataclass(frozen=True)
class Monitor:
    invited: int
    consented: int
    started: int
    finished: int
    screened_out: int
    ratings: int
    median_seconds: float | None
    pairs: list[PairLoad]
    check_failures: dict[str, tuple[int, int]]
    straight_liners: list[str]


def monitor(*, study: Study) -> Monitor:
    """Everything the monitoring page shows for ``study``, in a handful of queries."""
    counts = study.annotators.filter(REAL).aggregate(
        invited=Count("pk"),
        consented=Count("pk", filter=Q(consented_at__isnull=False)),
        started=Count("pk", filter=Q(started_at__isnull=False)),
        finished=Count("pk", filter=Q(finished_at__isnull=False)),
        screened_out=Count("pk", filter=Q(screened_out_at__isnull=False)),
    )
    ratings = Rating.objects.filter(REAL_ANSWERS, ONE_PER_PAIR, assignment__annotator__study=study)
    seconds = [value for value in ratings.values_list("seconds", flat=True) if value is not None]
    loads = {
        row["pair_id"]: row
        for row in Assignment.objects.filter(REAL_ASSIGNMENTS, pair__study=study, check_pair__isnull=True)
        .values("pair_id")
        .annotate(
            assigned=Count("pk", distinct=True),
            rated=Count("pk", filter=Q(ratings__isnull=False), distinct=True),
            ours_left=Count("pk", filter=Q(ratings__isnull=False, ours_on_left=True), distinct=True),
            ours_right=Count("pk", filter=Q(ratings__isnull=False, ours_on_left=False), distinct=True),
        )
        .order_by()
    }
    empty = {"assigned": 0, "rated": 0, "ours_left": 0, "ours_right": 0}
    pairs = [
        PairLoad(pair.prompt.text, *(loads.get(pair.pk, empty)[key] for key in empty))
        for pair in study.pairs.select_related("prompt").order_by("prompt__position")
    ]
    return Monitor(
        **counts,
        ratings=ratings.count(),
        median_seconds=statistics.median(seconds) if seconds else None,
        pairs=pairs,
        check_failures={label: result for label, result in attention_check_results(study=study).items() if result[0]},
        straight_liners=straight_liners(study=study),
    )


def straight_liners(*, study: Study) -> list[str]:
    """Annotators with at least ``STRAIGHT_LINE_MIN_RATINGS`` ratings who gave every image the same score."""
    scores: dict[int, set[int]] = {}
    rows = Rating.objects.filter(REAL_ANSWERS, assignment__annotator__study=study).values_list(
        "assignment__annotator_id", "assignment_id", "score"
    )
    rated: dict[int, set[int]] = {}
    for annotator_id, assignment_id, score in rows:
        scores.setdefault(annotator_id, set()).add(score)
        rated.setdefault(annotator_id, set()).add(assignment_id)
    counts = {annotator_id: len(assignments) for annotator_id, assignments in rated.items()}
    flagged = [pk for pk, seen in scores.items() if len(seen) == 1 and counts[pk] >= STRAIGHT_LINE_MIN_RATINGS]
    return [annotator.label for annotator in Annotator.objects.filter(pk__in=flagged).order_by("pk")]


# Live monitoring ------------------------------------------------------------------------------------------------
# The quality flags are analysis.stats.quality's (the pure statistics core, below every app), so that the monitor
# flags annotators by the rules the exclusions apply.

#: A speeder's median seconds per rated pair is below this, unless the study's analysis settings set their own
#: minimum (``min_seconds_per_item``), which the monitor then uses.
SPEEDER_SECONDS = 2.0
#: The ETA's rating rate: the ratings of this window over its length (from the first rating, when that is later).
RATE_WINDOW = timedelta(minutes=15)
#: The position check warns when the exact binomial test of "ours" on the left half the time gives p below this.
POSITION_ALPHA = 0.05


@dataclass(frozen=True)
class AnnotatorProgress:
    """One annotator's progress and quality flags as the monitor shows them."""

    label: str
    state: str  # invited, consented, rating, finished, released, screened-out
    state_display: str
    answered: int  # ratings and attention checks answered
    total: int  # pairs in the sequence, attention checks included (a released annotator keeps only those answered)
    median_seconds: float | None  # per rated pair
    checks_failed: int
    checks_answered: int
    speeder: bool
    straight_liner: bool


@dataclass(frozen=True)
class QuotaEta:
    """The ratings the study aims at (``rule`` says how), how many are missing, and when they will be in at the
    recent rate."""

    rule: str
    target: int
    ratings: int
    remaining: int
    per_minute: float | None  # ratings per minute over RATE_WINDOW; None without ratings in it
    eta_seconds: float | None
    eta: str


@dataclass(frozen=True)
class PositionBalance:
    """ "Ours" on the left vs the right in the ratings of finished annotators (complete, balanced sequences)."""

    finished: int  # annotators who finished
    ratings: int
    ours_left: int  # on a screen of every condition's image: 0 (see ``places``)
    p_value: float | None  # exact binomial test of a 50% share; None before anyone finished
    warning: str  # "" unless p_value < POSITION_ALPHA
    #: On a screen of every condition's image: each condition's images in each place, by condition key (place 1
    #: first), and ``p_value`` the χ² test that the places are independent of the condition; empty on the seed's.
    places: dict[str, list[int]] = field(default_factory=dict)


@dataclass(frozen=True)
class LiveMonitor:
    """What the monitoring page shows and refreshes: ``monitor``'s counts and per-pair loads, and the live part."""

    monitor: Monitor
    annotators: list[AnnotatorProgress]
    speed_threshold: float
    quota: QuotaEta
    position: PositionBalance
    updated_at: datetime

    @property
    def speeders(self) -> list[str]:
        return [annotator.label for annotator in self.annotators if annotator.speeder]

    @property
    def straight_liners(self) -> list[str]:
        return [annotator.label for annotator in self.annotators if annotator.straight_liner]

    @property
    def failed_checks(self) -> list[AnnotatorProgress]:
        return [annotator for annotator in self.annotators if annotator.checks_failed]

    def as_dict(self) -> dict:
        """The monitor as JSON-ready data, what the page's script polls."""
        counts = asdict(self.monitor)
        pairs = counts.pop("pairs")
        for replaced in ("check_failures", "straight_liners"):  # the live part's flags stand in for these
            counts.pop(replaced)
        return {
            "updated_at": self.updated_at.isoformat(),
            "counts": counts,
            "annotators": [asdict(annotator) for annotator in self.annotators],
            "pairs": pairs,
            "speed_threshold": self.speed_threshold,
            "speeders": self.speeders,
            "straight_liners": self.straight_liners,
            "failed_checks": [
                {"label": a.label, "failed": a.checks_failed, "answered": a.checks_answered} for a in self.failed_checks
            ],
            "quota": asdict(self.quota),
            "position": asdict(self.position),
        }


def live_monitor(*, study: Study, now: datetime | None = None) -> LiveMonitor:
    """The monitoring page's data for ``study`` at ``now`` (default: now)."""
    now = now or timezone.now()
    threshold = speed_threshold(study)
    return LiveMonitor(
        monitor=monitor(study=study),
        annotators=annotator_progress(study=study, speed_threshold=threshold),
        speed_threshold=threshold,
        quota=quota_eta(study=study, now=now),
        position=position_balance(study=study),
        updated_at=now,
    )


def speed_threshold(study: Study) -> float:
    """The median seconds per pair under which the monitor flags a speeder: the study's analysis settings'
    ``min_seconds_per_item`` when set (read through the study's reverse relation, so that this app imports none of
    ``analysis``'s models), else ``SPEEDER_SECONDS``."""
    minimum = getattr(getattr(study, "analysis_settings", None), "min_seconds_per_item", None)
    return SPEEDER_SECONDS if minimum is None else minimum


def rating_quality(*, study: Study, speed_threshold: float, pilots: bool = False) -> dict[int, AnnotatorQuality]:
    """By annotator id: ``analysis.stats.quality``'s record of each annotator who rated (each pilot, with
    ``pilots``), with the speed rule at ``speed_threshold`` (straight-lining: one score for every image, over more
    than one rating)."""
    rows = Rating.objects.filter(
        assignment__annotator__study=study, assignment__annotator__is_pilot=pilots, criterion__position=0
    ).values_list(
        "assignment__annotator_id",
        "assignment__pair_id",
        "condition__key",
        "condition__position",
        "score",
        "assignment__ours_on_left",
        "seconds",
    )
    records = []
    paired = True
    for annotator_id, pair_id, condition, position, score, ours_left, seconds in rows:
        side = "left" if (position == 1) == ours_left else "right"
        paired = paired and condition in PAIRED_CONDITIONS
        records.append((annotator_id, pair_id, condition, score, side, seconds))
    if not records:
        return {}
    frame = pd.DataFrame.from_records(
        records, columns=["annotator", "item", "condition", "score", "position", "seconds"]
    )
    frame["seconds"] = frame["seconds"].astype("float64")
    rules = ExclusionRules(min_seconds_per_item=speed_threshold)
    if paired:
        found = annotator_quality(paired_judgments(frame), rules=rules)
    else:  # a screen of every condition's image
        found = screen_quality(frame, rules=rules)
    return {int(record.annotator): record for record in found}


def _state(annotator: Annotator, answered: int) -> tuple[str, str]:
    if annotator.screened_out_at:
        return "screened-out", "screened out"
    if annotator.released_at:
        return "released", f"released: {annotator.get_release_reason_display().lower()}"
    if annotator.finished_at:
        return "finished", "finished"
    if annotator.started_at or answered:
        return "rating", "rating"
    if annotator.consented_at:
        return "consented", "consented"
    return "invited", "invited"


def annotator_progress(
    *, study: Study, speed_threshold: float = SPEEDER_SECONDS, pilots: bool = False
) -> list[AnnotatorProgress]:
    """Per annotator of the study (per pilot run, with ``pilots``), in the order they joined: state, answered of
    total, median seconds per rated pair, attention checks, and the speed and straight-lining flags of
    ``analysis.stats.quality``."""
    quality = rating_quality(study=study, speed_threshold=speed_threshold, pilots=pilots)
    annotators = (
        study.annotators.filter(is_pilot=pilots)
        .annotate(
            total=Count("assignments", distinct=True),
            rated=Count("assignments", filter=Q(assignments__ratings__isnull=False), distinct=True),
            checks=Count("assignments__check_response", distinct=True),
            failed=Count(
                "assignments__check_response", filter=Q(assignments__check_response__passed=False), distinct=True
            ),
        )
        .order_by("pk")
    )
    progress = []
    for annotator in annotators:
        answered = annotator.rated + annotator.checks
        state, state_display = _state(annotator, answered)
        record = quality.get(annotator.pk)
        progress.append(
            AnnotatorProgress(
                label=annotator.label,
                state=state,
                state_display=state_display,
                answered=answered,
                total=annotator.total,
                median_seconds=record.median_seconds if record else None,
                checks_failed=annotator.failed,
                checks_answered=annotator.checks,
                speeder=bool(record and record.too_fast),
                straight_liner=bool(record and record.straightliner),
            )
        )
    return progress


def quota_eta(*, study: Study, now: datetime | None = None) -> QuotaEta:
    """The study's target number of ratings and when it will be reached.

    The target: ``ratings_per_pair`` × pairs when the study sets ratings per pair; else, with an enrolment cap, the
    cap × the pairs each annotator rates (``pairs_per_annotator``, else every pair), plus the pairs handed to
    invite-link annotators; else the pairs handed to annotators so far. A pair handed out counts once rated, or
    while its annotator may still rate it (not released, not screened out). The ETA divides the ratings still
    missing by the rate of the last ``RATE_WINDOW`` (from the first rating, when that is later; at least a minute).
    """
    now = now or timezone.now()
    ratings = Rating.objects.filter(REAL_ANSWERS, ONE_PER_PAIR, assignment__annotator__study=study)
    count = ratings.count()
    pairs = study.pairs.count()
    handed_out = (
        Assignment.objects.filter(REAL_ASSIGNMENTS, annotator__study=study, check_pair__isnull=True)
        .filter(
            Q(ratings__isnull=False) | Q(annotator__released_at__isnull=True, annotator__screened_out_at__isnull=True)
        )
        .distinct()
    )
    if study.ratings_per_pair:
        target = study.ratings_per_pair * pairs
        rule = f"ratings per pair × pairs: {study.ratings_per_pair} × {pairs}"
    elif study.enrolment_cap is not None:
        each = min(study.pairs_per_annotator or pairs, pairs)
        invited = handed_out.filter(annotator__source=Annotator.Source.INVITE).count()
        target = study.enrolment_cap * each + invited
        rule = f"enrolment cap × pairs each: {study.enrolment_cap} × {each}"
        rule += f", plus {invited} pairs handed to invite-link annotators" if invited else ""
    else:
        target = handed_out.count()
        rule = "the pairs handed to annotators so far: the study sets no ratings per pair and no enrolment cap"
    remaining = max(target - count, 0)
    first = ratings.order_by("created_at").values_list("created_at", flat=True).first()
    since = now - RATE_WINDOW if first is None else max(now - RATE_WINDOW, first)
    recent = ratings.filter(created_at__gte=since).count()
    per_minute = recent / (max((now - since).total_seconds(), 60.0) / 60.0) if recent else None
    eta_seconds = None
    if remaining == 0:
        eta = "reached"
    elif per_minute is None:
        eta = f"unknown: no ratings in the last {int(RATE_WINDOW.total_seconds() // 60)} minutes"
    else:
        eta_seconds = remaining / per_minute * 60.0
        eta = f"about {format_duration(timedelta(seconds=eta_seconds))}"
    return QuotaEta(rule, target, count, remaining, per_minute, eta_seconds, eta)


def _place_balance(study: Study, finished: int) -> PositionBalance:
    """``position_balance`` on a screen of every condition's image: how often each condition's image stood in each
    place, in the ratings (first criterion) of finished annotators, and the χ² test of independence of condition
    and place (allocation balances the layouts, so a small p says they were not)."""
    rows = Rating.objects.filter(
        REAL_ANSWERS, assignment__annotator__study=study, assignment__annotator__finished_at__isnull=False
    ).filter(criterion__position=0)
    keys = list(study.conditions.values_list("key", flat=True))
    table = np.zeros((len(keys), len(keys)), dtype=int)
    for position, layout in rows.values_list("condition__position", "assignment__layout"):
        table[position, layout.index(str(position))] += 1
    n = int(table[0].sum())
    if not n:
        return PositionBalance(finished, 0, 0, None, "")
    p_value = float(chi2_contingency(table).pvalue)
    warning = ""
    if p_value < POSITION_ALPHA:
        warning = (
            f"The conditions' images did not stand in each place equally often in the {n} screens of finished "
            f"annotators (χ² p = {p_value:.3g}): check how screens are laid out."
        )
    places = {key: [int(count) for count in table[index]] for index, key in enumerate(keys)}
    return PositionBalance(finished, n, 0, p_value, warning, places)


def position_balance(*, study: Study) -> PositionBalance:
    """ "Ours" on the left vs the right over the ratings of annotators who finished. Allocation balances the sides
    over a whole sequence, so a sequence in progress would raise false alarms: it waits until it ends. Warns when
    the exact binomial test of a 50% share (the report's ``position.balance_p``) is below ``POSITION_ALPHA``."""
    finished = study.annotators.filter(REAL, finished_at__isnull=False).count()
    if Assignment.objects.filter(pair__study=study, check_pair__isnull=True).exclude(layout="").exists():
        return _place_balance(study, finished)
    counts = Rating.objects.filter(
        REAL_ANSWERS, ONE_PER_PAIR, assignment__annotator__study=study, assignment__annotator__finished_at__isnull=False
    ).aggregate(n=Count("pk"), left=Count("pk", filter=Q(assignment__ours_on_left=True)))
    n, left = counts["n"], counts["left"]
    if not n:
        return PositionBalance(finished, 0, 0, None, "")
    p_value = float(binomtest(left, n, 0.5).pvalue)
    warning = ""
    if p_value < POSITION_ALPHA:
        warning = (
            f"“Ours” was on the left in {left} of {n} ratings of finished annotators (exact binomial p = "
            f"{p_value:.3g}): check how pairs are allocated."
        )
    return PositionBalance(finished, n, left, p_value, warning)


# Study lists ----------------------------------------------------------------------------------------------------


def with_counts(studies: QuerySet[Study]) -> QuerySet[Study]:
    """``studies``, each with ``prompt_count``, ``pair_count``, ``annotator_count`` (every annotator, as the monitor's
    "invited") and ``rating_count``, in one query; pilot runs are not counted."""

    def count(model, study_path: str, *real: Q) -> Coalesce:
        rows = model.objects.filter(*real, **{study_path: OuterRef("pk")}).order_by().values(study_path)
        return Coalesce(Subquery(rows.annotate(n=Count("pk")).values("n")), 0)

    return studies.annotate(
        prompt_count=count(Prompt, "study"),
        pair_count=count(ImagePair, "study"),
        annotator_count=count(Annotator, "study", REAL),
        rating_count=count(Rating, "assignment__annotator__study", REAL_ANSWERS, ONE_PER_PAIR),
    )


# Pilot runs -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PilotRuns:
    """A study's pilot runs (``services.pilots``), which no other number here counts."""

    runs: int
    finished: int
    answers: int  # ratings and attention-check answers
    last_answer: datetime | None


def pilot_runs(*, study: Study) -> PilotRuns:
    """How many pilot runs the study has had, finished and answered, in three queries."""
    pilots = study.annotators.filter(is_pilot=True).aggregate(
        runs=Count("pk"), finished=Count("pk", filter=Q(finished_at__isnull=False))
    )
    answered = {"assignment__annotator__study": study, "assignment__annotator__is_pilot": True}
    ratings = Rating.objects.filter(ONE_PER_PAIR, **answered).aggregate(n=Count("pk"), last=Max("created_at"))
    checks = CheckResponse.objects.filter(**answered).aggregate(n=Count("pk"), last=Max("created_at"))
    last = max((value for value in (ratings["last"], checks["last"]) if value is not None), default=None)
    return PilotRuns(pilots["runs"], pilots["finished"], ratings["n"] + checks["n"], last)
