"""The tidy pairwise judgments: one row per choice between two images (a pairwise-preference study, GenAI-Arena's and
HEIM's kind). Their columns with type and allowed values (the codebook the exports carry) and the checks every reader
applies to each row and to a study's rows together; ``pairwise.pairwise_study`` analyses them.

Each check returns ``Problem``s (where, what) rather than raising, as ``tidy``'s do, so that a reader lists every
bad line of a file and rejects it whole.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .pairwise import CHOICES
from .tidy import KEY, Column, Problem, _text, checked_key, checked_seconds

COLUMNS = ("study", "annotator", "item", "criterion", "left", "right", "choice", "seconds")
REQUIRED_COLUMNS = tuple(column for column in COLUMNS if column != "criterion")

CODEBOOK = (
    Column("study", "string", "The study's slug: the same on every row of a file."),
    Column("annotator", "string", "Who chose: EvalSite's annotator label, or another tool's user id."),
    Column("item", "string", "The prompt both images were generated from."),
    Column(
        "criterion",
        "string",
        "What the choice was on (the key of the study's criterion); empty, or the column left out, for one.",
        pattern=rf"^({KEY.pattern})?$",
        nullable=True,
    ),
    Column("left", "string", "The condition whose image was shown on the left.", pattern=rf"^{KEY.pattern}$"),
    Column("right", "string", "The condition whose image was shown on the right.", pattern=rf"^{KEY.pattern}$"),
    Column(
        "choice", "string", "The image the annotator preferred, or a tie when the study allows one.", allowed=CHOICES
    ),
    Column(
        "seconds",
        "number",
        "Time the annotator spent on the screen, from showing it to the answer; empty when unknown.",
        units="seconds",
        minimum=0,
        nullable=True,
    ),
)


@dataclass(frozen=True)
class Choice:
    """One checked judgment; ``where`` and ``order`` say where it came from (see ``tidy.Problem``)."""

    where: str
    order: tuple
    annotator: str
    item: str
    criterion: str
    left: str
    right: str
    choice: str
    seconds: float | None
    extra: Mapping[str, object] = field(default_factory=dict)


def check_choice(row: Mapping[str, object]) -> tuple[dict | None, list[str]]:
    """The row's criterion, conditions, choice and seconds checked and parsed (``None`` and the problems if any is
    bad); text as in a CSV cell, or the values a Parquet file holds."""
    criterion, problems = checked_key(row, "criterion", optional=True)
    left, found = checked_key(row, "left")
    problems += found
    right, found = checked_key(row, "right")
    problems += found
    if left and left == right:
        problems.append(f"left and right are both {left!r}: a choice is between two conditions")
    choice = _text(row.get("choice")).strip()
    if choice not in CHOICES:
        problems.append(f"choice {row['choice']!r} is not one of {', '.join(CHOICES)}")
    seconds, found = checked_seconds(row)
    problems += found
    if problems:
        return None, problems
    return {"criterion": criterion, "left": left, "right": right, "choice": choice, "seconds": seconds}, []


def repeated_choices(choices: Iterable[Choice]) -> list[Problem]:
    """A second judgment of one pair of conditions on one item by one annotator, on one criterion (either order)."""
    seen: dict[tuple, Choice] = {}
    problems = []
    for choice in choices:
        key = (choice.annotator, choice.item, choice.criterion, frozenset((choice.left, choice.right)))
        if key in seen:
            first = seen[key]
            message = (
                f"a second choice between {choice.left} and {choice.right} by {choice.annotator!r} for this item "
                f"(first on {first.where})"
            )
            problems.append(Problem(choice.where, choice.order, message))
        else:
            seen[key] = choice
    return problems
