"""Reads for studies, annotators and ratings."""
from collections.abc import Iterator

from .models import Annotator, CheckResponse, Rating, Study, is_token

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
