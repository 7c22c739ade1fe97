"""Potato's annotation output read into tidy rows, in either layout Potato writes under
``<output_annotation_dir>/<user>/``: ``user_state.json`` (Potato 2) or ``annotated_instances.jsonl`` (Potato 1), and
the task's data file, which says what each instance showed.

``user_state.json`` holds ``instance_id_to_label_to_value`` (per instance, pairs of a label ``{"schema", "name"}``
and its value) and ``instance_id_to_behavioral_data`` (``total_time_ms``). A line of ``annotated_instances.jsonl``
holds the instance ``id``, its ``label_annotations`` (schema → label → value; ``annotation`` in older files) and
``behavioral_data.time_string`` (``Time spent: 0d 0h 0m 5s``). The user is the folder's name. A schema answers
with a score when its one label is a likert point (``7`` in Potato 2, ``scale_7`` in Potato 1) or a whole number (a
radio button labelled 1–10); other schemas (a text box) are left out, and named. The data file (Potato's
``data_files``: one JSON object per line) gives each instance's ``id`` and the fields ``tasks`` reads: ``item``,
and ``condition`` and ``position`` for one image, or ``ours_position`` for a pair rated with the schemas ``left``
and ``right``.
"""

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from django.core.exceptions import ValidationError

from analysis.stats.tidy import Problem

from ..rating_files import TidyFile, check_tidy_rows
from .json_text import json_lines
from .tasks import TaskRows, seconds_mode, task_rows

#: The files a user's folder holds: Potato 2's state, or Potato 1's annotations.
OUTPUT_NAMES = ("user_state.json", "annotated_instances.jsonl")
_TIME = re.compile(r"Time spent:\s*(\d+)d\s*(\d+)h\s*(\d+)m\s*(\d+)s", re.IGNORECASE)
_SCALE = re.compile(r"scale_(\d+)")


def output_files(path: Path) -> list[Path]:
    """The output files at ``path``: the file itself, or each user folder's ``user_state.json`` (else its
    ``annotated_instances.jsonl``) in it."""
    if not path.is_dir():
        return [path]
    files = []
    for folder in sorted(child for child in path.iterdir() if child.is_dir()):
        found = [folder / name for name in OUTPUT_NAMES if (folder / name).is_file()]
        if found:
            files.append(found[0])
    if not files:
        raise ValidationError(
            f"{path} holds no user folder with {' or '.join(OUTPUT_NAMES)} (Potato's output_annotation_dir)."
        )
    return files


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


@dataclass(frozen=True)
class _Answer:
    """One user's answer to one instance, from either layout; ``seconds`` is the reason when it cannot be read."""

    where: str
    order: tuple
    instance: str
    labels: dict
    seconds: float | None | str


def _state_seconds(behaviour: object) -> float | None:
    """An instance's time in Potato 2: ``total_time_ms``, or from its session's start to end when that is 0."""
    if not isinstance(behaviour, dict):
        return None
    milliseconds, start, end = (behaviour.get(key) for key in ("total_time_ms", "session_start", "session_end"))
    if isinstance(milliseconds, int | float) and milliseconds > 0:
        return milliseconds / 1000
    if isinstance(start, int | float) and isinstance(end, int | float) and end >= start:
        return end - start
    return None


def _line_answers(text: str, name: str, number: int, problems: list[Problem]) -> list[_Answer]:
    """The answers of an ``annotated_instances.jsonl``, one per line."""
    values, bad = json_lines(text)
    problems += [Problem(f"{name} line {line}", (number, line), reason) for line, reason in bad]
    answers = []
    for line, answer in values:
        where, order = f"{name} line {line}", (number, line)
        if not isinstance(answer, dict) or "id" not in answer:
            problems.append(Problem(where, order, "not a Potato annotation (a JSON object with an 'id')"))
            continue
        labels = answer.get("label_annotations", answer.get("annotation")) or {}
        labels = labels if isinstance(labels, dict) else {}
        answers.append(_Answer(where, order, str(answer["id"]), labels, _seconds(answer.get("behavioral_data"))))
    return answers


def _state_answers(text: str, name: str, number: int, problems: list[Problem]) -> list[_Answer]:
    """The answers of a ``user_state.json``, each named by the line its instance starts on."""
    try:
        state = json.loads(text)
    except json.JSONDecodeError as exc:
        problems.append(Problem(f"{name} line {exc.lineno}", (number, exc.lineno), f"not valid JSON ({exc.msg})"))
        return []
    answers_by_instance = state.get("instance_id_to_label_to_value") if isinstance(state, dict) else None
    if not isinstance(answers_by_instance, dict):
        problems.append(Problem(name, (number, 0), "not a Potato user state (no instance_id_to_label_to_value)"))
        return []
    behaviour = state.get("instance_id_to_behavioral_data") or {}
    section = text.find('"instance_id_to_label_to_value"')
    answers = []
    for instance, pairs in answers_by_instance.items():
        start = text.find(json.dumps(instance), section)
        line = text.count("\n", 0, start) + 1 if start >= 0 else 0
        where, order = f"{name} line {line}", (number, line)
        labels: dict = {}
        try:
            for label, value in pairs:
                labels.setdefault(str(label["schema"]), {})[str(label["name"])] = value
        except (TypeError, ValueError, KeyError):
            problems.append(Problem(where, order, f"instance {instance!r}: not a list of (label, value) pairs"))
            continue
        data = behaviour.get(instance) if isinstance(behaviour, dict) else None
        answers.append(_Answer(where, order, str(instance), labels, _state_seconds(data)))
    return answers


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
    for number, file in enumerate(files):
        annotator = file.parent.name
        name = f"{annotator}/{file.name}" if path.is_dir() else file.name
        reader = _state_answers if file.name == OUTPUT_NAMES[0] else _line_answers
        for answer in reader(_read(file), name, number, problems):
            if answer.instance not in shown:
                unknown.append(answer.instance)
                continue
            scores = {}
            for schema, labels in answer.labels.items():
                score = _score(labels)
                if score is None:
                    other[schema] += 1
                else:
                    scores[schema] = score
            found = [answer.seconds] if isinstance(answer.seconds, str) else []
            result = task_rows(
                shown[answer.instance],
                scores,
                slug=slug,
                annotator=annotator,
                seconds=None if isinstance(answer.seconds, str) else answer.seconds,
            )
            if isinstance(result, str):
                found.append(result)
            if found:
                problems.append(Problem(answer.where, answer.order, "; ".join(found)))
                continue
            assert isinstance(result, TaskRows)
            kinds.setdefault(result.kind, (answer.where, answer.order))
            rows += [(answer.where, answer.order + (index,), row) for index, row in enumerate(result.rows)]
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
