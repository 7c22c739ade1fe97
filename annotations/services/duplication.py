"""Duplicating a study: its settings, texts, design and prompts, as a new draft with no pairs, annotators or
ratings."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction

from generation.validation import full_clean_named

from .. import access
from ..models import Prompt, Study
from .design import copy_design
from .studies import check_study_settings

#: Fields a copy does not take from its source: its identity, its state and whose it is.
NOT_COPIED = ("id", "slug", "title", "status", "enrolment_token", "pilot_token", "owner", "created_at")
#: The permission a copy needs, as a new study does.
ADD_STUDY = "annotations.add_study"
COPY_SUFFIX = " (copy)"
SLUG_SUFFIX = "-copy"


def _free_slug(slug: str) -> str:
    """``<slug>-copy``, else ``<slug>-copy-2``, ``-copy-3``…, cut to fit the field."""
    limit = Study._meta.get_field("slug").max_length
    for number in range(1, 1000):
        suffix = SLUG_SUFFIX if number == 1 else f"{SLUG_SUFFIX}-{number}"
        candidate = f"{slug[: limit - len(suffix)]}{suffix}"
        if not Study.objects.filter(slug=candidate).exists():
            return candidate
    raise ValidationError(f"Study {slug!r} has been copied too often to find a free slug; rename one of its copies.")


@transaction.atomic
def duplicate_study(*, study: Study, user) -> Study:
    """A draft copy of ``study`` owned by ``user``: every setting and text, its conditions and criteria, and each
    prompt at its position (so that each keeps its seed), under a new slug and the title "… (copy)"; no pairs,
    annotators, ratings or sharing.

    Refused (PermissionDenied) to a user without ``annotations.add_study`` or who may not see ``study``. Generating
    the copy with unchanged settings reuses the source's finished images (``queue_study_generation``).
    """
    access.require(user, ADD_STUDY)
    if not access.visible_studies(user).filter(pk=study.pk).exists():
        raise PermissionDenied(f"Study {study.slug!r} is not one you may see.")
    title_limit = Study._meta.get_field("title").max_length
    values = {}
    for field in Study._meta.concrete_fields:
        if field.name in NOT_COPIED:
            continue
        value = getattr(study, field.attname)
        values[field.attname] = value.name if isinstance(field, models.FileField) else value
    copy = Study(
        **values,
        slug=_free_slug(study.slug),
        title=f"{study.title[: title_limit - len(COPY_SUFFIX)]}{COPY_SUFFIX}",
        owner=user,
    )
    full_clean_named(copy)
    check_study_settings(study=copy)
    copy.save()
    copy_design(source=study, to=copy)
    Prompt.objects.bulk_create(
        Prompt(study=copy, position=position, text=text)
        for position, text in study.prompts.order_by("position").values_list("position", "text")
    )
    return copy
