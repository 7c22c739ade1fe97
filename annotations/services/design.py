"""A study's design: its conditions (how its images are made, named only in results) and its criteria (what each
image is rated on, and how the scale's ends read).

Every study starts with the seed's design (``add_seed_design``) or another preset: the seed's two conditions, the
plain model (the reference, whose data key is ``baseline``) and the entropy-scaled one (``ours``), made together by
one pair job per prompt, and one criterion scored from 1 to 10 (or 1–5, 1–7). Until a study generates, conditions
may be added (``add_condition``: the model at its training size resized, or images imported from elsewhere) and
removed (``remove_condition``); a study of more than the seed's two shows each prompt's image of every condition on
one screen. Names and texts may change as a study runs (``check_condition``,
``check_criterion``): a name is only what results call a condition; what annotators see is fixed once one has
consented. Until then criteria may be added (``add_criterion``: each image is then scored on each) and removed
(``remove_criterion``), down to one.
"""

from collections.abc import Collection
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max

from evalsite.text_rules import describe_bad_characters
from generation.validation import full_clean_named

from .. import selectors
from ..models import (
    DEFAULT_QUESTION,
    GENERATED_KINDS,
    MAX_CONDITIONS,
    SEED_CONDITIONS,
    SEED_CRITERION,
    Condition,
    ConditionKind,
    Criterion,
    Rating,
    Study,
    StudyTask,
)

#: A condition's and a criterion's texts that people type: none may hold several lines (``evalsite.text_rules``).
CONDITION_TEXTS = ("name",)
CRITERION_TEXTS = ("question", "label", "low_anchor", "high_anchor")
#: What annotators see of a criterion: fixed once an annotator has consented, since the protocol must report it.
SEEN_CRITERION_FIELDS = ("question", "scale_points", "low_anchor", "high_anchor")
#: What a study's criterion holds besides its place and key, as copies and the admin take it.
CRITERION_FIELDS = ("question", "scale_points", "low_anchor", "high_anchor", "label")


def _text_errors(instance: Condition | Criterion, names: Collection[str]) -> dict[str, str]:
    """The refused characters of ``instance``'s texts ``names``, as a message per field."""
    errors = {}
    for name in names:
        label = str(type(instance)._meta.get_field(name).verbose_name)
        value = getattr(instance, name) or ""
        if problem := describe_bad_characters(value, of=f"the {label}"):
            errors[name] = f"{label[0].upper()}{label[1:]}: {problem}."
    return errors


def check_condition(*, condition: Condition, changed: Collection[str] | None = None) -> None:
    """Refuse a condition name with characters ``evalsite.text_rules`` forbids (only when it changes, on an edit:
    ``changed`` as a form's ``changed_data``)."""
    names = CONDITION_TEXTS if changed is None else [name for name in CONDITION_TEXTS if name in changed]
    if errors := _text_errors(condition, names):
        raise ValidationError(errors)


def check_criterion(*, criterion: Criterion, changed: Collection[str] | None = None) -> None:
    """Refuse a criterion's texts with characters ``evalsite.text_rules`` forbids, and a change to what annotators
    see of it (question, scale, anchors) once an annotator has consented (pilot runs lock nothing). ``changed``: the
    fields that change, as a form's ``changed_data``; None for a new criterion."""
    seen = [name for name in SEEN_CRITERION_FIELDS if changed is not None and name in changed]
    if seen and criterion.pk is not None:
        consented = selectors.consented_count(study_id=criterion.study_id)
        if consented:
            slug = Study.objects.values_list("slug", flat=True).get(pk=criterion.study_id)
            fields = ", ".join(str(Criterion._meta.get_field(name).verbose_name) for name in seen)
            who = f"{consented} annotator{' has' if consented == 1 else 's have'} consented"
            raise ValidationError(
                f"Study {slug!r}: the criterion's {fields} can no longer change: {who} after reading them, and "
                "the protocol must report what annotators saw. Create a new study for other texts."
            )
    names = CRITERION_TEXTS if changed is None else [name for name in CRITERION_TEXTS if name in changed]
    if errors := _text_errors(criterion, names):
        raise ValidationError(errors)


def refuse_once_consented(study_id: int, what: str) -> None:
    """Refuse ``what`` (a change to the criteria annotators are asked) once an annotator has consented."""
    if consented := selectors.consented_count(study_id=study_id):
        slug = Study.objects.values_list("slug", flat=True).get(pk=study_id)
        who = f"{consented} annotator{' has' if consented == 1 else 's have'} consented"
        raise ValidationError(
            f"Study {slug!r}: {what} no longer: {who} after reading the criteria, and the protocol must report what "
            "annotators were asked. Create a new study for other criteria."
        )


@transaction.atomic
def add_criterion(*, criterion: Criterion) -> Criterion:
    """Save a new criterion (its study, key and texts set) after the study's others: every image is then scored on
    it too. Refused once an annotator has consented, and for a key the study has or texts ``check_criterion``
    refuses; nothing is written then."""
    Study.objects.select_for_update().filter(pk=criterion.study_id).first()  # one addition at a time per study
    top = Criterion.objects.filter(study_id=criterion.study_id).aggregate(top=Max("position"))["top"]
    criterion.position = 0 if top is None else top + 1
    check_new_criterion(criterion=criterion)
    full_clean_named(criterion)
    criterion.save()
    return criterion


def check_new_criterion(*, criterion: Criterion) -> None:
    """What ``add_criterion`` refuses: any addition once an annotator has consented, a key the study has, and texts
    ``check_criterion`` refuses."""
    refuse_once_consented(criterion.study_id, "criteria can be added")
    if Criterion.objects.filter(study_id=criterion.study_id, key=criterion.key).exists():
        raise ValidationError({"key": f"The study has a criterion {criterion.key!r} already; choose another key."})
    check_criterion(criterion=criterion)


def check_removable(*, criterion: Criterion) -> None:
    """What ``remove_criterion`` refuses: see there."""
    slug = Study.objects.values_list("slug", flat=True).get(pk=criterion.study_id)
    refuse_once_consented(criterion.study_id, "criteria can be removed")
    if not Criterion.objects.filter(study_id=criterion.study_id).exclude(pk=criterion.pk).exists():
        raise ValidationError(f"Study {slug!r}: {criterion.label!r} is its only criterion; a study needs one.")
    if Rating.objects.filter(criterion=criterion, assignment__annotator__is_pilot=False).exists():
        raise ValidationError(f"Study {slug!r}: {criterion.label!r} holds ratings; they are kept with it.")


@transaction.atomic
def remove_criterion(*, criterion: Criterion) -> None:
    """Remove a criterion, with the pilot runs' scores on it, and close the gap in the positions. Refused for a
    study's only criterion, once an annotator has consented, and while it holds ratings other than pilot runs'
    (imported ones)."""
    study = Study.objects.select_for_update().get(pk=criterion.study_id)
    check_removable(criterion=criterion)
    Rating.objects.filter(criterion=criterion).delete()  # pilot runs' scores only
    criterion.delete()
    for position, pk in enumerate(Criterion.objects.filter(study=study).values_list("pk", flat=True)):
        Criterion.objects.filter(pk=pk).update(position=position)  # ascending: never onto a taken position


#: Criteria a new study may ask besides the seed's question: the failures the seed's paper describes at sizes a model
#: was not trained at (poor visual quality; objects missing or repeated).
QUALITY_CRITERION = {
    "key": "quality",
    "question": "How good is the image's visual quality (sharpness, artefacts, composition)?",
    "label": "Visual quality",
    "scale_points": 7,
    "low_anchor": "very poor",
    "high_anchor": "excellent",
}
OBJECTS_CRITERION = {
    "key": "objects",
    "question": "Does the image show each object the text names, once, with nothing missing or repeated?",
    "label": "Objects",
    "scale_points": 5,
    "low_anchor": "missing or repeated",
    "high_anchor": "each there, once",
}
#: The condition the practitioners' baseline gives: the model at its training size, the image resized to the study's.
RESIZED_CONDITION = ("resized", "Resized from the training size", ConditionKind.RESIZED, False)


@dataclass(frozen=True)
class DesignPreset:
    """A design the add page offers: what it is called, its conditions (key, name, kind, reference) and the criteria
    after the seed's question."""

    label: str
    conditions: tuple[tuple[str, str, str, bool], ...] = SEED_CONDITIONS
    criteria: tuple[dict, ...] = ()
    task: str = StudyTask.RATING
    #: The first criterion's question, in place of the seed's when the add page's question is left as it is.
    question: str = ""


#: A pairwise study's question: a choice, not a score.
PAIRWISE_QUESTION = "Which image matches the text better?"
#: A pairwise study's texts, in place of the rating study's defaults (which speak of scores) when left as they are.
PAIRWISE_TEXTS = {
    "consent_text": (
        "You will see pairs of images generated from a text. Choose the image that matches the text better. Your "
        "choices are stored with a random identifier and used only for research."
    ),
    "instructions": (
        "Read the text, look at both images, and choose the one that matches the text better, or “Equally good” "
        "when neither does. Keys: 1 chooses Image A, 2 Image B, 0 equally good; Enter submits."
    ),
}


#: The designs the add page offers, by key.
DESIGN_PRESETS = {
    "seed": DesignPreset("Baseline vs ours, 1–10 consistency (the seed's study)"),
    "quality": DesignPreset("Baseline vs ours: consistency 1–10 and visual quality 1–7", criteria=(QUALITY_CRITERION,)),
    "failures": DesignPreset(
        "Baseline vs ours: consistency 1–10, visual quality 1–7 and missing or repeated objects 1–5",
        criteria=(QUALITY_CRITERION, OBJECTS_CRITERION),
    ),
    "resized": DesignPreset(
        "Baseline, ours and resized from the training size: consistency 1–10",
        conditions=(*SEED_CONDITIONS, RESIZED_CONDITION),
    ),
    "resized_quality": DesignPreset(
        "Baseline, ours and resized from the training size: consistency 1–10 and visual quality 1–7",
        conditions=(*SEED_CONDITIONS, RESIZED_CONDITION),
        criteria=(QUALITY_CRITERION,),
    ),
    "pairwise": DesignPreset(
        "Pairwise: baseline, ours and resized, two at a time: which matches the text better (ties allowed)",
        conditions=(*SEED_CONDITIONS, RESIZED_CONDITION),
        task=StudyTask.PAIRWISE,
        question=PAIRWISE_QUESTION,
    ),
}


@transaction.atomic
def add_seed_design(*, study: Study, question: str = DEFAULT_QUESTION, preset: str = "seed") -> None:
    """Give a new study the conditions of ``preset`` (``DESIGN_PRESETS``: the seed's two by default) and the seed's
    criterion, asking ``question``, then the preset's further criteria; nothing is written if the question is
    refused (``check_criterion``, or its field's own checks) or the preset is unknown."""
    if preset not in DESIGN_PRESETS:
        raise ValidationError(f"Unknown design {preset!r}; choose from {', '.join(DESIGN_PRESETS)}.")
    chosen = DESIGN_PRESETS[preset]
    if chosen.question and question == DEFAULT_QUESTION:
        question = chosen.question
    criterion = Criterion(study=study, position=0, **{**SEED_CRITERION, "question": question})
    full_clean_named(criterion)
    check_criterion(criterion=criterion)
    Condition.objects.bulk_create(
        Condition(study=study, position=position, key=key, name=name, kind=kind, is_reference=reference)
        for position, (key, name, kind, reference) in enumerate(chosen.conditions)
    )
    criterion.save()
    for position, values in enumerate(chosen.criteria, start=1):
        Criterion.objects.create(study=study, position=position, **values)
    if study.task != chosen.task:
        changes = {"task": chosen.task}
        if chosen.task == StudyTask.PAIRWISE:  # the rating study's texts speak of scores
            for name, text in PAIRWISE_TEXTS.items():
                if getattr(study, name) == Study._meta.get_field(name).default:
                    changes[name] = text
        for name, value in changes.items():
            setattr(study, name, value)
        Study.objects.filter(pk=study.pk).update(**changes)


def refuse_once_generating(study_id: int, what: str) -> None:
    """Refuse ``what`` (a change to the study's conditions) once its images are being made: a draft's only."""
    study = Study.objects.only("slug", "status").get(pk=study_id)
    if study.status != Study.Status.DRAFT or study.pairs.exists():
        raise ValidationError(
            f"Study {study.slug!r}: {what} only before its images are generated; it is "
            f"{study.get_status_display().lower()}. Create a new study (Save as new) for another design."
        )


def check_new_condition(*, condition: Condition) -> None:
    """What ``add_condition`` refuses: any addition once the study generates, past ``MAX_CONDITIONS``, a key or name
    the study has, a second condition of a generated kind (it would be the same images), a second reference, and
    a name ``check_condition`` refuses."""
    refuse_once_generating(condition.study_id, "conditions can be added")
    others = Condition.objects.filter(study_id=condition.study_id)
    if others.count() >= MAX_CONDITIONS:
        raise ValidationError(f"A study has at most {MAX_CONDITIONS} conditions: one screen shows an image of each.")
    for field in ("key", "name"):
        if others.filter(**{field: getattr(condition, field)}).exists():
            raise ValidationError({field: f"The study has a condition {getattr(condition, field)!r} already."})
    if condition.kind in GENERATED_KINDS and others.filter(kind=condition.kind).exists():
        label = ConditionKind(condition.kind).label
        raise ValidationError({"kind": f"The study has a condition of this kind already ({label}): the same images."})
    if condition.is_reference and others.filter(is_reference=True).exists():
        raise ValidationError({"is_reference": "The study has its reference condition already."})
    check_condition(condition=condition)


@transaction.atomic
def add_condition(*, condition: Condition) -> Condition:
    """Save a new condition (its study, key, name and kind set) after the study's others: each prompt's screen
    then shows its image too. Refused as ``check_new_condition`` says; nothing is written then."""
    Study.objects.select_for_update().filter(pk=condition.study_id).first()  # one change at a time per study
    top = Condition.objects.filter(study_id=condition.study_id).aggregate(top=Max("position"))["top"]
    condition.position = 0 if top is None else top + 1
    check_new_condition(condition=condition)
    full_clean_named(condition)
    condition.save()
    return condition


def check_removable_condition(*, condition: Condition) -> None:
    """What ``remove_condition`` refuses: see there."""
    refuse_once_generating(condition.study_id, "conditions can be removed")
    others = Condition.objects.filter(study_id=condition.study_id).exclude(pk=condition.pk)
    if others.count() < 2:
        raise ValidationError(f"{condition.name!r} cannot go: a study compares at least two conditions.")
    if condition.is_reference:
        raise ValidationError(f"{condition.name!r} is the study's reference; a study needs one.")


@transaction.atomic
def remove_condition(*, condition: Condition) -> None:
    """Remove a condition and close the gap in the positions: only in a draft that has not generated, never the
    reference, and down to two."""
    study = Study.objects.select_for_update().get(pk=condition.study_id)
    check_removable_condition(condition=condition)
    condition.delete()
    for position, pk in enumerate(Condition.objects.filter(study=study).values_list("pk", flat=True)):
        Condition.objects.filter(pk=pk).update(position=position)  # ascending: never onto a taken position


@transaction.atomic
def copy_design(*, source: Study, to: Study) -> None:
    """Give ``to`` (a new study) ``source``'s conditions and criteria, names and texts included."""
    Condition.objects.bulk_create(
        Condition(study=to, **values)
        for values in source.conditions.values("position", "key", "name", "kind", "is_reference")
    )
    Criterion.objects.bulk_create(
        Criterion(study=to, **values) for values in source.criteria.values("position", "key", *CRITERION_FIELDS)
    )
