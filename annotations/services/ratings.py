"""An annotator's answers: storing a rating (or an attention check's answer) once, screening out an annotator who
failed too many checks, and finishing one who answered everything.

The answer itself is stored by ``sequence.store_answer``, in the SQL of the rating path.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from .. import selectors, sequence
from ..models import SCORE_MIN, Annotator, Assignment, CheckResponse, new_completion_code
from . import leases

#: The sides a rating screen shows its two images on.
SIDES = ("left", "right")


@dataclass(frozen=True)
class SubmitResult:
    created: bool  # False: the assignment was answered already (a double submit or a retry); the first answer stands
    screened_out: bool  # this answer, a failed attention check, ended the annotator's participation
    finished: bool  # this answer was the annotator's last: it has its completion code now
    ahead: sequence.Ahead | None  # the assignments still unanswered after it (None when screened out)


def score_field(side: str, key: str, *, first: bool) -> str:
    """The form field of a side's score on a criterion: the side ("left", "right") for the study's first criterion,
    as the seed's form has it, and "<side>-<criterion key>" for each further one."""
    return side if first else f"{side}-{key}"


def _check_score(name: str, value: object, highest: int) -> int:
    try:
        score = int(str(value))
    except (TypeError, ValueError):
        raise ValidationError({name: f"Choose a score from {SCORE_MIN} to {highest}."}) from None
    if not SCORE_MIN <= score <= highest:
        raise ValidationError({name: f"{score} is outside {SCORE_MIN}–{highest}."})
    return score


def checked_scores(posted: Mapping[str, object], criteria: Sequence[sequence.Scale]) -> dict[tuple[str, int], int]:
    """Each side's score on each criterion (by position), from the posted fields (``score_field``); a
    ``ValidationError`` naming every field that is missing or not a whole number on its criterion's scale."""
    scores, errors = {}, {}
    for position, criterion in enumerate(criteria):
        for side in SIDES:
            name = score_field(side, criterion.key, first=position == 0)
            try:
                scores[(side, position)] = _check_score(name, posted.get(name), criterion.points)
            except ValidationError as exc:
                errors |= exc.message_dict
    if errors:
        raise ValidationError(errors)
    return scores


def submit_rating(
    *,
    annotator_id: int,
    assignment_id: int,
    scores: Mapping[str, object],
    design: sequence.Design | None = None,
) -> SubmitResult:
    """Store the scores of one of this annotator's assignments exactly once; a repeat changes nothing.

    ``scores`` holds the posted score fields (``score_field``: "left" and "right" on a study of one criterion).
    ``design``: the study's (``sequence.Design``), when the caller read it already, as the rating path's
    ``sequence.Rater`` does. Raises ``ValidationError`` (naming each bad field) for a score
    that is not a whole number from 1 to the top of its criterion's scale, ``Assignment.DoesNotExist`` for an
    assignment that is not this annotator's, and ``leases.TimeRanOut`` when the annotator's lease ended and its
    unanswered assignment is gone (a release ran before, or while, the answer came); nothing is stored then.
    """
    if design is None:
        study_id = Annotator.objects.filter(pk=annotator_id).values_list("study_id", flat=True).first()
        design = selectors.rating_design(study_id=study_id)
    checked = checked_scores(scores, design.criteria)
    try:
        stored = sequence.store_answer(
            annotator_id=annotator_id, assignment_id=assignment_id, scores=checked, design=design
        )
    except (IntegrityError, Assignment.DoesNotExist):
        # PostgreSQL: the release deleted the assignment while the insert waited on its row (the foreign key fails);
        # SQLite, or a release before the insert: the assignment is not there to read
        if Annotator.objects.filter(pk=annotator_id, released_at__isnull=False).exists():
            raise leases.TimeRanOut() from None
        raise
    if stored.failed_check and screen_out_if_failed(annotator_id=annotator_id).screened_out_at is not None:
        return SubmitResult(created=True, screened_out=True, finished=False, ahead=None)
    # Lock the annotator only when nothing looks unanswered any more. Answers are never taken back, and each submit
    # looks after its own answer is committed, so of two last answers at once the later one always sees both.
    ahead = sequence.ahead(annotator_id=annotator_id)
    finished = False
    if stored.created and not ahead.upcoming:
        finished = finish_if_complete(annotator_id=annotator_id).finished_at is not None
    return SubmitResult(created=stored.created, screened_out=False, finished=finished, ahead=ahead)


@transaction.atomic
def screen_out_if_failed(*, annotator_id: int) -> Annotator:
    """End the participation of an annotator who failed as many checks as the study allows."""
    annotator = Annotator.objects.select_for_update(of=("self",)).select_related("study").get(pk=annotator_id)
    limit = annotator.study.screen_out_after
    if limit is None or annotator.screened_out_at is not None:
        return annotator
    failures = CheckResponse.objects.filter(assignment__annotator=annotator, passed=False).count()
    if failures >= limit:
        annotator.screened_out_at = timezone.now()
        annotator.save(update_fields=["screened_out_at"])
    return annotator


@transaction.atomic
def finish_if_complete(*, annotator_id: int) -> Annotator:
    """Give the annotator a completion code once every assignment is answered (never when screened out or
    released: a release deletes the unanswered assignments, but the annotator did not answer them)."""
    annotator = Annotator.objects.select_for_update(of=("self",)).select_related("study").get(pk=annotator_id)
    if annotator.finished_at or annotator.consented_at is None or annotator.screened_out_at or annotator.released_at:
        return annotator
    if sequence.has_unanswered(annotator_id=annotator_id):
        return annotator
    annotator.finished_at = timezone.now()
    # a pilot gets a code of its own, never the study's (e.g. Prolific's, which would pay for a real submission)
    shared = "" if annotator.is_pilot else annotator.study.completion_code
    annotator.completion_code = shared or new_completion_code()
    annotator.save(update_fields=["finished_at", "completion_code"])
    return annotator
