"""Reads for studies, annotators and ratings."""
from collections.abc import Iterator
from dataclasses import dataclass

from .models import Annotator, Assignment, Rating, Study

#: Columns of the tidy ratings: one row per image rating.
TIDY_COLUMNS = ("study", "annotator", "item", "condition", "score", "position", "seconds")
CONDITIONS = ("baseline", "ours")
POSITIONS = ("left", "right")


@dataclass(frozen=True)
class Progress:
    done: int
    total: int

    @property
    def remaining(self) -> int:
        return self.total - self.done


def annotator_by_token(token: str) -> Annotator | None:
    return Annotator.objects.select_related("study").filter(token=token).first()


def progress(*, annotator: Annotator) -> Progress:
    total = annotator.assignments.count()
    done = annotator.assignments.filter(rating__isnull=False).count()
    return Progress(done=done, total=total)


def next_assignment(*, annotator: Annotator) -> Assignment | None:
    """The annotator's first unrated assignment in its order, with its pair's job."""
    return (
        annotator.assignments.filter(rating__isnull=True)
        .select_related("pair__prompt", "pair__job")
        .order_by("order")
        .first()
    )


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
