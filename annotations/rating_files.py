"""Tidy rating files: reading and checking ratings collected elsewhere (``selectors.TIDY_COLUMNS``, the columns the
exports write), a bad file rejected whole. Adding them to a study is ``services.rating_import``."""

import csv
import io
import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from django.core.exceptions import ValidationError

from analysis.stats.tidy import (
    CONDITIONS,
    POSITIONS,
    REQUIRED_COLUMNS,
    SECONDS_MODES,
    PairedRating,
    Problem,
    TidyRow,
    check_values,
    pair_rows,
)
from evalsite.csv_cells import restore
from evalsite.text_rules import describe_bad_characters

from .models import Annotator
from .prompt_files import bad_character
from .selectors import TIDY_COLUMNS

#: The longest annotator id the database holds (``Annotator.external_id``).
MAX_ANNOTATOR_LENGTH = Annotator._meta.get_field("external_id").max_length


#: What ``import_ratings`` does with columns beyond the tidy ones (``--extra-columns``): the database keeps only the
#: tidy columns, so they are either refused or left out by name.
EXTRA_COLUMN_RULES = {
    "reject": "a file with any other column is refused, naming the columns",
    "ignore": "other columns are left out, and the command names them",
}


def _check_row(where: str, order: tuple, row: dict, slug: str, problems: list[Problem]) -> TidyRow | None:
    """The row checked for what the database can hold and for the tidy rules (``analysis.stats.tidy``)."""
    # an EvalSite export marks text a spreadsheet would run as a formula; the import reads the value it marked
    row = {**row, "annotator": restore(row["annotator"].strip()), "item": restore(row["item"].strip())}
    found = []
    # the item is a prompt (tabs and line breaks become spaces); the other columns are one line each
    unstorable = {
        column: bad
        for column in TIDY_COLUMNS
        if (bad := bad_character(row[column]) if column == "item" else describe_bad_characters(row.get(column, "")))
    }
    for column, bad in unstorable.items():
        found.append(f"{column} {bad}")
    if unstorable:  # nothing else is said of such a line: its values are not shown back
        problems.append(Problem(where, order, "; ".join(found)))
        return None
    if row["study"].strip() != slug:
        found.append(f"study is {row['study']!r}, not {slug!r}")
    for column in ("annotator", "item"):
        if not row[column].strip():
            found.append(f"{column} is empty")
    if len(row["annotator"].strip()) > MAX_ANNOTATOR_LENGTH:
        found.append(
            f"annotator is {len(row['annotator'].strip())} characters long; at most {MAX_ANNOTATOR_LENGTH} are allowed"
        )
    values, value_problems = check_values(row)
    found += value_problems
    if values and values["condition"] not in CONDITIONS:
        found.append(
            f"condition {values['condition']!r} is not baseline or ours: a study takes imported ratings of its two "
            "conditions (evalsite-analyze analyses a file of other conditions)"
        )
    elif values and values["position"] not in POSITIONS:
        found.append(f"position {values['position']!r} is not left or right: a pair has two sides")
    if found:
        problems.append(Problem(where, order, "; ".join(found)))
        return None
    return TidyRow(where=where, order=order, annotator=row["annotator"], item=row["item"], **values)


def check_tidy_rows(
    rows: Iterable[tuple[str, tuple, dict]], *, slug: str, seconds: str = "pair", problems: list[Problem] | None = None
) -> list[PairedRating]:
    """The ratings of ``rows`` (where, order, the tidy columns as text) for study ``slug``; one ValidationError
    listing every bad row (with ``problems`` found earlier) when any is bad. ``seconds``: ``tidy.SECONDS_MODES``."""
    if seconds not in SECONDS_MODES:
        raise ValidationError(f"Unknown --seconds {seconds!r}; choose from {', '.join(SECONDS_MODES)}.")
    problems = list(problems or [])
    checked = [row for where, order, values in rows if (row := _check_row(where, order, values, slug, problems))]
    named = list(dict.fromkeys(row.criterion for row in checked if row.criterion))
    if len(named) > 1:
        first = next(row for row in checked if row.criterion == named[1])
        problems.append(
            Problem(
                first.where,
                first.order,
                f"criterion {named[1]!r} after {named[0]!r}: import_ratings reads the ratings of one criterion; "
                "split the file by criterion",
            )
        )
    ratings, pairing = pair_rows(checked, seconds=seconds)
    problems += pairing
    if problems:
        raise ValidationError([str(problem) for problem in sorted(problems, key=lambda problem: problem.order)])
    if not ratings:
        raise ValidationError("The file holds no ratings.")
    return ratings


def _rows(reader: csv.DictReader) -> Iterator[tuple[int, dict | csv.Error]]:
    """(line, row) for each record after the header, numbered from 2; a ``csv.Error`` in place of the row that
    cannot be read, which ends the rows."""
    rows = iter(reader)
    for line in itertools.count(2):
        try:
            row = next(rows)
        except StopIteration:
            return
        except csv.Error as exc:
            yield line, exc
            return
        yield line, row


def extra_columns(header: Sequence[str], rule: str, *, where: str = "line 1") -> list[str]:
    """The header's columns beyond the tidy ones, refused (a ValidationError naming them) unless ``rule`` is
    ``ignore``."""
    if rule not in EXTRA_COLUMN_RULES:
        raise ValidationError(f"Unknown --extra-columns {rule!r}; choose from {', '.join(EXTRA_COLUMN_RULES)}.")
    extra = [column for column in header if column not in TIDY_COLUMNS]
    if extra and rule == "reject":
        raise ValidationError(
            f"{where}: column(s) {', '.join(extra)} are not tidy columns ({', '.join(TIDY_COLUMNS)}); "
            "import with --extra-columns ignore to leave them out."
        )
    return extra


@dataclass(frozen=True)
class TidyFile:
    """A file's ratings, and what was left out of it, in words (columns, skipped answers)."""

    ratings: list[PairedRating]
    notes: tuple[str, ...] = ()


def parse_tidy_csv(text: str, *, slug: str, seconds: str = "pair", extra: str = "reject") -> TidyFile:
    """Parse and check the whole file; raise one ValidationError listing every bad line. ``seconds``: what a row's
    seconds hold (``tidy.SECONDS_MODES``); ``extra``: what other columns do (``EXTRA_COLUMN_RULES``)."""
    reader = csv.DictReader(io.StringIO(text))
    try:
        fieldnames = reader.fieldnames
    except csv.Error as exc:
        raise ValidationError(f"line 1: not valid CSV ({exc}).") from None
    header = [name.strip() for name in (fieldnames or [])]
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    if missing:
        raise ValidationError(
            f"line 1: the header lacks column(s) {', '.join(missing)}; expected {', '.join(TIDY_COLUMNS)}."
        )
    ignored = extra_columns(header, extra)
    reader.fieldnames = header
    problems: list[Problem] = []
    rows = []
    for line, row in _rows(reader):
        if isinstance(row, csv.Error):  # e.g. a field longer than the csv module takes: the rest cannot be read
            problems.append(
                Problem(f"line {line}", (line,), f"not valid CSV ({row}); the lines after it were not read")
            )
            break
        if None in row or any(value is None for value in row.values()):
            problems.append(Problem(f"line {line}", (line,), f"expected {len(header)} fields"))
            continue
        rows.append((f"line {line}", (line,), row))
    ratings = check_tidy_rows(rows, slug=slug, seconds=seconds, problems=problems)
    return TidyFile(ratings, (f"Columns left out: {', '.join(ignored)}.",) if ignored else ())
