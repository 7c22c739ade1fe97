"""Reads for studies, annotators and ratings."""
from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet

from .models import Annotator, Assignment, CheckResponse, Rating, Study

#: Columns of the tidy ratings: one row per image rating.
TIDY_COLUMNS = ("study", "annotator", "item", "condition", "score", "position", "seconds")
CONDITIONS = ("baseline", "ours")
POSITIONS = ("left", "right")


@dataclass(frozen=True)
class Progress:
    done: int
    total: int


def annotator_by_token(token: str) -> Annotator | None:
    # Tokens are unique: no ordering (the default one would sort by the study's creation time).
    return Annotator.objects.select_related("study").filter(token=token).order_by("pk").first()


def unanswered(assignments: QuerySet[Assignment]) -> QuerySet[Assignment]:
    """Assignments with neither a rating nor an attention-check response."""
    return assignments.filter(rating__isnull=True, check_response__isnull=True)


def progress(*, annotator: Annotator) -> Progress:
    """Answered and all assignments, counted in one query."""
    counts = annotator.assignments.aggregate(
        total=Count("pk"), done=Count("pk", filter=Q(rating__isnull=False) | Q(check_response__isnull=False))
    )
    return Progress(done=counts["done"], total=counts["total"])


def next_assignments(*, annotator: Annotator, count: int = 2) -> list[Assignment]:
    """The annotator's first unanswered assignments in order (the current one, then the next), with their prompts
    and the jobs that hold their images.

    The assignments are picked in a subquery of their own: joined in one flat query with the answers and the
    related rows, PostgreSQL spends several times longer planning the query than running it.
    """
    upcoming = unanswered(annotator.assignments.all()).order_by("order").values("pk")[:count]
    chosen = Assignment.objects.filter(pk__in=upcoming).select_related("pair__prompt", "pair__job", "check_pair__job")
    return list(chosen.order_by("order"))


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


def image_name_on_side(*, assignment: Assignment, side: str) -> str:
    """The storage name of the image an assignment shows on ``side`` ("left" or "right"); "" if none.

    A rating shows the pair's two arms; an attention check shows the pair's baseline image beside the baseline
    image of another prompt (``check_pair``), on the side ``ours_on_left`` names.
    """
    left = side == "left"
    if assignment.is_attention_check:
        job = assignment.check_pair.job if assignment.ours_on_left == left else assignment.pair.job
        return job.baseline_image if job else ""
    job = assignment.pair.job
    if job is None:
        return ""
    return job.ours_image if assignment.ours_on_left == left else job.baseline_image
