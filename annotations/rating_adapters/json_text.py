"""JSON read with line numbers: the elements of a JSON array, each with the line it starts on, and JSON lines."""

import json

from django.core.exceptions import ValidationError

_DECODER = json.JSONDecoder()
_SPACE = " \t\r\n"


def _line(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in _SPACE:
        position += 1
    return position


def array_elements(text: str, *, name: str) -> list[tuple[int, object]]:
    """Each element of the JSON array ``text`` with its first line; a ValidationError naming the line of the first
    syntax error, or saying the file (``name``) holds no array."""
    position = _skip_space(text, 0)
    if not text.startswith("[", position):
        raise ValidationError(f"line {_line(text, position)}: {name} must be a JSON array (a list of tasks).")
    elements = []
    position = _skip_space(text, position + 1)
    if text.startswith("]", position):
        return elements
    while True:
        try:
            value, end = _DECODER.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"line {exc.lineno}: not valid JSON ({exc.msg}).") from None
        elements.append((_line(text, position), value))
        position = _skip_space(text, end)
        if text.startswith(",", position):
            position = _skip_space(text, position + 1)
        elif text.startswith("]", position):
            break
        else:
            raise ValidationError(f"line {_line(text, position)}: not valid JSON (expected ',' or ']').")
    rest = _skip_space(text, position + 1)
    if rest < len(text):
        raise ValidationError(f"line {_line(text, rest)}: not valid JSON (text after the array).")
    return elements


def json_lines(text: str) -> tuple[list[tuple[int, object]], list[tuple[int, str]]]:
    """Each non-blank line's JSON value with its line number, and (line, reason) for each line that is not JSON."""
    values, bad = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            values.append((number, json.loads(line)))
        except json.JSONDecodeError as exc:
            bad.append((number, f"not valid JSON ({exc.msg})"))
    return values, bad
