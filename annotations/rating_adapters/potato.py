"""Potato's annotation output read into tidy rows: ``<output_annotation_dir>/<user>/annotated_instances.jsonl``,
one line per instance a user annotated, and the task's data file, which says what each instance showed.

An output line holds the instance ``id``, its ``label_annotations`` (schema → label → value; ``annotation`` in
older files) and ``behavioral_data.time_string`` (``Time spent: 0d 0h 0m 5s``). The user is the folder's name. A
schema answers with a score when its one label is a likert point, ``scale_N``, or a whole number (a radio button
labelled 1–10); other schemas (a text box) are left out, and named. The data file (Potato's ``data_files``: one
JSON object per line) gives each instance's ``id`` and the fields ``tasks`` reads: ``item``, and ``condition`` and
``position`` for one image, or ``ours_position`` for a pair rated with the schemas ``left`` and ``right``.
"""

import re
from collections import Counter
from pathlib import Path

from django.core.exceptions import ValidationError

from analysis.stats.tidy import Problem

from ..rating_files import TidyFile, check_tidy_rows
from .json_text import json_lines
from .tasks import TaskRows, seconds_mode, task_rows

OUTPUT_NAME = "annotated_instances.jsonl"
_TIME = re.compile(r"Time spent:\s*(\d+)d\s*(\d+)h\s*(\d+)m\s*(\d+)s", re.IGNORECASE)
_SCALE = re.compile(r"scale_(\d+)")


def output_files(path: Path) -> list[Path]:
    """The output files at ``path``: the file itself, or each user folder's ``annotated_instances.jsonl`` in it."""
    if path.is_dir():
        files = sorted(path.glob(f"*/{OUTPUT_NAME}"))
        if not files:
            raise ValidationError(f"{path} holds no user folder with {OUTPUT_NAME} (Potato's output_annotation_dir).")
        return files
    return [path]


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(f"Cannot read {path}: {exc}") from None


def _instances(path: Path) -> dict[str, dict]:
    """The data file's instances by id; a ValidationError listing each bad line."""
    values, bad = json_lines(_read(path))
    problems = [f"{path.name} line {line}: {reason}" for line, reason in bad]
    instances: dict[str, dict] = {}
    for line, value in values:
        if not isinstance(value, dict) or "id" not in value:
            problems.append(f"{path.name} line {line}: an instance must be a JSON object with an 'id'")
        elif str(value["id"]) in instances:
            problems.append(f"{path.name} line {line}: a second instance with the id {value['id']!r}")
        else:
            instances[str(value["id"])] = value
    if problems:
        raise ValidationError(problems)
    return instances


def _score(labels: object) -> object | None:
    """A schema's score (its one label's scale point or number, as text), or None when it is not a score."""
    if not isinstance(labels, dict) or len(labels) != 1:
        return None
    ((label, _),) = labels.items()
    point = _SCALE.fullmatch(str(label))
    if point:
        return point.group(1)
    return str(label) if str(label).isdigit() else None


def _seconds(behaviour: object) -> float | None | str:
    """The instance's time in seconds from its ``time_string``; None when there is none; the reason when unreadable."""
    if not isinstance(behaviour, dict) or not behaviour.get("time_string"):
        return None
    match = _TIME.search(str(behaviour["time_string"]))
    if not match:
        return f"time_string {behaviour['time_string']!r} is not 'Time spent: Nd Nh Nm Ns'"
    days, hours, minutes, seconds = map(int, match.groups())
    return float(((days * 24 + hours) * 60 + minutes) * 60 + seconds)


def read_potato(path: Path, *, instances: Path, slug: str) -> TidyFile:
    """The ratings in Potato's output at ``path`` (a user's file or the output folder) for study ``slug``, with the
    instances of the data file ``instances``; one ValidationError listing every bad line when any is bad."""
    files = output_files(path)
    shown = _instances(instances)
    problems: list[Problem] = []
    rows = []
    kinds: dict[str, tuple[str, tuple]] = {}
    unknown: list[str] = []
    other: Counter = Counter()
    for file_number, file in enumerate(files):
        annotator = file.parent.name
        name = f"{annotator}/{file.name}" if path.is_dir() else file.name
        values, bad = json_lines(_read(file))
        problems += [Problem(f"{name} line {line}", (file_number, line), reason) for line, reason in bad]
        for line, answer in values:
            where, order = f"{name} line {line}", (file_number, line)
            if not isinstance(answer, dict) or "id" not in answer:
                problems.append(Problem(where, order, "not a Potato annotation (a JSON object with an 'id')"))
                continue
            if str(answer["id"]) not in shown:
                unknown.append(str(answer["id"]))
                continue
            labels = answer.get("label_annotations", answer.get("annotation")) or {}
            scores = {}
            for schema, values_ in labels.items() if isinstance(labels, dict) else ():
                score = _score(values_)
                if score is None:
                    other[schema] += 1
                else:
                    scores[schema] = score
            seconds = _seconds(answer.get("behavioral_data"))
            found = [seconds] if isinstance(seconds, str) else []
            result = task_rows(
                shown[str(answer["id"])],
                scores,
                slug=slug,
                annotator=annotator,
                seconds=None if isinstance(seconds, str) else seconds,
            )
            if isinstance(result, str):
                found.append(result)
            if found:
                problems.append(Problem(where, order, "; ".join(found)))
                continue
            assert isinstance(result, TaskRows)
            kinds.setdefault(result.kind, (where, order))
            rows += [(where, order + (index,), row) for index, row in enumerate(result.rows)]
    mode = seconds_mode(kinds, problems)
    ratings = check_tidy_rows(rows, slug=slug, seconds=mode, problems=problems)
    notes = []
    if unknown:
        listed = ", ".join(map(repr, sorted(set(unknown))[:5])) + (", …" if len(set(unknown)) > 5 else "")
        notes.append(f"Left out: {len(unknown)} answers to instances not in {instances.name} (survey pages): {listed}.")
    if other:
        notes.append(
            "Left out: schemas without a score, " + ", ".join(f"{s} ({n} answers)" for s, n in other.items()) + "."
        )
    return TidyFile(ratings, notes=tuple(notes))
