"""Importing tidy ratings collected elsewhere (read by ``rating_files``) into a study of imported ratings; all or
nothing."""

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import transaction
from django.db.models import Max

from evalsite.progress import BarFactory, NoBar

from ..models import Annotator, Assignment, ImagePair, Prompt, Rating, Study
from ..rating_files import TidyFile, parse_tidy_csv
from .design import add_seed_design
from .studies import check_study_settings

#: The longest study slug the database holds (``Study.slug``).
MAX_SLUG_LENGTH = Study._meta.get_field("slug").max_length


@dataclass(frozen=True)
class ImportReport:
    study: Study
    created_study: bool
    ratings: int
    annotators: int
    items: int
    notes: tuple[str, ...] = ()


#: The statuses in which a study of imported ratings takes more: never open, so no annotator is being served.
IMPORTABLE_STATUSES = (Study.Status.DRAFT, Study.Status.CLOSED)


def _check_takes_imports(study: Study) -> None:
    """Refuse importing into a study that generates its own pairs, or one annotators may be rating now.

    An imported item becomes a pair without images; a study with a model or a generated pair would hand it to its
    annotators as a blank pair, so only studies made of imported ratings (no model, no pair job, draft or closed)
    take imports.
    """
    reasons = []
    if study.model_id is not None:
        reasons.append(f"it generates its pairs with the model {study.model.name!r}")
    elif study.pairs.filter(job__isnull=False).exists():
        reasons.append("it has generated pairs")
    if study.status not in IMPORTABLE_STATUSES:
        reasons.append(f"it is {study.get_status_display().lower()}")
    if reasons:
        raise ValidationError(
            f"Ratings cannot be imported into study {study.slug!r}: {' and '.join(reasons)}. Only a study of "
            "imported ratings (no model, no generated pairs, draft or closed) takes imports; import into a new slug."
        )


def _next_after(top: int | None) -> int:
    """The next free 0-based position after the largest one in use (``None`` when none is)."""
    return 0 if top is None else top + 1


def _check_slug(slug: str) -> None:
    try:
        validate_slug(slug)
    except ValidationError:
        raise ValidationError(f"{slug!r} is not a valid study slug (letters, digits, hyphens, underscores).") from None
    if len(slug) > MAX_SLUG_LENGTH:
        raise ValidationError(f"The study slug is {len(slug)} characters long; at most {MAX_SLUG_LENGTH} are allowed.")


def import_ratings(
    *, slug: str, text: str, seconds: str = "pair", extra: str = "reject", bar: BarFactory = NoBar
) -> ImportReport:
    """Add the tidy CSV's ratings to study ``slug`` (created if missing); all or nothing. ``seconds`` and ``extra``
    as ``rating_files.parse_tidy_csv`` takes them; ``bar`` shows the ratings stored so far (``evalsite.progress``)."""
    _check_slug(slug)
    return store_ratings(slug=slug, tidy=parse_tidy_csv(text, slug=slug, seconds=seconds, extra=extra), bar=bar)


@transaction.atomic
def store_ratings(*, slug: str, tidy: TidyFile, bar: BarFactory = NoBar) -> ImportReport:
    """Add ratings read from a file (tidy, or by an adapter of ``rating_adapters``) to study ``slug``, created if
    missing; all or nothing."""
    _check_slug(slug)
    ratings = tidy.ratings
    defaults = {"title": slug}  # a study of imported ratings: no model, its other settings their defaults
    check_study_settings(study=Study(slug=slug, **defaults))  # the study made if there is none
    study, created = Study.objects.select_for_update().get_or_create(slug=slug, defaults=defaults)
    if created:
        add_seed_design(study=study)
    else:
        _check_takes_imports(study)
    prompts = {prompt.text: prompt for prompt in study.prompts.all()}
    next_position = _next_after(study.prompts.aggregate(top=Max("position"))["top"])
    for rating in ratings:
        if rating.item not in prompts:
            prompts[rating.item] = Prompt.objects.create(study=study, position=next_position, text=rating.item)
            next_position += 1
    pairs = {}
    for text_, prompt in prompts.items():
        pair = ImagePair.objects.filter(prompt=prompt).first() or ImagePair.objects.create(study=study, prompt=prompt)
        pairs[text_] = pair
    annotators = {a.external_id: a for a in study.annotators.exclude(external_id="")}
    baseline, ours = study.conditions.order_by("position")[:2]
    criterion = study.criteria.order_by("position").first()
    named = {rating.baseline.criterion for rating in ratings} - {""}
    if named and named != {criterion.key}:
        raise ValidationError(
            f"The file's ratings are on criterion {named.pop()!r}; study {slug!r} takes imported ratings on its "
            f"first criterion, {criterion.key!r}."
        )
    errors = []
    with bar(total=len(ratings), desc="ratings", unit="rating") as progress:
        for rating in ratings:
            progress.update(1)
            annotator = annotators.get(rating.annotator)
            if annotator is None:
                annotator = annotators[rating.annotator] = Annotator.objects.create(
                    study=study, external_id=rating.annotator
                )
            pair = pairs[rating.item]
            if Assignment.objects.filter(annotator=annotator, pair=pair).exists():
                errors.append(f"{rating.where}: {rating.annotator!r} already rated this item in study {slug!r}")
                continue
            order = _next_after(annotator.assignments.aggregate(top=Max("order"))["top"])
            assignment = Assignment.objects.create(
                annotator=annotator, pair=pair, order=order, ours_on_left=rating.ours_on_left
            )
            Rating.objects.bulk_create(
                Rating(
                    assignment=assignment, condition=condition, criterion=criterion, score=score, seconds=rating.seconds
                )
                for condition, score in ((baseline, rating.baseline_score), (ours, rating.ours_score))
            )
    if errors:
        raise ValidationError(errors)
    return ImportReport(
        study=study,
        created_study=created,
        ratings=len(ratings),
        annotators=len({rating.annotator for rating in ratings}),
        items=len({rating.item for rating in ratings}),
        notes=tidy.notes,
    )
