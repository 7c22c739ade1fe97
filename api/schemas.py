"""What the API answers, as OpenAPI documents it."""

from datetime import datetime
from typing import Any, Literal

from ninja import Field, Schema


class Counts(Schema):
    prompts: int
    pairs: int
    annotators: int
    ratings: int


class ConditionOut(Schema):
    """One way the study's images are made: its data key (the tidy ratings' ``condition``), its name in results,
    its kind, and whether the others are compared with it."""

    key: str
    name: str
    kind: str
    reference: bool


class CriterionOut(Schema):
    """A question each image is rated on: its data key (the tidy ratings' ``criterion``), the question annotators
    read, its name in results, its scale (1 to ``scale_points``) and what the scale's ends mean."""

    key: str
    question: str
    label: str
    scale_points: int
    low_anchor: str
    high_anchor: str


class StudyOut(Schema):
    slug: str
    title: str
    status: str
    created_at: datetime
    counts: Counts
    task: str = "rating"  # "rating" (its /ratings) or "pairwise" (its /judgments)
    conditions: list[ConditionOut]
    criteria: list[CriterionOut]


class MonitorCounts(Schema):
    """As the monitoring page counts them: everyone invited or enrolled, how far they got, and the ratings."""

    invited: int
    consented: int
    started: int
    finished: int
    screened_out: int
    ratings: int
    median_seconds: float | None


class AnnotatorProgress(Schema):
    label: str
    state: str = Field(description="invited, consented, rating, finished, released or screened-out")
    state_display: str
    answered: int = Field(description="ratings and attention checks answered")
    total: int = Field(description="pairs in the sequence, attention checks included")
    median_seconds: float | None = Field(description="per rated pair")
    checks_failed: int
    checks_answered: int
    speeder: bool
    straight_liner: bool


class PairProgress(Schema):
    """One pair: its rating assignments (attention checks aside), and its ratings by the side "ours" was shown on."""

    prompt: str
    assigned: int
    ratings: int
    ours_left: int
    ours_right: int


class CheckFailure(Schema):
    label: str
    failed: int
    answered: int


class Quota(Schema):
    rule: str = Field(description="how the target is set")
    target: int
    ratings: int
    remaining: int
    per_minute: float | None = Field(description="ratings a minute over the last 15 minutes")
    eta_seconds: float | None
    eta: str


class Position(Schema):
    """ "Ours" on the left vs the right in the ratings of finished annotators; on a screen of every condition's image,
    each condition's images in each place (``places``, by condition key, place 1 first) and the χ² test's p."""

    finished: int
    ratings: int
    ours_left: int
    p_value: float | None
    warning: str
    places: dict[str, list[int]] = {}


class ProgressOut(Schema):
    """What the monitoring page shows (and its script polls), with the study's slug and status."""

    slug: str
    status: str
    updated_at: datetime
    counts: MonitorCounts
    annotators: list[AnnotatorProgress]
    pairs: list[PairProgress]
    speed_threshold: float = Field(description="a speeder's median seconds per pair is below this")
    speeders: list[str]
    straight_liners: list[str]
    failed_checks: list[CheckFailure]
    quota: Quota
    position: Position


class RatingRow(Schema):
    """One image rating of the tidy ratings (two per rating and criterion), as in the ratings CSV."""

    study: str
    annotator: str
    item: str
    condition: str
    criterion: str
    score: int
    position: str
    seconds: float | None


class JudgmentRow(Schema):
    """One choice of a pairwise study's tidy judgments (one per screen and criterion), as in the judgments CSV."""

    study: str
    annotator: str
    item: str
    criterion: str
    left: str
    right: str
    choice: Literal["left", "right", "tie"]
    seconds: float | None


class Message(Schema):
    detail: str


#: summary.json as ``export_results`` writes it (its keys: docs/results.md).
Summary = dict[str, Any]
