"""A study's design: its conditions (how its images are made, named only in results) and its criteria (what each
image is rated on, and how the scale's ends read).

Every study starts with the seed's design (``add_seed_design``): two conditions, the plain model (the reference,
whose data key is ``baseline``) and the entropy-scaled one (``ours``), made together by one pair job per prompt, and
one criterion scored from 1 to 10 (or 1–5, 1–7). Names and texts may change as a study runs (``check_condition``,
``check_criterion``): a name is only what results call a condition; what annotators see is fixed once one has
consented. Until then criteria may be added (``add_criterion``: each image is then scored on each) and removed
(``remove_criterion``), down to one.
"""

from collections.abc import Collection

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max

from evalsite.text_rules import describe_bad_characters
from generation.validation import full_clean_named

from .. import selectors
from ..models import DEFAULT_QUESTION, SEED_CONDITIONS, SEED_CRITERION, Condition, Criterion, Rating, Study

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
#: The designs the add page offers: key → (what it is called, the criteria after the seed's question).
DESIGN_PRESETS = {
    "seed": ("Baseline vs ours, 1–10 consistency (the seed's study)", ()),
    "quality": ("Baseline vs ours: consistency 1–10 and visual quality 1–7", (QUALITY_CRITERION,)),
    "failures": (
        "Baseline vs ours: consistency 1–10, visual quality 1–7 and missing or repeated objects 1–5",
        (QUALITY_CRITERION, OBJECTS_CRITERION),
    ),
}


@transaction.atomic
def add_seed_design(*, study: Study, question: str = DEFAULT_QUESTION, preset: str = "seed") -> None:
    """Give a new study the seed's conditions and its criterion, asking ``question``, then the further criteria of
    ``preset`` (``DESIGN_PRESETS``); nothing is written if the question is refused (``check_criterion``, or its
    field's own checks) or the preset is unknown."""
    if preset not in DESIGN_PRESETS:
        raise ValidationError(f"Unknown design {preset!r}; choose from {', '.join(DESIGN_PRESETS)}.")
    criterion = Criterion(study=study, position=0, **{**SEED_CRITERION, "question": question})
    full_clean_named(criterion)
    check_criterion(criterion=criterion)
    Condition.objects.bulk_create(
        Condition(study=study, position=position, key=key, name=name, kind=kind, is_reference=reference)
        for position, (key, name, kind, reference) in enumerate(SEED_CONDITIONS)
    )
    criterion.save()
    for position, values in enumerate(DESIGN_PRESETS[preset][1], start=1):
        Criterion.objects.create(study=study, position=position, **values)


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
