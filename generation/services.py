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
    resize_width: int | None = None,
    resize_height: int | None = None,
) -> PairJob:
    """Create one pending pair job after validating every field. With a resize size, the job generates at
    ``width`` × ``height`` (the model's training size) and stores each image resized to it."""
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
        resize_width=resize_width,
        resize_height=resize_height,
    )
    full_clean_named(job)
    job.save()
    return job


def queue_pair_jobs(*, job_ids: Iterable[int]) -> int:
    """Send the pending and failed jobs among ``job_ids`` to the "gpu" queue once the current transaction commits;
    returns how many were sent.

    Running jobs are left to the task that holds them (a worker that dies has its task redelivered); a job sent
    twice is generated once, by the first task to take it up. Jobs that can share a batch travel together,
    EVALSITE_JOBS_PER_TASK to a task.
    """
    from .tasks import generate_pair_jobs

    ids = list(job_ids)
    PairJob.objects.filter(pk__in=ids, status=PairJob.Status.FAILED).update(status=PairJob.Status.PENDING, error="")
    jobs = list(PairJob.objects.filter(pk__in=ids, status=PairJob.Status.PENDING))
    for group in group_jobs(jobs):
        for chunk in chunks([job.pk for job in group], settings.EVALSITE_JOBS_PER_TASK):
            transaction.on_commit(lambda chunk=chunk: generate_pair_jobs.delay(chunk))
    return len(jobs)


@transaction.atomic
def requeue_running_jobs(*, job_ids: Iterable[int]) -> int:
    """Queue running jobs again, for when the task holding them is gone for good (its broker lost the message);
    returns how many were queued. A task still at work on one of them would generate that pair a second time."""
    running = list(
        PairJob.objects.filter(pk__in=list(job_ids), status=PairJob.Status.RUNNING).values_list("pk", flat=True)
    )
    # still running: a job a task finished meanwhile stays done
    PairJob.objects.filter(pk__in=running, status=PairJob.Status.RUNNING).update(
        status=PairJob.Status.PENDING, task_id=""
    )
    return queue_pair_jobs(job_ids=running)
