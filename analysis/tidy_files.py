"""Tidy ratings files without Django: the ratings as Parquet, with the codebook in the file's column metadata; and a
CSV or Parquet file read back, checked row by row (``analysis.stats.tidy``) and refused whole, each problem named by
its line (CSV) or row (Parquet).
"""

import csv
import io
import itertools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .csv_cells import restore
from .stats import choices
from .stats.tidy import (
    CODEBOOK,
    COLUMNS,
    EXTRA_COLUMN_RULES,
    REQUIRED_COLUMNS,
    SECONDS_MODES,
    Problem,
    TidyRow,
    check_values,
    is_paired,
    pair_rows,
    screen_rows,
    units,
)

_ARROW_TYPES = {"string": pa.string(), "integer": pa.int64(), "number": pa.float64()}


class TidyFileError(ValueError):
    """A tidy file that cannot be read: ``problems`` lists every one, each with its line or row."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def parquet_schema(extra: list[str] = (), codebook=CODEBOOK) -> pa.Schema:
    """The tidy columns' Arrow types (those of ``codebook``: the ratings', or ``stats.choices``' for pairwise
    judgments), each with its codebook description and units as field metadata; extra columns
    (``--extra-columns keep``) as text."""
    fields = [
        pa.field(
            column.name,
            _ARROW_TYPES[column.type],
            nullable=column.nullable,
            metadata={"description": column.description, "units": column.units},
        )
        for column in codebook
    ]
    return pa.schema(fields + [pa.field(name, pa.string()) for name in extra])


def ratings_parquet(frame: pd.DataFrame) -> bytes:
    """The tidy ratings (or pairwise judgments) as a Parquet file (zstd), typed as the codebook says; the same frame
    gives the same bytes."""
    codebook = choices.CODEBOOK if is_judgments(frame) else CODEBOOK
    names = [column.name for column in codebook]
    extra = [column for column in frame.columns if column not in names]
    table = pa.Table.from_pandas(
        frame.astype({name: "string" for name in extra}), schema=parquet_schema(extra, codebook), preserve_index=False
    )
    buffer = io.BytesIO()
    pq.write_table(table.replace_schema_metadata(None), buffer, compression="zstd")
    return buffer.getvalue()


def is_judgments(frame: pd.DataFrame) -> bool:
    """Whether a tidy frame holds pairwise judgments (``stats.choices``) rather than ratings."""
    return "choice" in frame.columns and "score" not in frame.columns


def data_kind(frame: pd.DataFrame) -> str:
    """What a study's data files are called: ``<study>-judgments.*`` for pairwise judgments, else ``-ratings.*``."""
    return "judgments" if is_judgments(frame) else "ratings"


@dataclass(frozen=True)
class TidyRatings:
    """A checked file's ratings: one frame per analysis unit (a study, or a study's criterion: ``tidy.units``), in
    the order they first appear, each with the tidy
    columns (score an integer, seconds a float: the pair's time on both rows, NaN when unknown) and the extra
    columns kept."""

    frames: dict[str, pd.DataFrame]
    extra: tuple[str, ...]


def _csv_records(path: Path) -> tuple[list[str], Iterator[tuple[str, tuple, dict]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise TidyFileError([f"Cannot read {path}: {exc}"]) from None
    reader = csv.DictReader(io.StringIO(text))
    try:
        header = [name.strip() for name in reader.fieldnames or []]
    except csv.Error as exc:
        raise TidyFileError([f"line 1: not valid CSV ({exc})"]) from None
    reader.fieldnames = header

    def records():
        rows = iter(reader)
        for line in itertools.count(2):
            try:
                row = next(rows)
            except StopIteration:
                return
            except csv.Error as exc:
                yield f"line {line}", (line,), exc
                return
            yield f"line {line}", (line,), row

    return header, records()


def _parquet_records(path: Path) -> tuple[list[str], Iterator[tuple[str, tuple, dict]]]:
    try:
        frame = pq.read_table(path).to_pandas()
    except (OSError, pa.ArrowException) as exc:
        raise TidyFileError([f"Cannot read {path} as Parquet: {exc}"]) from None
    header = [str(name) for name in frame.columns]
    records = (
        (f"row {number}", (number,), row)
        for number, row in enumerate(frame.astype(object).to_dict(orient="records"), start=1)
    )
    return header, records


def _cell(value: object) -> str:
    return "" if value is None or (isinstance(value, float) and value != value) else str(value)


def read_tidy(path: Path, *, seconds: str = "pair", extra: str = "reject") -> TidyRatings:
    """The tidy ratings in ``path`` (``.csv`` or ``.parquet``), every row checked; a TidyFileError listing every
    problem, by line or row, when any is found. ``seconds``: ``SECONDS_MODES``; ``extra``: ``EXTRA_COLUMN_RULES``."""
    if seconds not in SECONDS_MODES:
        raise TidyFileError([f"Unknown --seconds {seconds!r}; choose from {', '.join(SECONDS_MODES)}"])
    if extra not in EXTRA_COLUMN_RULES:
        raise TidyFileError([f"Unknown --extra-columns {extra!r}; choose from {', '.join(EXTRA_COLUMN_RULES)}"])
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise TidyFileError([f"{path}: a tidy ratings file ends in .csv or .parquet"])
    header, records = (_parquet_records if suffix == ".parquet" else _csv_records)(path)
    where = "line 1" if suffix == ".csv" else "the file's columns"
    judgments = "choice" in header and "score" not in header  # pairwise judgments (``stats.choices``)
    columns, required = (choices.COLUMNS, choices.REQUIRED_COLUMNS) if judgments else (COLUMNS, REQUIRED_COLUMNS)
    missing = [column for column in required if column not in header]
    if missing:
        raise TidyFileError([f"{where}: the columns lack {', '.join(missing)}; expected {', '.join(columns)}"])
    others = [column for column in header if column not in columns]
    if others and extra == "reject":
        raise TidyFileError(
            [
                f"{where}: column(s) {', '.join(others)} are not tidy columns ({', '.join(columns)}); "
                "read the file with --extra-columns keep to carry them along"
            ]
        )
    if judgments:
        checked = _CheckedRecords(
            records, check=choices.check_choice, csv_text=suffix == ".csv", header=header, others=others
        )
        return _read_choices(path, checked)
    problems: list[Problem] = []
    rows: list[TidyRow] = []
    study_of: dict[tuple, str] = {}
    checked = _CheckedRecords(records, check=check_values, csv_text=suffix == ".csv", header=header, others=others)
    for where_row, order, text, values, kept in checked.rows(problems):
        study_of[order] = text["study"]
        rows.append(TidyRow(where_row, order, text["annotator"], text["item"], extra=kept, **values))
    # the rows of one study on one criterion are checked together: a paired study's pair by pair (baseline and ours),
    # a study of other conditions screen by screen
    timed = []  # (study, row, the time of its pair or screen)
    for study, criterion in dict.fromkeys((study_of[row.order], row.criterion) for row in rows):
        own = [row for row in rows if study_of[row.order] == study and row.criterion == criterion]
        if is_paired(row.condition for row in own):
            paired, found = pair_rows(own, seconds=seconds)
            timed += [(study, row, rating.seconds) for rating in paired for row in (rating.baseline, rating.ours)]
        else:
            screens, found = screen_rows(own, seconds=seconds)
            timed += [(study, screen.row, screen.seconds) for screen in screens]
        problems += found
    _refuse(problems)
    if not timed:
        raise TidyFileError([f"{path} holds no ratings"])
    return TidyRatings(_frames(timed, others), tuple(others))


@dataclass(frozen=True)
class _CheckedRecords:
    """A file's records checked one by one: the study, annotator and item texts (restored from the CSV's formula
    marks) and the values ``check`` parses (``stats.tidy.check_values`` or ``stats.choices.check_choice``)."""

    records: Iterator[tuple[str, tuple, dict]]
    check: Callable[[Mapping[str, object]], tuple[dict | None, list[str]]]
    csv_text: bool
    header: list[str]
    others: list[str]

    def rows(self, problems: list[Problem]) -> Iterator[tuple[str, tuple, dict, dict, dict]]:
        """(where, order, texts, values, the extra columns kept) of each good record; a problem added for each bad
        one, and for a record the csv module cannot read, which ends the records."""
        for where_row, order, record in self.records:
            if isinstance(record, csv.Error):
                problems.append(Problem(where_row, order, f"not valid CSV ({record}); the rows after it were not read"))
                break
            if self.csv_text and (None in record or any(value is None for value in record.values())):
                problems.append(Problem(where_row, order, f"expected {len(self.header)} fields"))
                continue
            text = {column: _cell(record[column]) for column in ("study", "annotator", "item")}
            if self.csv_text:
                text = {column: restore(value.strip()) for column, value in text.items()}
            found = [f"{column} is empty" for column, value in text.items() if not value.strip()]
            values, value_problems = self.check(record)
            found += value_problems
            if found:
                problems.append(Problem(where_row, order, "; ".join(found)))
                continue
            yield where_row, order, text, values, {column: _cell(record[column]) for column in self.others}


def _refuse(problems: list[Problem]) -> None:
    """A TidyFileError listing ``problems`` in the file's order, if there are any."""
    if problems:
        raise TidyFileError([str(problem) for problem in sorted(problems, key=lambda problem: problem.order)])


def _read_choices(path: Path, checked: _CheckedRecords) -> TidyRatings:
    """The pairwise judgments of a file, every row checked (``stats.choices``), one frame per analysis unit."""
    problems: list[Problem] = []
    rows: list[tuple[str, choices.Choice]] = []
    for where_row, order, text, values, kept in checked.rows(problems):
        rows.append(
            (text["study"], choices.Choice(where_row, order, text["annotator"], text["item"], extra=kept, **values))
        )
    for study in dict.fromkeys(study for study, _ in rows):
        problems += choices.repeated_choices(choice for own, choice in rows if own == study)
    _refuse(problems)
    if not rows:
        raise TidyFileError([f"{path} holds no judgments"])
    names = units((study, choice.criterion) for study, choice in rows)
    records = [
        {
            "unit": names[(study, choice.criterion)],
            "study": study,
            **{column: getattr(choice, column) for column in choices.COLUMNS if column != "study"},
            **choice.extra,
        }
        for study, choice in rows
    ]
    return TidyRatings(_by_unit(records, [*choices.COLUMNS, *checked.others]), tuple(checked.others))


def _frames(timed: list, extra: list[str]) -> dict[str, pd.DataFrame]:
    """Per analysis unit (``tidy.units``: a study, or a study's criterion when its rows name several), its rows in
    the file's order, with the time of its pair (or screen) on each row."""
    records = []
    names = units((study, row.criterion) for study, row, _ in timed)
    for study, row, seconds in timed:
        record = {
            "unit": names[(study, row.criterion)],
            "study": study,
            "annotator": row.annotator,
            "item": row.item,
            "condition": row.condition,
            "criterion": row.criterion,
            "score": row.score,
            "position": row.position,
            "seconds": seconds,
        }
        records.append((row.order, {**record, **row.extra}))
    records.sort(key=lambda pair: pair[0])
    return _by_unit([record for _, record in records], [*COLUMNS, *extra])


def _by_unit(records: list[dict], columns: list[str]) -> dict[str, pd.DataFrame]:
    """The records (each naming its ``unit``) as one frame per unit, in their order, without the ``unit`` column;
    a score is an integer, seconds a float (NaN when unknown)."""
    frame = pd.DataFrame(records, columns=["unit", *columns])
    if "score" in frame.columns:
        frame["score"] = frame["score"].astype("int64")
    frame["seconds"] = frame["seconds"].astype("float64")
    return {unit: part.drop(columns="unit").reset_index(drop=True) for unit, part in frame.groupby("unit", sort=False)}
