"""``manage.py plan_study``: a power plan from a pilot study's variance components, its arguments checked first."""

import math

from django.core.exceptions import ValidationError

from .selectors import attention_table, find_studies, ratings_frame, rules_from, settings_for
from .stats.judgments import paired_judgments
from .stats.power import Components, PowerPlan, plan
from .stats.quality import apply_exclusions
from .stats.report import mixed_model


def check_plan_arguments(
    *,
    effect: float,
    annotators: int | None,
    items: int | None,
    alpha: float,
    target: float,
    max_annotators: int,
    max_items: int,
) -> None:
    """Refuse ``plan_study`` arguments out of range, naming the flag (NaN fails every check)."""
    if not math.isfinite(effect):
        raise ValidationError(f"--effect must be a finite number of score points; got {effect}.")
    if not 0 < alpha < 1:
        raise ValidationError(f"--alpha must be between 0 and 1 (exclusive); got {alpha}.")
    if not 0 < target < 1:
        raise ValidationError(f"--power must be between 0 and 1 (exclusive); got {target}.")
    for flag, value in (
        ("--annotators", annotators),
        ("--items", items),
        ("--max-annotators", max_annotators),
        ("--max-items", max_items),
    ):
        if value is not None and value < 2:
            raise ValidationError(f"{flag} must be at least 2; got {value}.")


def plan_from_pilot(
    *,
    slug: str,
    effect: float,
    annotators: int | None = None,
    items: int | None = None,
    alpha: float = 0.05,
    target: float = 0.8,
    max_annotators: int = 1000,
    max_items: int = 1000,
) -> tuple[PowerPlan, dict]:
    """A power plan from a pilot study's variance components (its exclusion rules applied by default).

    ``annotators`` and ``items`` None take the pilot's. Arguments out of range are refused, each error naming the
    ``plan_study`` flag, before the pilot is read.
    """
    check_plan_arguments(
        effect=effect,
        annotators=annotators,
        items=items,
        alpha=alpha,
        target=target,
        max_annotators=max_annotators,
        max_items=max_items,
    )
    (study,) = find_studies([slug])
    frame = ratings_frame(study=study)
    if frame.empty:
        raise ValidationError(f"Study {slug!r} has no ratings.")
    settings = settings_for(study)
    try:
        judgments = paired_judgments(frame)
        judgments, _, _ = apply_exclusions(
            judgments,
            rules=rules_from(settings),
            attention=attention_table(study),
            apply=settings.apply_exclusions_by_default,
        )
        model = mixed_model(judgments)
    except ValueError as exc:
        raise ValidationError(f"Study {slug!r}: {exc}") from exc
    variance = model.variance
    components = Components(variance["annotator"], variance["item"], variance["residual"])
    try:
        result = plan(
            effect=effect,
            components=components,
            annotators=judgments.n_annotators if annotators is None else annotators,
            items=judgments.n_items if items is None else items,
            alpha=alpha,
            target=target,
            max_annotators=max_annotators,
            max_items=max_items,
        )
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc
    return result, {
        "pilot_annotators": judgments.n_annotators,
        "pilot_items": judgments.n_items,
        "pilot_estimate": model.effect.estimate,
        "model": model.model,
    }
