"""Writes for pair jobs: creating them and queueing their generation."""
from collections.abc import Iterable

from django.db import transaction

from .models import PairJob
from .validation import full_clean_named


def create_pair_job(
    *,
    prompt: str,
    model: str,
    seed: int,
    width: int,
    height: int,
    steps: int,
    guidance_scale: float,
    scheduler: str,
    negative_prompt: str = "",
    revision: str = "",
) -> PairJob:
    """Create one pending pair job after validating every field."""
    job = PairJob(
        prompt=prompt,
        negative_prompt=negative_prompt,
        model=model,
        revision=revision,
        width=width,
        height=height,
        steps=steps,
        guidance_scale=guidance_scale,
        scheduler=scheduler,
        seed=seed,
    )
    full_clean_named(job)
    job.save()
    return job


def queue_pair_jobs(*, job_ids: Iterable[int]) -> int:
    """Send the jobs that are not done to the "gpu" queue once the current transaction commits."""
    from .tasks import generate_pair_job

    ids = list(
        PairJob.objects.filter(pk__in=list(job_ids))
        .exclude(status=PairJob.Status.DONE)
        .values_list("pk", flat=True)
    )
    PairJob.objects.filter(pk__in=ids, status=PairJob.Status.FAILED).update(
        status=PairJob.Status.PENDING, error=""
    )
    for job_id in ids:
        transaction.on_commit(lambda job_id=job_id: generate_pair_job.delay(job_id))
    return len(ids)
