"""Listeners for generation's signals."""

from django.dispatch import receiver

from generation.signals import pair_job_finished

from .models import ImagePair
from .services.studies import refresh_study_status


@receiver(pair_job_finished)
def update_studies_of_job(sender, *, job_id: int, status: str, **kwargs) -> None:
    """A finished job may complete its study's generation."""
    for study_id in ImagePair.objects.filter(job_id=job_id).values_list("study_id", flat=True).distinct():
        refresh_study_status(study_id=study_id)
