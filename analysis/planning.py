"""``manage.py plan_study``: a power plan from a pilot study's variance components (the difference model), or by
simulation for a K-condition rating design (``plan_conditions``) or a pairwise design (``plan_pairwise``); the
arguments checked first, each error naming its flag."""

import math

import numpy as np
import pandas as pd
from django.core.exceptions import ValidationError

from .selectors import attention_table, find_studies, ratings_frame, rules_from, settings_for
from .stats.condition_power import ConditionPowerPlan, condition_power
from .stats.condition_power import pilot_assumptions as condition_assumptions
from .stats.judgments import CONDITIONS, Judgments, paired_judgments
from .stats.pairwise_power import PairwisePowerPlan, pairwise_power
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


def pilot_judgments(slug: str) -> Judgments:
    """A pilot study's paired judgments, its exclusion rules applied as its analysis applies them by default; a
    study with no ratings, or ratings that cannot be paired, is refused naming the study."""
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
    except ValueError as exc:
        raise ValidationError(f"Study {slug!r}: {exc}") from exc
    return judgments


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
    judgments = pilot_judgments(slug)
    try:
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


#: The ``plan_study`` flag of each argument of ``condition_power`` and ``pairwise_power`` (errors name the flag).
FLAGS = {
    "means": "--means",
    "strengths": "--strengths",
    "annotator_sd": "--sd-annotator",
    "item_sd": "--sd-item",
    "residual_sd": "--sd-residual",
    "annotators": "--annotators",
    "items": "--items",
    "prompts": "--items",
    "items_per_annotator": "--items-per-annotator",
    "pairs_per_annotator": "--pairs-per-annotator",
    "tie_rate": "--tie-rate",
    "contrast": "--contrast",
    "alpha": "--alpha",
    "target": "--power",
    "adjustment": "--adjust",
    "simulations": "--simulations",
    "slope_sd_annotator": "--slope-sd-annotator",
    "slope_sd_item": "--slope-sd-item",
    "analysis": "--analysis",
}


def _flagged(exc: ValueError) -> ValidationError:
    """The stats module's error with its leading argument name written as the ``plan_study`` flag."""
    message = str(exc)
    head, _, rest = message.partition(" ")
    name = head.rstrip(":")
    if name in FLAGS:
        return ValidationError(f"{FLAGS[name]}{head[len(name) :]} {rest}")
    return ValidationError(message)


def parse_values(text: str, *, flag: str) -> dict[str, float]:
    """``NAME=VALUE,NAME=VALUE,…`` (or bare values, named c1, c2, …) as an ordered mapping; refused naming ``flag``."""
    parts = [part.strip() for part in text.split(",")]
    if len(parts) < 2 or any(not part for part in parts):
        raise ValidationError(
            f"{flag} must list at least two comma-separated values (NAME=VALUE or VALUE); got {text!r}."
        )
    named = ["=" in part for part in parts]
    if any(named) and not all(named):
        raise ValidationError(f"{flag} must name every value (NAME=VALUE) or none; got {text!r}.")
    values: dict[str, float] = {}
    for k, part in enumerate(parts, start=1):
        name, value = [s.strip() for s in part.split("=", 1)] if "=" in part else (f"c{k}", part)
        try:
            number = float(value)
        except ValueError:
            raise ValidationError(f"{flag}: {value!r} is not a number.") from None
        if not name or name in values:
            raise ValidationError(f"{flag}: each condition needs a name of its own; got {name!r} twice or empty.")
        if not math.isfinite(number):
            raise ValidationError(f"{flag}: the value of {name!r} must be a finite number; got {value}.")
        values[name] = number
    return values


def parse_contrast(text: str | None) -> tuple[str, str] | None:
    """``A,B`` (A − B) as a pair of condition names; refused naming ``--contrast``."""
    if text is None:
        return None
    parts = [part.strip() for part in text.split(",")]
    if len(parts) != 2 or not all(parts):
        raise ValidationError(f"--contrast must name two conditions as A,B; got {text!r}.")
    return parts[0], parts[1]


def _needed(value, flag: str, design: str, pilot: bool = False):
    if value is None:
        source = " (or give --pilot)" if pilot else ""
        raise ValidationError(f"{flag} is needed with --design {design}{source}.")
    return value


def pilot_as_conditions(slug: str) -> tuple[dict, dict]:
    """A pilot study read as a two-condition rating study (baseline the reference, its exclusion rules applied as
    for the difference model): ``condition_power``'s assumptions, and its counts."""
    judgments = pilot_judgments(slug)
    try:
        n = judgments.n
        tidy = pd.DataFrame(
            {
                "annotator": np.concatenate([judgments.annotator, judgments.annotator]),
                "item": np.concatenate([judgments.item, judgments.item]),
                "condition": pd.Categorical.from_codes(np.repeat([0, 1], n), categories=list(CONDITIONS)),
                "score": np.concatenate([judgments.baseline, judgments.ours]).astype(float),
            }
        )
        assumed = condition_assumptions(tidy, reference=CONDITIONS[0])
    except ValueError as exc:
        raise ValidationError(f"Study {slug!r}: {exc}") from exc
    return assumed, {"pilot_annotators": judgments.n_annotators, "pilot_items": judgments.n_items}


def plan_conditions(
    *,
    slug: str | None = None,
    means: str | None = None,
    annotator_sd: float | None = None,
    item_sd: float | None = None,
    residual_sd: float | None = None,
    annotators: list[int] | None = None,
    items: list[int] | None = None,
    items_per_annotator: int | None = None,
    contrast: str | None = None,
    alpha: float = 0.05,
    target: float = 0.8,
    adjustment: str = "holm",
    simulations: int = 200,
    seed: int = 0,
    slope_sd_annotator: float = 0.0,
    slope_sd_item: float = 0.0,
    analysis: str = "intercepts",
) -> tuple[ConditionPowerPlan, dict]:
    """``plan_study --design conditions``: the simulated power of a K-condition rating design. The means
    (``NAME=VALUE,…``, the first the reference) and SDs are stated, or taken from the pilot ``slug`` (read as two
    conditions, baseline and ours), stated ones over the pilot's; the grid's counts default to the pilot's. Bad
    arguments are refused with a ValidationError naming the flag."""
    stated = parse_values(means, flag="--means") if means is not None else None
    pair = parse_contrast(contrast)
    info: dict = {}
    assumed: dict = {}
    if slug is not None:
        assumed, info = pilot_as_conditions(slug)
        info["pilot_means"] = assumed["means"]
    pilot = slug is not None
    design = "conditions"
    try:
        result = condition_power(
            means=stated if stated is not None else _needed(assumed.get("means"), "--means", design, True),
            annotator_sd=_needed(_first(annotator_sd, assumed.get("annotator_sd")), "--sd-annotator", design, True),
            item_sd=_needed(_first(item_sd, assumed.get("item_sd")), "--sd-item", design, True),
            residual_sd=_needed(_first(residual_sd, assumed.get("residual_sd")), "--sd-residual", design, True),
            annotators=_needed(_first(annotators, info.get("pilot_annotators")), "--annotators", design, pilot),
            items=_needed(_first(items, info.get("pilot_items")), "--items", design, pilot),
            items_per_annotator=items_per_annotator,
            contrast=pair,
            alpha=alpha,
            target=target,
            adjustment=adjustment,
            simulations=simulations,
            seed=seed,
            slope_sd_annotator=slope_sd_annotator,
            slope_sd_item=slope_sd_item,
            analysis=analysis,
        )
    except ValueError as exc:
        raise _flagged(exc) from exc
    return result, info


def _first(value, fallback):
    """The stated value, else the pilot's (a count as a one-design grid)."""
    if value is not None:
        return value
    return [fallback] if isinstance(fallback, int) else fallback


def plan_pairwise(
    *,
    strengths: str | None,
    annotators: list[int] | None,
    items: list[int] | None,
    pairs_per_annotator: int | None,
    tie_rate: float = 0.0,
    annotator_sd: float = 0.0,
    item_sd: float = 0.0,
    contrast: str | None = None,
    alpha: float = 0.05,
    target: float = 0.8,
    adjustment: str = "holm",
    simulations: int = 200,
    seed: int = 0,
) -> PairwisePowerPlan:
    """``plan_study --design pairwise``: ``pairwise_power`` from the flags (``--strengths NAME=LOG,…``; prompts are
    ``--items``; ``--adjust none`` for the pair's own p). Bad arguments are refused naming the flag."""
    design = "pairwise"
    values = parse_values(_needed(strengths, "--strengths", design), flag="--strengths")
    try:
        return pairwise_power(
            strengths=values,
            pairs_per_annotator=_needed(pairs_per_annotator, "--pairs-per-annotator", design),
            annotators=_needed(annotators, "--annotators", design),
            prompts=_needed(items, "--items", design),
            seed=seed,
            contrast=parse_contrast(contrast),
            tie_rate=tie_rate,
            annotator_sd=annotator_sd,
            item_sd=item_sd,
            alpha=alpha,
            target=target,
            adjustment=None if adjustment == "none" else adjustment,
            simulations=simulations,
        )
    except ValueError as exc:
        raise _flagged(exc) from exc
