"""Prompt files: read prompts from CSV, TSV, JSON Lines, plain text or Parquet, and check them (a prompt table's
rows and ``create_study``'s prompts too). Adding a file's prompts to a study is ``services.prompt_import``.

Every problem is reported as "line N: ..." with N counted as a person would in that file, and a bad
file is rejected whole: nothing is written unless every line is good.

Normalisation: a prompt is stripped and every run of whitespace inside it (spaces, tabs, newlines from
a quoted CSV field) becomes one space, as the CLIP tokenizers of the supported models do anyway. Two
prompts that differ only in whitespace would give the same images, so they count as duplicates.

Characters: a prompt may not hold control characters (but the tabs and line breaks that normalising makes spaces),
bidirectional controls, zero-width or other invisible format characters (a joiner between emoji excepted),
private-use or unassigned code points: ``evalsite.text_rules``, the rule every study text follows. A byte-order mark
opening the file is its encoding mark and is removed before that check.
"""

import csv
import io
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePath

from django.core.exceptions import ValidationError

from evalsite.text_rules import describe_bad_characters

PROMPT_COLUMNS = ("caption", "prompt", "text", "TEXT")  # tried in this order; LAION metadata uses TEXT
FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".txt": "text",
    ".parquet": "parquet",
}
MAX_PROMPT_LENGTH = 1000
MAX_REPORTED = 100  # problems listed in one error; the rest are counted


@dataclass(frozen=True)
class PromptLine:
    """One prompt as read from a file: its 1-based line (or Parquet row) number and its raw text."""

    line: int
    text: str


@dataclass(frozen=True)
class _Problem:
    line: int
    message: str


def normalize_prompt(text: str) -> str:
    """Strip ``text`` and collapse each internal run of whitespace to one space."""
    return " ".join(text.split())


def bad_character(text: str) -> str | None:
    """What a prompt may not hold (``evalsite.text_rules``), as "contains U+202E RIGHT-TO-LEFT OVERRIDE (...) at
    character 5", or None: control characters but tab and line breaks (normalising makes them spaces), bidirectional
    and zero-width characters, a NUL (PostgreSQL cannot store one), a lone surrogate such as JSON's "\\ud800"."""
    return describe_bad_characters(text, multiline=True, of="the prompt")


def _raise(problems: Sequence[_Problem], *, unit: str = "line") -> None:
    """Raise one ValidationError listing the problems in line order (at most MAX_REPORTED of them), each named
    "{unit} N" ("line" in a file, "row" in the admin's prompt table)."""
    ordered = sorted(problems, key=lambda problem: problem.line)
    messages = [f"{unit} {problem.line}: {problem.message}" for problem in ordered[:MAX_REPORTED]]
    if len(ordered) > MAX_REPORTED:
        messages.append(f"… and {len(ordered) - MAX_REPORTED} more problems")
    raise ValidationError(messages)


# Reading ------------------------------------------------------------------------------------------


def _format_of(filename: str) -> str:
    suffix = PurePath(filename).suffix.lower()
    if suffix not in FORMATS:
        known = ", ".join(FORMATS)
        raise ValidationError(f"Cannot read {filename!r}: the file name must end in one of {known}.")
    return FORMATS[suffix]


def _choose_column(found: Sequence[str], column: str | None, *, where: str) -> str:
    """``column`` if the file has it, else the first of PROMPT_COLUMNS it has; a clear error otherwise."""
    names = ", ".join(repr(name) for name in found) or "none"
    if column:
        if column in found:
            return column
        message = f"there is no column {column!r}; the columns are {names}."
    else:
        for candidate in PROMPT_COLUMNS:
            if candidate in found:
                return candidate
        expected = ", ".join(repr(name) for name in PROMPT_COLUMNS)
        message = f"no prompt column: expected one of {expected}; the columns are {names}. Name the column to read."
    raise ValidationError(where + message if where else message[0].upper() + message[1:])


def _decode_lines(data: bytes) -> tuple[list[tuple[int, str]], list[_Problem]]:
    """The file's lines as (1-based number, text without its line ending), and a problem per undecodable line.

    UTF-8 with or without a byte-order mark; lines end at LF, CRLF or CR, as a text editor counts them.
    """
    text = data.decode("utf-8", errors="surrogateescape").removeprefix("\ufeff")
    lines: list[tuple[int, str]] = []
    problems: list[_Problem] = []
    for number, raw in enumerate(io.StringIO(text, newline=""), start=1):
        line = raw.rstrip("\r\n")
        bad = [index for index, char in enumerate(line) if "\udc80" <= char <= "\udcff"]
        if bad:
            byte = ord(line[bad[0]]) - 0xDC00
            message = f"not valid UTF-8 (byte 0x{byte:02X} at character {bad[0] + 1}); save the file as UTF-8"
            problems.append(_Problem(number, message))
        lines.append((number, line))
    return lines, problems


def _drop_trailing_blanks(records: list[tuple[int, bool, object]]) -> list[tuple[int, bool, object]]:
    while records and records[-1][1]:
        records.pop()
    return records


def _read_delimited(
    lines: list[tuple[int, str]], *, delimiter: str, column: str | None, name: str
) -> tuple[list[PromptLine], list[_Problem]]:
    text = "".join(line + "\n" for _, line in lines)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows: list[tuple[int, bool, list[str]]] = []  # (first line of the record, blank?, fields)
    start = 1
    try:
        for row in reader:
            rows.append((start, not any(field.strip() for field in row), row))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise ValidationError(f"line {start}: not valid {name} ({exc}).") from None
    if not rows or rows[0][1]:
        raise ValidationError(f"line 1: the {name} file has no header naming its columns.")
    (_, _, header), records = rows[0], _drop_trailing_blanks(rows[1:])
    header = [field.strip() for field in header]
    index = header.index(_choose_column(header, column, where="line 1: "))
    prompts: list[PromptLine] = []
    problems: list[_Problem] = []
    for line, blank, row in records:
        if blank:
            prompts.append(PromptLine(line, ""))
        elif len(row) != len(header):
            problems.append(
                _Problem(
                    line,
                    f"expected {len(header)} fields as in the header, found {len(row)}"
                    + (" (quote a prompt that holds a comma)" if delimiter == "," else ""),
                )
            )
        else:
            prompts.append(PromptLine(line, row[index]))
    return prompts, problems


def _json_kind(value: object) -> str:
    return {dict: "an object", list: "a list", bool: "true/false", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__
    )


def _read_jsonl(lines: list[tuple[int, str]], *, column: str | None) -> tuple[list[PromptLine], list[_Problem]]:
    records: list[tuple[int, bool, object]] = [(number, not line.strip(), line) for number, line in lines]
    prompts: list[PromptLine] = []
    problems: list[_Problem] = []
    key: str | None = None
    for line, blank, raw in _drop_trailing_blanks(records):
        if blank:
            prompts.append(PromptLine(line, ""))
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as exc:
            problems.append(_Problem(line, f"not valid JSON ({exc.msg} at character {exc.colno})"))
            continue
        if not isinstance(record, dict):
            problems.append(_Problem(line, f"expected a JSON object, found {_json_kind(record)}"))
            continue
        if key is None:  # the first object decides, as a header would
            key = _choose_column(list(record), column, where=f"line {line}: ")
        if key not in record:
            problems.append(_Problem(line, f"the object has no {key!r} field"))
            continue
        value = record[key]
        if value is None:
            value = ""
        if not isinstance(value, str):
            problems.append(_Problem(line, f"{key!r} is {_json_kind(value)}, not text"))
            continue
        prompts.append(PromptLine(line, value))
    return prompts, problems


def _read_text(lines: list[tuple[int, str]], *, column: str | None) -> list[PromptLine]:
    if column:
        raise ValidationError("A plain-text file has no columns: leave the column empty.")
    return [PromptLine(number, line) for number, line in lines if line.strip()]


def _read_parquet(data: bytes, *, filename: str, column: str | None) -> list[PromptLine]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(pa.BufferReader(data))
        name = _choose_column(parquet.schema_arrow.names, column, where="")
        values = parquet.read(columns=[name]).column(0)
    except (pa.ArrowException, OSError) as exc:
        raise ValidationError(f"Cannot read {filename!r} as a Parquet file: {exc}") from None
    kind = values.type
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)):
        raise ValidationError(f"The column {name!r} holds {values.type} values, not text.")
    return [PromptLine(row, value or "") for row, value in enumerate(values.to_pylist(), start=1)]


def _read(data: bytes, *, filename: str, column: str | None) -> tuple[list[PromptLine], list[_Problem]]:
    """Prompts of every readable record, and a problem for each record that cannot be read."""
    kind = _format_of(filename)
    if kind == "parquet":
        return _read_parquet(data, filename=filename, column=column), []
    lines, problems = _decode_lines(data)
    if problems:
        return [], problems
    if kind == "text":
        return _read_text(lines, column=column), []
    if kind == "jsonl":
        return _read_jsonl(lines, column=column)
    delimiter, name = ("\t", "TSV") if kind == "tsv" else (",", "CSV")
    return _read_delimited(lines, delimiter=delimiter, column=column, name=name)


def read_prompt_file(data: bytes, *, filename: str, column: str | None = None) -> list[PromptLine]:
    """Read the prompts of a file whose format is told by ``filename``'s extension (any case).

    - ``.csv`` / ``.tsv``: a header row naming the columns (line 1), then one record per row; quoted
      fields may hold commas, tabs and newlines. ``line`` is the file line where the record starts.
    - ``.jsonl`` / ``.ndjson``: one JSON object per line; ``line`` is the line number.
    - ``.parquet``: ``line`` is the row number from 1; only the prompt column is read.
    - ``.txt``: one prompt per line; blank lines are skipped silently.

    The prompt column is ``column`` when given, else the first of ``PROMPT_COLUMNS`` the file has. In
    the structured formats a blank line, an empty cell or a null is returned as an empty prompt (for
    ``check_prompts`` to report); blank lines at the very end of a file are ignored. Text is UTF-8, with
    or without a byte-order mark. Raises one ValidationError listing every record that cannot be read.
    Texts are returned as found; ``check_prompts`` normalises them.
    """
    prompts, problems = _read(data, filename=filename, column=column)
    if problems:
        _raise(problems)
    return prompts


# Checking and sampling ----------------------------------------------------------------------------


def _check(
    lines: Iterable[PromptLine], *, existing: Iterable[str], max_length: int, unit: str = "line"
) -> tuple[list[str], list[_Problem]]:
    known = {normalize_prompt(text) for text in existing}
    seen: dict[str, int] = {}
    texts: list[str] = []
    problems: list[_Problem] = []
    for prompt in lines:
        if bad := bad_character(prompt.text):
            problems.append(_Problem(prompt.line, bad))
            continue
        text = normalize_prompt(prompt.text)
        found: list[str] = []
        if not text:
            problems.append(_Problem(prompt.line, "the prompt is empty"))
            continue
        if len(text) > max_length:
            found.append(f"the prompt is {len(text)} characters long; at most {max_length} are allowed")
        if text in seen:
            found.append(f"duplicate of the prompt on {unit} {seen[text]}")
        elif text in known:
            found.append("the study already has this prompt")
        if found:
            problems.append(_Problem(prompt.line, "; ".join(found)))
        seen.setdefault(text, prompt.line)
        texts.append(text)
    return texts, problems


def check_prompts(
    lines: Iterable[PromptLine],
    *,
    existing: Iterable[str] = frozenset(),
    max_length: int = MAX_PROMPT_LENGTH,
    unit: str = "line",
) -> list[str]:
    """Normalise the prompts (see the module docstring) and return them in order, or raise one ValidationError.

    The error lists, as "line N: ...", every prompt holding a character ``bad_character`` refuses (naming it and
    where it is), every empty prompt, every prompt longer than ``max_length`` characters, every repeat of an earlier
    line of the file (naming that line) and every prompt that ``existing`` (the study's prompts) already holds.
    ``unit`` names what N counts ("row" for the rows of the admin's prompt table).
    """
    texts, problems = _check(lines, existing=existing, max_length=max_length, unit=unit)
    if problems:
        _raise(problems, unit=unit)
    return texts


def read_checked_prompts(
    data: bytes, *, filename: str, column: str | None = None, existing: Iterable[str] = frozenset()
) -> list[str]:
    """The normalised prompts of a whole file (see ``read_prompt_file`` and ``check_prompts``), or one
    ValidationError listing every record that cannot be read and every bad prompt, in line order."""
    prompts, problems = _read(data, filename=filename, column=column)
    texts, more = _check(prompts, existing=existing, max_length=MAX_PROMPT_LENGTH)
    if problems or more:
        _raise(problems + more)
    return texts


def sample_prompts(texts: Sequence[str], *, n: int, seed: int) -> list[str]:
    """``n`` of ``texts`` drawn without replacement by ``random.Random(seed)``, kept in their original order."""
    if n < 1:
        raise ValidationError(f"The sample size must be at least 1, not {n}.")
    if n > len(texts):
        raise ValidationError(f"Cannot sample {n} prompts: the file holds only {len(texts)}.")
    chosen = sorted(random.Random(seed).sample(range(len(texts)), n))
    return [texts[index] for index in chosen]
