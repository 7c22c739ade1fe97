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
from ..models import CHOSEN, NOT_CHOSEN, SCORE_MIN, Annotator, Assignment, CheckResponse, new_completion_code
from . import leases


@dataclass(frozen=True)
class SubmitResult:
    created: bool  # False: the assignment was answered already (a double submit or a retry); the first answer stands
    screened_out: bool  # this answer, a failed attention check, ended the annotator's participation
    finished: bool  # this answer was the annotator's last: it has its completion code now
    ahead: sequence.Ahead | None  # the assignments still unanswered after it (None when screened out)


def score_field(place: str, key: str, *, first: bool) -> str:
    """The form field of a place's score on a criterion (``sequence.Design.places``: "left", "right" on the seed's
    screen, "1" to K on a screen of K images): the place for the study's first criterion, as the seed's form has
    it, and "<place>-<criterion key>" for each further one."""
    return place if first else f"{place}-{key}"


def _check_score(name: str, value: object, highest: int) -> int:
    try:
        score = int(str(value))
    except (TypeError, ValueError):
        raise ValidationError({name: f"Choose a score from {SCORE_MIN} to {highest}."}) from None
    if not SCORE_MIN <= score <= highest:
        raise ValidationError({name: f"{score} is outside {SCORE_MIN}–{highest}."})
    return score


def checked_scores(
    posted: Mapping[str, object], criteria: Sequence[sequence.Scale], places: Sequence[str] = sequence.PAIR_PLACES
) -> dict[tuple[str, int], int]:
    """Each place's score on each criterion (by position), from the posted fields (``score_field``); a
    ``ValidationError`` naming every field that is missing or not a whole number on its criterion's scale."""
    scores, errors = {}, {}
    for position, criterion in enumerate(criteria):
        for place in places:
            name = score_field(place, criterion.key, first=position == 0)
            try:
                scores[(place, position)] = _check_score(name, posted.get(name), criterion.points)
            except ValidationError as exc:
                errors |= exc.message_dict
    if errors:
        raise ValidationError(errors)
    return scores


#: A pairwise screen's answers, and the scores each stores for the left and the right image (``models.CHOSEN``).
CHOICE_SCORES = {"left": (CHOSEN, NOT_CHOSEN), "right": (NOT_CHOSEN, CHOSEN), "tie": (NOT_CHOSEN, NOT_CHOSEN)}


def choice_field(key: str, *, first: bool) -> str:
    """The form field of a pairwise screen's choice on a criterion: "choice" for the first, "choice-<key>" after."""
    return "choice" if first else f"choice-{key}"


def checked_choices(posted: Mapping[str, object], design: sequence.Design) -> dict[tuple[str, int], int]:
    """A pairwise screen's choices as the two images' scores on each criterion (``CHOICE_SCORES``), from the posted
    fields (``choice_field``); a ``ValidationError`` naming every field missing, or not "left", "right" or (where
    the study allows ties) "tie"."""
    scores, errors = {}, {}
    allowed = tuple(CHOICE_SCORES) if design.ties else ("left", "right")
    for position, criterion in enumerate(design.criteria):
        name = choice_field(criterion.key, first=position == 0)
        value = str(posted.get(name) or "")
        if value not in allowed:
            errors[name] = f"Choose {' or '.join(allowed)}." if value else "Choose one of the images."
            continue
        scores[("1", position)], scores[("2", position)] = CHOICE_SCORES[value]
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
    if design.pairwise:
        checked = checked_choices(scores, design)
    else:
        checked = checked_scores(scores, design.criteria, design.places)
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
    ahead = sequence.ahead(annotator_id=annotator_id, laid_out=not design.paired)
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
