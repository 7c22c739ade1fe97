"""The tidy ratings: one row per image rating on a criterion, two rows per rating of a pair on each criterion. Their
columns with type, units and allowed values (the codebook the exports carry), the checks every reader applies to each
row and to each pair of rows, the pair's time from per-row seconds, and the analysis units the rows fall into (one per
study and criterion).

Each check returns ``Problem``s (where, what) rather than raising, so that a reader can list every bad line of a file
and reject it whole; the readers (the ``import_ratings`` command, ``evalsite-analyze``) say where a row came from.
"""

import math
import numbers
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

COLUMNS = ("study", "annotator", "item", "condition", "criterion", "score", "position", "seconds")
#: Columns a reader does without: a file without ``criterion`` holds ratings on one criterion, unnamed.
OPTIONAL_COLUMNS = ("criterion",)
REQUIRED_COLUMNS = tuple(column for column in COLUMNS if column not in OPTIONAL_COLUMNS)
#: The two conditions of a paired study (the seed's design): its report takes ours − baseline per rating. A study
#: of other conditions (K ≥ 2 keys, e.g. ``plain``, ``entropy``, ``resized``) is analysed by condition instead.
CONDITIONS = ("baseline", "ours")
#: A condition's or criterion's key: a lowercase letter, then lowercase letters, digits or underscores (as the
#: site's keys are).
KEY = re.compile(r"[a-z][a-z0-9_]*")
POSITIONS = ("left", "right")
#: Where an image of a screen of K images stood: its place from the left, 1 to this (a pair's are ``POSITIONS``).
MAX_SLOTS = 16
SLOTS = tuple(str(place) for place in range(1, MAX_SLOTS + 1))
SCORE_MIN, SCORE_MAX = 1, 10

#: What a row's ``seconds`` holds, chosen by the reader's ``--seconds`` flag.
SECONDS_MODES = {
    "pair": "each row carries its pair's time (both rows the same number), as EvalSite writes it",
    "image": "each row carries the time spent on its own image; the pair's time is the sum of its two rows",
}

#: What a reader does with columns beyond ``COLUMNS``, chosen by its ``--extra-columns`` flag.
EXTRA_COLUMN_RULES = {
    "reject": "a file with any other column is refused, naming the columns",
    "keep": "other columns are carried along, unchecked, and written back after the tidy columns",
}


@dataclass(frozen=True)
class Column:
    """One tidy column as the codebook describes it; ``type`` is a JSON Schema type."""

    name: str
    type: str
    description: str
    units: str = ""
    allowed: tuple = ()
    pattern: str = ""  # a regular expression the whole text matches (JSON Schema's ``pattern``)
    minimum: float | None = None
    maximum: float | None = None
    nullable: bool = False


CODEBOOK = (
    Column("study", "string", "The study's slug: the same on every row of a file."),
    Column(
        "annotator",
        "string",
        "Who rated: EvalSite's annotator label (the Prolific id, or a numbered label for invited annotators); "
        "another tool's user id in imported ratings.",
    ),
    Column("item", "string", "The prompt both images of the pair were generated from: the pair's identity."),
    Column(
        "condition",
        "string",
        "Which condition (method) made the image this row scores: baseline and ours in a paired study; a key of the "
        "study's conditions otherwise (a lowercase letter, then lowercase letters, digits or _).",
        pattern=rf"^{KEY.pattern}$",
    ),
    Column(
        "criterion",
        "string",
        "What the image was rated on: the key of the study's criterion (e.g. consistency, quality); empty, or the "
        "column left out, for a file of one criterion.",
        pattern=rf"^({KEY.pattern})?$",
        nullable=True,
    ),
    Column(
        "score",
        "integer",
        "The annotator's rating of this image.",
        units="points on a 1–10 scale",
        minimum=SCORE_MIN,
        maximum=SCORE_MAX,
    ),
    Column(
        "position",
        "string",
        "Where this image was shown: left or right in a pair (the pair's other row has the other); its place from "
        f"the left, 1 to {MAX_SLOTS}, on a screen of more images.",
        allowed=POSITIONS + SLOTS,
    ),
    Column(
        "seconds",
        "number",
        "Time the annotator spent on the pair, from showing it to the answer (both rows carry the same number); "
        "empty when unknown.",
        units="seconds",
        minimum=0,
        nullable=True,
    ),
)


@dataclass(frozen=True)
class Problem:
    """What is wrong, and where: ``where`` as it is shown (``line 4``); ``order`` sorts the problems of a file."""

    where: str
    order: tuple
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass(frozen=True)
class TidyRow:
    """One checked row; ``where`` and ``order`` say where it came from (see ``Problem``)."""

    where: str
    order: tuple
    annotator: str
    item: str
    condition: str
    score: int
    position: str
    seconds: float | None
    extra: Mapping[str, object] = field(default_factory=dict)
    criterion: str = ""


@dataclass(frozen=True)
class PairedRating:
    """Both rows of one annotator's rating of one item; ``seconds`` is the pair's time (None when unknown)."""

    where: str
    order: tuple
    annotator: str
    item: str
    baseline_score: int
    ours_score: int
    ours_on_left: bool
    seconds: float | None
    baseline: TidyRow
    ours: TidyRow


def _text(value: object) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def checked_key(row: Mapping[str, object], name: str, *, optional: bool = False) -> tuple[str, list[str]]:
    """Column ``name``'s text, a condition's or criterion's key (``KEY``; empty allowed when ``optional``), and the
    problem if it is not one."""
    value = _text(row.get(name)).strip()
    if (value or not optional) and not KEY.fullmatch(value):
        return value, [
            f"{name} {row.get(name)!r} is not a key (a lowercase letter, then lowercase letters, digits or _)"
        ]
    return value, []


def checked_seconds(row: Mapping[str, object]) -> tuple[float | None, list[str]]:
    """The row's ``seconds``: None when empty, else a non-negative number, or the problem with it."""
    raw = row.get("seconds")
    if not _text(raw).strip():
        return None, []
    try:
        seconds = float(raw)
    except (TypeError, ValueError):
        return None, [f"seconds {raw!r} is not a number"]
    if not math.isfinite(seconds) or seconds < 0:
        return None, [f"seconds {raw!r} must be a non-negative number"]
    return seconds, []


def check_values(row: Mapping[str, object]) -> tuple[dict | None, list[str]]:
    """The row's condition, criterion (empty when the row has none), position, score and seconds checked and parsed
    (``None`` and the problems if any is bad); text as in a CSV cell, or the values a Parquet file holds."""
    position = _text(row["position"]).strip()
    criterion, problems = checked_key(row, "criterion", optional=True)
    condition, found = checked_key(row, "condition")
    problems += found
    if position not in POSITIONS and position not in SLOTS:
        problems.append(f"position {row['position']!r} is not left, right or a place from 1 to {MAX_SLOTS}")
    score = None
    raw_score = row["score"]
    if isinstance(raw_score, bool) or (isinstance(raw_score, float) and not raw_score.is_integer()):
        problems.append(f"score {raw_score!r} is not a whole number")
    else:
        try:
            numeric = isinstance(raw_score, numbers.Real)
            score = int(raw_score) if numeric else int(_text(raw_score).strip())
        except (ValueError, OverflowError):
            problems.append(f"score {raw_score!r} is not a whole number")
        else:
            if not SCORE_MIN <= score <= SCORE_MAX:
                problems.append(f"score {score} is outside {SCORE_MIN}–{SCORE_MAX}")
    seconds, found = checked_seconds(row)
    problems += found
    if problems:
        return None, problems
    return {
        "condition": condition,
        "criterion": criterion,
        "position": position,
        "score": score,
        "seconds": seconds,
    }, []


def _pair_seconds(base: TidyRow, ours: TidyRow, mode: str) -> tuple[float | None, str | None]:
    """The pair's time under ``mode``, or the reason the two rows' seconds cannot be read as one."""
    if mode == "image":
        if (base.seconds is None) != (ours.seconds is None):
            return None, f"seconds are given on one row of the pair only (baseline on {base.where})"
        return (None if base.seconds is None else base.seconds + ours.seconds), None
    if base.seconds != ours.seconds:
        return None, (
            f"seconds differ from the baseline row on {base.where} ({_text(base.seconds) or 'empty'} and "
            f"{_text(ours.seconds) or 'empty'}); if each row times its own image, read the file with --seconds image"
        )
    return ours.seconds, None


def unit_name(study: str, criterion: str, *, several: bool) -> str:
    """What the analysis calls a study's ratings on a criterion: the study's slug when it has one criterion (or its
    rows name none), else ``<slug>.<criterion>`` (a slug holds no dot)."""
    return f"{study}.{criterion}" if several and criterion else study


def study_of(unit: str) -> str:
    """The study an analysis unit's ratings come from (``unit_name``'s slug)."""
    return unit.partition(".")[0]


def criterion_of(unit: str) -> str:
    """The criterion an analysis unit's ratings are on; empty for a study analysed whole (one criterion)."""
    return unit.partition(".")[2]


def units(keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """Each (study, criterion) of ``keys``, in their order, and its ``unit_name``: a study whose rows name several
    criteria is analysed per criterion."""
    keys = list(dict.fromkeys(keys))
    counts: dict[str, int] = {}
    for study, _ in keys:
        counts[study] = counts.get(study, 0) + 1
    return {(study, criterion): unit_name(study, criterion, several=counts[study] > 1) for study, criterion in keys}


def is_paired(conditions: Iterable[str]) -> bool:
    """Whether rows of these conditions are a paired study's (baseline and ours, ``pair_rows``), not one of other
    conditions (``screen_rows``)."""
    return set(conditions) <= set(CONDITIONS)


@dataclass(frozen=True)
class ScreenRow:
    """A checked row of a study of conditions other than the paired two, with its screen's time (``screen_rows``)."""

    row: TidyRow
    seconds: float | None


def screen_rows(rows: Iterable[TidyRow], *, seconds: str = "pair") -> tuple[list[ScreenRow], list[Problem]]:
    """The rows of one criterion of a study of K conditions, each with its screen's time (an annotator's rows of one
    item are one screen): a second row of a condition on a screen, two images at one position, and seconds that
    do not fit ``seconds`` (``SECONDS_MODES``: each row the screen's time, or each its own image's) are problems.
    A screen need not hold every condition (a missing score is left out of the analysis)."""
    if seconds not in SECONDS_MODES:
        raise ValueError(f"Unknown seconds mode {seconds!r}; choose from {', '.join(SECONDS_MODES)}.")
    problems: list[Problem] = []
    screens: dict[tuple[str, str], list[TidyRow]] = {}
    for row in rows:
        screen = screens.setdefault((row.annotator, row.item), [])
        same = next((other for other in screen if other.condition == row.condition), None)
        place = next((other for other in screen if other.position == row.position), None)
        if same is not None:
            message = f"a second {row.condition} score by {row.annotator!r} for this item (first on {same.where})"
            problems.append(Problem(row.where, row.order, message))
        elif place is not None:
            message = f"{row.condition} and {place.condition} ({place.where}) were both shown at {row.position}"
            problems.append(Problem(row.where, row.order, message))
        else:
            screen.append(row)
    checked = []
    for screen in screens.values():
        times = [row.seconds for row in screen]
        if seconds == "image":
            if len({time is None for time in times}) > 1:
                problems.append(
                    Problem(screen[0].where, screen[0].order, "seconds are given on some rows of the screen only")
                )
                continue
            time = None if times[0] is None else sum(times)
        elif len(set(times)) > 1:
            message = (
                f"seconds differ between the rows of one screen ({', '.join(_text(t) or 'empty' for t in times)}); if "
                "each row times its own image, read the file with --seconds image"
            )
            problems.append(Problem(screen[-1].where, screen[-1].order, message))
            continue
        else:
            time = times[0]
        checked += [ScreenRow(row, time) for row in screen]
    checked.sort(key=lambda item: item.row.order)
    return checked, sorted(problems, key=lambda problem: problem.order)


def pair_rows(rows: Iterable[TidyRow], *, seconds: str = "pair") -> tuple[list[PairedRating], list[Problem]]:
    """Each (annotator, item)'s baseline and ours rows joined into one rating, in the order of their first row;
    a second row of a condition, a lone row, both rows on one side and seconds that do not fit ``seconds``
    (``SECONDS_MODES``) are problems. The rows are one criterion's (the readers pair each criterion's apart)."""
    if seconds not in SECONDS_MODES:
        raise ValueError(f"Unknown seconds mode {seconds!r}; choose from {', '.join(SECONDS_MODES)}.")
    problems: list[Problem] = []
    halves: dict[tuple[str, str], dict[str, TidyRow]] = {}
    for row in rows:
        conditions = halves.setdefault((row.annotator, row.item), {})
        if row.condition in conditions:
            first = conditions[row.condition]
            problems.append(
                Problem(
                    row.where,
                    row.order,
                    f"a second {row.condition} score by {row.annotator!r} for this item (first on {first.where})",
                )
            )
            continue
        conditions[row.condition] = row
    ratings = []
    for (annotator, item), conditions in halves.items():
        if set(conditions) != set(CONDITIONS):
            (only,) = conditions.values()
            other = "ours" if only.condition == "baseline" else "baseline"
            problems.append(Problem(only.where, only.order, f"{annotator!r} has no {other} score for this item"))
            continue
        base, ours = conditions["baseline"], conditions["ours"]
        if base.position == ours.position:
            problems.append(
                Problem(ours.where, ours.order, f"baseline ({base.where}) and ours are both on the {ours.position}")
            )
            continue
        pair_time, reason = _pair_seconds(base, ours, seconds)
        if reason:
            problems.append(Problem(ours.where, ours.order, reason))
            continue
        first = min(base, ours, key=lambda row: row.order)
        ratings.append(
            PairedRating(
                where=first.where,
                order=first.order,
                annotator=annotator,
                item=item,
                baseline_score=base.score,
                ours_score=ours.score,
                ours_on_left=ours.position == "left",
                seconds=pair_time,
                baseline=base,
                ours=ours,
            )
        )
    return sorted(ratings, key=lambda rating: rating.order), sorted(problems, key=lambda problem: problem.order)
