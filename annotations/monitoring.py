"""Reads for the researcher's monitoring page: who is where, how the ratings spread, and warning signs."""
import statistics
from dataclasses import dataclass

from django.db.models import Count, Q

from .models import Annotator, Assignment, Rating, Study
from .selectors import attention_check_results

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
