"""Tidy rating files: reading and checking ratings collected elsewhere (``selectors.TIDY_COLUMNS``, the columns the
exports write), a bad file rejected whole. Adding them to a study is ``services.rating_import``."""

import csv
import io
import itertools
import math
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from django.core.exceptions import ValidationError

from evalsite.csv_cells import restore
from evalsite.text_rules import describe_bad_characters

from .models import SCORE_MAX, SCORE_MIN, Annotator
from .prompt_files import bad_character
from .selectors import CONDITIONS, POSITIONS, TIDY_COLUMNS

#: The longest annotator id the database holds (``Annotator.external_id``).
MAX_ANNOTATOR_LENGTH = Annotator._meta.get_field("external_id").max_length


@dataclass(frozen=True)
class ImportedRating:
    line: int
    annotator: str
    item: str
    baseline_score: int
    ours_score: int
    ours_on_left: bool
    seconds: float | None


def _parse_row(line: int, row: dict, slug: str, errors: list[str]) -> dict | None:
    # an EvalSite export marks text a spreadsheet would run as a formula; the import reads the value it marked
    row = {**row, "annotator": restore(row["annotator"].strip()), "item": restore(row["item"].strip())}
    problems = []
    # the item is a prompt (tabs and line breaks become spaces); the other columns are one line each
    unstorable = {
        column: bad
        for column in TIDY_COLUMNS
        if (bad := bad_character(row[column]) if column == "item" else describe_bad_characters(row[column]))
    }
    for column, bad in unstorable.items():
        problems.append(f"{column} {bad}")
    if unstorable:  # nothing else is said of such a line: its values are not shown back
        errors.append(f"line {line}: " + "; ".join(problems))
        return None
    if row["study"].strip() != slug:
        problems.append(f"study is {row['study']!r}, not {slug!r}")
    for column in ("annotator", "item"):
        if not row[column].strip():
            problems.append(f"{column} is empty")
    if len(row["annotator"].strip()) > MAX_ANNOTATOR_LENGTH:
        problems.append(
            f"annotator is {len(row['annotator'].strip())} characters long; at most {MAX_ANNOTATOR_LENGTH} are allowed"
        )
    if row["condition"].strip() not in CONDITIONS:
        problems.append(f"condition {row['condition']!r} is not one of {', '.join(CONDITIONS)}")
    if row["position"].strip() not in POSITIONS:
        problems.append(f"position {row['position']!r} is not one of {', '.join(POSITIONS)}")
    score = None
    try:
        score = int(row["score"].strip())
    except ValueError:
        problems.append(f"score {row['score']!r} is not a whole number")
    else:
        if not SCORE_MIN <= score <= SCORE_MAX:
            problems.append(f"score {score} is outside {SCORE_MIN}–{SCORE_MAX}")
    seconds = None
    if row["seconds"].strip():
        try:
            seconds = float(row["seconds"])
        except ValueError:
            problems.append(f"seconds {row['seconds']!r} is not a number")
        else:
            if not math.isfinite(seconds) or seconds < 0:
                problems.append(f"seconds {row['seconds']!r} must be a non-negative number")
    if problems:
        errors.append(f"line {line}: " + "; ".join(problems))
        return None
    return {
        "annotator": row["annotator"].strip(),
        "item": row["item"].strip(),
        "condition": row["condition"].strip(),
        "score": score,
        "position": row["position"].strip(),
        "seconds": seconds,
    }


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


def parse_tidy_csv(text: str, *, slug: str) -> list[ImportedRating]:
    """Parse and check the whole file; raise one ValidationError listing every bad line."""
    reader = csv.DictReader(io.StringIO(text))
    try:
        fieldnames = reader.fieldnames
    except csv.Error as exc:
        raise ValidationError(f"line 1: not valid CSV ({exc}).") from None
    header = [name.strip() for name in (fieldnames or [])]
    missing = [column for column in TIDY_COLUMNS if column not in header]
    if missing:
        raise ValidationError(
            f"line 1: the header lacks column(s) {', '.join(missing)}; expected {', '.join(TIDY_COLUMNS)}."
        )
    reader.fieldnames = header
    errors: list[str] = []
    halves: dict[tuple[str, str], dict[str, tuple[int, dict]]] = defaultdict(dict)
    for line, row in _rows(reader):
        if isinstance(row, csv.Error):  # e.g. a field longer than the csv module takes: the rest cannot be read
            errors.append(f"line {line}: not valid CSV ({row}); the lines after it were not read")
            break
        if None in row or any(value is None for value in row.values()):
            errors.append(f"line {line}: expected {len(header)} fields")
            continue
        parsed = _parse_row(line, row, slug, errors)
        if parsed is None:
            continue
        key = (parsed["annotator"], parsed["item"])
        if parsed["condition"] in halves[key]:
            first = halves[key][parsed["condition"]][0]
            errors.append(
                f"line {line}: a second {parsed['condition']} score by {key[0]!r} for this item (first on line {first})"
            )
            continue
        halves[key][parsed["condition"]] = (line, parsed)
    ratings: list[ImportedRating] = []
    for (annotator, item), conditions in halves.items():
        if set(conditions) != set(CONDITIONS):
            ((line, only),) = conditions.values()
            other = "ours" if only["condition"] == "baseline" else "baseline"
            errors.append(f"line {line}: {annotator!r} has no {other} score for this item")
            continue
        (base_line, base), (ours_line, ours) = conditions["baseline"], conditions["ours"]
        if base["position"] == ours["position"]:
            errors.append(f"line {ours_line}: baseline (line {base_line}) and ours are both on the {ours['position']}")
            continue
        if base["seconds"] != ours["seconds"]:
            errors.append(f"line {ours_line}: seconds differ from the baseline row on line {base_line}")
            continue
        ratings.append(
            ImportedRating(
                line=min(base_line, ours_line),
                annotator=annotator,
                item=item,
                baseline_score=base["score"],
                ours_score=ours["score"],
                ours_on_left=ours["position"] == "left",
                seconds=ours["seconds"],
            )
        )
    if errors:
        raise ValidationError(sorted(errors, key=lambda message: int(message.split(":")[0].split()[1])))
    if not ratings:
        raise ValidationError("The file holds no ratings.")
    return sorted(ratings, key=lambda rating: rating.line)
