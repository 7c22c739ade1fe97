"""Imported conditions' images: one image per prompt, made by a method EvalSite does not implement, read from a
folder or a zip (``image_sets``) and stored under random names beside the generated ones.

A set is taken whole or not at all: every prompt needs exactly one image of the study's size and no file may be
left over (``image_sets.ImageSetReport.summary`` names each problem). Images can be imported, and imported again in
place of the earlier set, until the study opens; annotators never see two sets of one condition.
"""

import logging
from pathlib import Path
from typing import BinaryIO

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import transaction

from generation.storage import ImageStorageError, new_image_name, write_atomic

from .. import selectors
from ..image_sets import read_image_set
from ..models import Condition, ConditionImage, Study
from .studies import refresh_study_status

logger = logging.getLogger(__name__)

#: The states in which a study's imported images may be replaced: annotators have seen none of them.
IMPORTABLE_STATUSES = (Study.Status.DRAFT, Study.Status.GENERATING, Study.Status.READY)


def check_importable(*, condition: Condition) -> None:
    """Refuse importing images for a condition that is not an imported one, or once its study has opened."""
    study = condition.study
    if condition.kind != Condition.Kind.IMPORTED:
        raise ValidationError(
            f"Condition {condition.name!r} of study {study.slug!r} is {condition.get_kind_display().lower()}: "
            "EvalSite makes its images. Add a condition of the kind “Imported” for images made elsewhere."
        )
    if study.status not in IMPORTABLE_STATUSES or selectors.consented_count(study_id=study.pk):
        raise ValidationError(
            f"Study {study.slug!r} is {study.get_status_display().lower()}: annotators may have seen its images, "
            "which can no longer change. Create a new study (Save as new) for other images."
        )


def _remove(names: list[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except OSError:  # a file that stays is never read: no row names it
            logger.warning("Could not remove the image %s", name)


def import_condition_images(*, condition: Condition, source: str | Path | BinaryIO) -> int:
    """Store an image of ``condition`` (an imported one) for every prompt of its study, from ``source`` (a folder,
    a zip file's path, or an uploaded zip), in place of any set imported before; returns how many were stored.

    Raises ``ValidationError`` naming every problem of the set (``image_sets``), or why the condition takes no
    images (``check_importable``); nothing is stored then. A study waiting only for these images becomes ready.
    """
    study = Study.objects.get(pk=condition.study_id)
    check_importable(condition=Condition(pk=condition.pk, study=study, kind=condition.kind, name=condition.name))
    prompts = list(study.prompts.order_by("position").values_list("pk", "text"))
    if not prompts:
        raise ValidationError(f"Study {study.slug!r} has no prompts to match images to.")
    report = read_image_set(source, prompts=[text for _, text in prompts], size=(study.width, study.height))
    if not report.ok:
        raise ValidationError(f"Nothing was imported: {report.summary()}")
    written: list[str] = []
    try:
        rows = []
        for number, data in sorted(report.images.items()):
            name = new_image_name()
            write_atomic(name, data)
            written.append(name)
            rows.append(ConditionImage(prompt_id=prompts[number - 1][0], condition=condition, name=name))
        with transaction.atomic():
            locked = Study.objects.select_for_update().get(pk=study.pk)
            check_importable(
                condition=Condition(pk=condition.pk, study=locked, kind=condition.kind, name=condition.name)
            )
            earlier = list(ConditionImage.objects.filter(condition=condition).values_list("name", flat=True))
            ConditionImage.objects.filter(condition=condition).delete()
            ConditionImage.objects.bulk_create(rows)
            transaction.on_commit(lambda: _remove(earlier))
            generating = locked.status == Study.Status.GENERATING
    except ImageStorageError as exc:
        _remove(written)
        raise ValidationError(f"Nothing was imported: storing the images failed ({exc}).") from None
    except BaseException:
        _remove(written)
        raise
    if generating:
        refresh_study_status(study_id=study.pk)
    return len(rows)
