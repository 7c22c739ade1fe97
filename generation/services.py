"""Writes for pair jobs: creating them and queueing their generation."""
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction

from .batching import chunks, group_jobs
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
    dtype: str = "",
    train_width: int | None = None,
    train_height: int | None = None,
) -> PairJob:
    """Create one pending pair job after validating every field."""
    job = PairJob(
        prompt=prompt,
        negative_prompt=negative_prompt,
        model=model,
        revision=revision,
        dtype=dtype,
        train_width=train_width,
        train_height=train_height,
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
    """Send the jobs that are not done to the "gpu" queue once the current transaction commits.

    Jobs that can share a batch travel together, EVALSITE_JOBS_PER_TASK to a task.
    """
    from .tasks import generate_pair_jobs

    jobs = list(PairJob.objects.filter(pk__in=list(job_ids)).exclude(status=PairJob.Status.DONE))
    PairJob.objects.filter(pk__in=[job.pk for job in jobs], status=PairJob.Status.FAILED).update(
        status=PairJob.Status.PENDING, error=""
    )
    for group in group_jobs(jobs):
        for chunk in chunks([job.pk for job in group], settings.EVALSITE_JOBS_PER_TASK):
            transaction.on_commit(lambda chunk=chunk: generate_pair_jobs.delay(chunk))
    return len(jobs)
