"""Another tool's task, as both adapters read it: the task's data fields say what was shown, its answers give the
scores, and together they make tidy rows.

A task shows one image, with ``item``, ``condition`` and ``position`` in its data and one score; or a pair, with
``item`` and ``ours_position`` (``left`` or ``right``) in its data and two scores, from controls named ``left`` and
``right``. A file holds one kind: a one-image task's time is that image's, so the pair's time is the sum of its two
tasks (``seconds`` mode ``image``); a pair task's time is the pair's (mode ``pair``).
"""

from collections.abc import Mapping
from dataclasses import dataclass

from analysis.stats.tidy import POSITIONS, Problem

KINDS = {"image": "one image per task", "pair": "a pair per task"}


@dataclass(frozen=True)
class TaskRows:
    """The tidy rows (as text) one annotator's answer to one task gives, and the task's kind (``KINDS``)."""

    kind: str
    rows: list[dict]


def _cell(value: object) -> str:
    """A field as a tidy cell: whole floats (a rating of 8.0) without their fraction."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return "" if value is None else str(value)


def task_rows(
    data: Mapping, scores: Mapping[str, object], *, slug: str, annotator: str, seconds: float | None
) -> TaskRows | str:
    """The rows of one answer; the reason as a string when the task's data or answers do not fit either kind."""
    if not isinstance(data, Mapping) or "item" not in data:
        return "the task's data has no 'item' (the prompt)"
    base = {"study": slug, "annotator": annotator, "item": _cell(data["item"]), "seconds": _cell(seconds)}
    if "condition" in data and "position" in data:
        if len(scores) != 1:
            return f"a one-image task needs one score, not {len(scores)} ({', '.join(scores) or 'none'})"
        (score,) = scores.values()
        row = {
            **base,
            "condition": _cell(data["condition"]),
            "position": _cell(data["position"]),
            "score": _cell(score),
        }
        return TaskRows("image", [row])
    if "ours_position" in data:
        ours = _cell(data["ours_position"])
        if ours not in POSITIONS:
            return f"ours_position {ours!r} is not one of {', '.join(POSITIONS)}"
        if set(scores) != set(POSITIONS):
            return f"a pair task needs the scores 'left' and 'right', not {', '.join(map(repr, scores)) or 'none'}"
        rows = [
            {
                **base,
                "condition": "ours" if side == ours else "baseline",
                "position": side,
                "score": _cell(scores[side]),
            }
            for side in POSITIONS
        ]
        return TaskRows("pair", rows)
    return "the task's data has neither 'condition' and 'position' (one image) nor 'ours_position' (a pair)"


def seconds_mode(kinds: Mapping[str, tuple[str, tuple]], problems: list[Problem]) -> str:
    """The file's seconds mode from the first task of each kind it holds (kind → (where, order)); a file with both
    kinds is a problem, reported at the first task of the later kind."""
    if len(kinds) > 1:
        (first, (where, _)), (later, (later_where, later_order)) = sorted(kinds.items(), key=lambda kv: kv[1][1])
        problems.append(
            Problem(
                later_where,
                later_order,
                f"this task shows {KINDS[later]}, but the task on {where} shows {KINDS[first]}; a file holds one kind",
            )
        )
    return next(iter(kinds), "pair")
