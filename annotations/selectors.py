"""Reads for studies, annotators and ratings: lookups by token, what allocation counts, the tidy ratings, and the
researcher's monitoring page. The rating path's own reads are in ``sequence``, with its writes, in SQL."""

import statistics
from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import Count, Q

from .models import Annotator, Assignment, CheckResponse, Rating, Study, is_token

#: Columns of the tidy ratings: one row per image rating.
TIDY_COLUMNS = ("study", "annotator", "item", "condition", "score", "position", "seconds")
CONDITIONS = ("baseline", "ours")
POSITIONS = ("left", "right")


def annotator_by_token(token: str) -> Annotator | None:
    """The annotator with this token, or None (also for text no token can be, e.g. with a NUL)."""
    if not is_token(token):
        return None
    try:
        return Annotator.objects.select_related("study").get(token=token)
    except Annotator.DoesNotExist:
        return None


def study_by_enrolment_token(token: str) -> Study | None:
    """The study with this open enrolment token, or None (also for text no token can be)."""
    if not is_token(token):
        return None
    return Study.objects.filter(enrolment_token=token).first()


def assigned_sides(study: Study) -> dict[int, tuple[int, int]]:
    """Per pair of the study, its assignments so far (attention checks aside): (all, those with ours on the left).

    A released annotator's unrated pairs are free again without a filter here: its unanswered assignments are
    deleted when it is released; the pairs it rated keep counting, since their ratings were given.
    """
    counts = (
        Assignment.objects.filter(pair__study=study, check_pair__isnull=True)
        .values_list("pair_id")
        .annotate(total=Count("pk"), left=Count("pk", filter=Q(ours_on_left=True)))
        .order_by()
    )
    return {pair_id: (total, left) for pair_id, total, left in counts}


def enrolment_count(study: Study) -> int:
    """The study's annotators who joined by the open link or from Prolific and were not released (what
    ``enrolment_cap`` counts)."""
    return study.annotators.exclude(source=Annotator.Source.INVITE).filter(released_at__isnull=True).count()


def attention_check_results(*, study: Study) -> dict[str, tuple[int, int]]:
    """Per annotator label: (failed checks, answered checks)."""
    results: dict[str, tuple[int, int]] = {}
    responses = CheckResponse.objects.filter(assignment__annotator__study=study).select_related("assignment__annotator")
    for response in responses:
        label = response.assignment.annotator.label
        failed, answered = results.get(label, (0, 0))
        results[label] = (failed + (not response.passed), answered + 1)
    return results


def tidy_rows(*, study: Study) -> Iterator[dict]:
    """The study's ratings as tidy rows (``TIDY_COLUMNS``), two per rating, in a stable order."""
    ratings = (
        Rating.objects.filter(assignment__annotator__study=study)
        .select_related("assignment__annotator", "assignment__pair__prompt")
        .order_by("assignment__annotator_id", "assignment__order")
    )
    for rating in ratings:
        assignment = rating.assignment
        ours_position, baseline_position = ("left", "right") if assignment.ours_on_left else ("right", "left")
        for condition, score, position in (
            ("baseline", rating.baseline_score, baseline_position),
            ("ours", rating.ours_score, ours_position),
        ):
            yield {
                "study": study.slug,
                "annotator": assignment.annotator.label,
                "item": assignment.pair.prompt.text,
                "condition": condition,
                "score": score,
                "position": position,
                "seconds": rating.seconds,
            }


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
    counts = study.annotators.aggregate(
        invited=Count("pk"),
        consented=Count("pk", filter=Q(consented_at__isnull=False)),
        started=Count("pk", filter=Q(started_at__isnull=False)),
        finished=Count("pk", filter=Q(finished_at__isnull=False)),
        screened_out=Count("pk", filter=Q(screened_out_at__isnull=False)),
    )
    ratings = Rating.objects.filter(assignment__annotator__study=study)
    seconds = [value for value in ratings.values_list("seconds", flat=True) if value is not None]
    loads = {
        row["pair_id"]: row
        for row in Assignment.objects.filter(pair__study=study, check_pair__isnull=True)
        .values("pair_id")
        .annotate(
            assigned=Count("pk"),
            ratings=Count("rating"),
            ours_left=Count("rating", filter=Q(ours_on_left=True)),
            ours_right=Count("rating", filter=Q(ours_on_left=False)),
        )
        .order_by()
    }
    empty = {"assigned": 0, "ratings": 0, "ours_left": 0, "ours_right": 0}
    pairs = [
        PairLoad(prompt=pair.prompt.text, **{key: loads.get(pair.pk, empty)[key] for key in empty})
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
    counts: dict[int, int] = {}
    for annotator_id, baseline, ours in Rating.objects.filter(assignment__annotator__study=study).values_list(
        "assignment__annotator_id", "baseline_score", "ours_score"
    ):
        scores.setdefault(annotator_id, set()).update((baseline, ours))
        counts[annotator_id] = counts.get(annotator_id, 0) + 1
    flagged = [pk for pk, seen in scores.items() if len(seen) == 1 and counts[pk] >= STRAIGHT_LINE_MIN_RATINGS]
    return [annotator.label for annotator in Annotator.objects.filter(pk__in=flagged).order_by("pk")]
