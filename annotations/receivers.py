"""Listeners for generation's signals."""

from django.dispatch import receiver

from generation.signals import pair_job_finished

from .models import ConditionImage, ImagePair
from .services.studies import refresh_study_status


@receiver(pair_job_finished)
def update_studies_of_job(sender, *, job_id: int, status: str, **kwargs) -> None:
    """A finished job (a pair's, or a resized condition's) may complete its study's generation."""
    studies = set(ImagePair.objects.filter(job_id=job_id).values_list("study_id", flat=True))
    studies |= set(ConditionImage.objects.filter(job_id=job_id).values_list("prompt__study_id", flat=True))
    for study_id in sorted(studies):
        refresh_study_status(study_id=study_id)
