"""Label Studio's JSON export (*Export → JSON*: a list of tasks with their annotations) of a rating or choices task,
read into tidy rows.

Each annotation is one annotator's answer to its task: ``completed_by`` (a user id, or a user object with an email)
names the annotator, ``lead_time`` is its time in seconds, and its results give the scores: a ``rating`` result's
``value.rating``, or a ``choices`` result whose one choice is a whole number; a result's ``from_name`` names its
control (``left`` and ``right`` in a pair task, see ``tasks``). Cancelled (skipped) annotations give no scores and
are left out, and counted; results of other types (a comment box) are left out, and named.
"""

from collections import Counter

from analysis.stats.tidy import Problem

from ..rating_files import TidyFile, check_tidy_rows
from .json_text import array_elements
from .tasks import TaskRows, seconds_mode, task_rows

SCORE_TYPES = ("rating", "choices")


def _annotator(completed_by: object) -> str:
    if isinstance(completed_by, dict):
        return str(completed_by.get("email") or completed_by.get("id") or "")
    return "" if completed_by is None else str(completed_by)


def _score(result: dict) -> object:
    """The score a rating or choices result holds, as given (checked with the rest of the row)."""
    value = result.get("value") or {}
    if result["type"] == "rating":
        return value.get("rating")
    choices = value.get("choices") or []
    return choices[0] if len(choices) == 1 else ", ".join(map(str, choices))


def read_label_studio(text: str, *, slug: str) -> TidyFile:
    """The export's ratings for study ``slug``; one ValidationError listing every bad task (by the line it starts
    on) when any is bad."""
    problems: list[Problem] = []
    rows = []
    kinds: dict[str, tuple[str, tuple]] = {}
    cancelled = 0
    other_types: Counter = Counter()
    for line, task in array_elements(text, name="A Label Studio JSON export"):
        where, order = f"task on line {line}", (line,)
        if not isinstance(task, dict) or not isinstance(task.get("annotations"), list):
            problems.append(Problem(where, order, "not a Label Studio task (an object with 'data' and 'annotations')"))
            continue
        for number, annotation in enumerate(task["annotations"], start=1):
            where_annotation, order_annotation = f"{where}, annotation {number}", (line, number)
            if not isinstance(annotation, dict):
                problems.append(Problem(where_annotation, order_annotation, "not an annotation object"))
                continue
            if annotation.get("was_cancelled"):
                cancelled += 1
                continue
            scores, found = {}, []
            for result in annotation.get("result") or []:
                if not isinstance(result, dict) or result.get("type") not in SCORE_TYPES:
                    other_types[result.get("type") if isinstance(result, dict) else type(result).__name__] += 1
                    continue
                name = str(result.get("from_name", ""))
                if name in scores:
                    found.append(f"two results from the control {name!r}")
                scores[name] = _score(result)
            annotator = _annotator(annotation.get("completed_by"))
            lead_time = annotation.get("lead_time")
            answer = task_rows(task.get("data"), scores, slug=slug, annotator=annotator, seconds=lead_time)
            if isinstance(answer, str):
                found.append(answer)
            if found:
                problems.append(Problem(where_annotation, order_annotation, "; ".join(found)))
                continue
            assert isinstance(answer, TaskRows)
            kinds.setdefault(answer.kind, (where_annotation, order_annotation))
            rows += [(where_annotation, order_annotation + (index,), row) for index, row in enumerate(answer.rows)]
    mode = seconds_mode(kinds, problems)
    ratings = check_tidy_rows(rows, slug=slug, seconds=mode, problems=problems)
    notes = []
    if cancelled:
        notes.append(f"Left out: {cancelled} cancelled (skipped) annotation{'s' if cancelled != 1 else ''}.")
    if other_types:
        notes.append(
            "Left out: results that are not scores, "
            + ", ".join(f"{count} of type {kind}" for kind, count in other_types.items())
            + "."
        )
    return TidyFile(ratings, notes=tuple(notes))
