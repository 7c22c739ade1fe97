"""Celery tasks of the "gpu" queue. They take ids, re-fetch rows, and are idempotent."""

import logging
import platform
import uuid

import torch
from celery import shared_task
from django.core.files.storage import default_storage
from django.db import OperationalError
from django.db.models import Count, F, Q
from django.utils import timezone
from PIL import Image

from .batching import group_jobs, pairs_per_batch
from .metadata import software_versions
from .models import PairJob
from .pairs import generate_pairs, uses_guidance
from .pipelines import LoadedModel, ModelLoadError, load_model
from .resizing import RESAMPLE, resize_image
from .scaling import denoiser_of
from .signals import pair_job_finished
from .storage import ImageStorageError, encode_png, store_pair

logger = logging.getLogger(__name__)


def _finish(job: PairJob, **fields) -> None:
    """Write the job's outcome in one UPDATE (status last) and tell listeners."""
    fields["finished_at"] = timezone.now()
    PairJob.objects.filter(pk=job.pk).update(**fields)
    pair_job_finished.send(sender=PairJob, job_id=job.pk, status=fields["status"])


def _is_done(job: PairJob) -> bool:
    return job.status == PairJob.Status.DONE and all(
        default_storage.exists(name) for name in (job.baseline_image, job.ours_image)
    )


def train_sample_size(job: PairJob, loaded: LoadedModel) -> tuple[int, int] | int:
    """The training size in latent units: the job's training resolution, else the UNet's sample size."""
    if job.train_width and job.train_height:
        factor = loaded.pipeline.vae_scale_factor
        return (job.train_height // factor, job.train_width // factor)
    return denoiser_of(loaded.pipeline).config.sample_size


def _metadata(job: PairJob, loaded: LoadedModel, *, batch_size: int, seconds: float, identical_arms: bool) -> dict:
    train_size = train_sample_size(job, loaded)
    resized = {}
    if job.resize_width and job.resize_height:
        resized = {"resized_to": [job.resize_width, job.resize_height], "resample": RESAMPLE}
    return {
        "model": job.model,
        "revision": job.revision,
        "pipeline": type(loaded.pipeline).__name__,
        "scheduler": type(loaded.pipeline.scheduler).__name__,
        "steps": job.steps,
        "guidance_scale": job.guidance_scale,
        # below the scale where the pipeline guides, the negative prompt is not used
        "classifier_free_guidance": uses_guidance(loaded.pipeline, job.guidance_scale),
        "negative_prompt": job.negative_prompt,
        "seed": job.seed,
        "width": job.width,
        "height": job.height,
        "train_sample_size": train_size,
        **resized,
        "arms": {"baseline": {"entropy_scaling": False}, "ours": {"entropy_scaling": True}},
        # every layer at its training token count: the factor is 1 and the arms are one computation
        "identical_arms": identical_arms,
        "device": str(loaded.device),
        "dtype": str(loaded.dtype).removeprefix("torch."),
        "batch_size": batch_size,
        "seconds_per_pair": seconds / batch_size,
        "host": platform.node(),
        "versions": software_versions(),
    }


def _stored_png(job: PairJob, image: Image.Image) -> bytes:
    """The PNG stored for one generated image: resized first where the job names a resize size."""
    if job.resize_width and job.resize_height:
        image = resize_image(image, width=job.resize_width, height=job.resize_height)
    return encode_png(image)


def _generate_batch(loaded: LoadedModel, jobs: list[PairJob]) -> None:
    """Generate and store one batch of jobs that share their settings; mark each done after its files."""
    first = jobs[0]
    batch = generate_pairs(
        loaded,
        prompts=[job.prompt for job in jobs],
        seeds=[job.seed for job in jobs],
        negative_prompt=first.negative_prompt,
        width=first.width,
        height=first.height,
        steps=first.steps,
        guidance_scale=first.guidance_scale,
        scheduler=first.scheduler,
        train_sample_size=train_sample_size(first, loaded),
    )
    for job, pair in zip(jobs, batch.pairs, strict=True):
        try:
            # Under the names drawn when the job was made. Both objects exist with their sizes before the job is
            # marked done; a worker killed before that leaves the job running, and its redelivered task generates
            # the pair again under the same names.
            store_pair(
                {job.baseline_image: _stored_png(job, pair.baseline), job.ours_image: _stored_png(job, pair.ours)}
            )
        except ImageStorageError as exc:
            logger.error("Pair job %s: %s", job.pk, exc)
            _finish(job, status=PairJob.Status.FAILED, error=f"Storing the images failed: {exc}")
            continue
        _finish(
            job,
            metadata=_metadata(
                job, loaded, batch_size=len(jobs), seconds=batch.seconds, identical_arms=batch.identical_arms
            ),
            error="",
            status=PairJob.Status.DONE,
        )


def _generate_group(loaded: LoadedModel, jobs: list[PairJob]) -> None:
    """Generate a group in batches; CUDA out-of-memory halves the batch, and fails the jobs at one pair."""
    size = pairs_per_batch(device=loaded.device, width=jobs[0].width, height=jobs[0].height)
    pending = list(jobs)
    while pending:
        batch = pending[:size]
        try:
            _generate_batch(loaded, batch)
        except torch.OutOfMemoryError:
            if loaded.device.type == "cuda":
                torch.cuda.empty_cache()
            if size == 1:
                message = (
                    f"Out of device memory generating one {jobs[0].width}×{jobs[0].height} pair on "
                    f"{loaded.device}; use a smaller size or a larger GPU."
                )
                for job in pending:
                    _finish(job, status=PairJob.Status.FAILED, error=message)
                return
            size = max(1, size // 2)
            logger.warning("Out of memory; retrying with %s pairs per batch", size)
            continue
        except (ValueError, RuntimeError) as exc:
            for job in batch:
                _finish(job, status=PairJob.Status.FAILED, error=f"Generation failed: {exc}")
        pending = pending[len(batch) :]


def _claim(jobs: list[PairJob], *, task_id: str) -> list[PairJob]:
    """Take up the jobs no other task holds: pending ones, done ones whose files were found gone (``jobs`` as read
    while done), running ones this same task holds already (a redelivery after its worker died, or a retry), and
    running ones that no task id holds (left by a version that did not record one). Returns the jobs taken."""
    missing_files = [job.pk for job in jobs if job.status == PairJob.Status.DONE]
    free = Q(status=PairJob.Status.PENDING) | Q(status=PairJob.Status.DONE, pk__in=missing_files)
    free |= Q(status=PairJob.Status.RUNNING, task_id__in=[task_id, ""])
    ids = [job.pk for job in jobs]
    # one UPDATE: of two tasks sent the same job, only the first to write takes it
    PairJob.objects.filter(free, pk__in=ids).update(
        status=PairJob.Status.RUNNING,
        task_id=task_id,
        started_at=timezone.now(),
        error="",
        attempts=F("attempts") + 1,
    )
    taken = set(
        PairJob.objects.filter(pk__in=ids, status=PairJob.Status.RUNNING, task_id=task_id).values_list("pk", flat=True)
    )
    return [job for job in jobs if job.pk in taken]


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def generate_pair_jobs(self, job_ids: list[int]) -> dict[str, int]:
    """Generate both images of each listed pair job; jobs that are done, failed or held by another task are left
    alone. An error no job could be charged with fails the jobs this task still holds, unless it will be retried."""
    jobs = list(PairJob.objects.filter(pk__in=job_ids))
    task_id = self.request.id or uuid.uuid4().hex
    todo = _claim([job for job in jobs if not _is_done(job)], task_id=task_id)
    outcome = {"missing": len(set(job_ids)) - len(jobs), "skipped": len(jobs) - len(todo)}
    if not todo:
        return outcome
    try:
        for group in group_jobs(todo):
            try:
                loaded = load_model(group[0].model, group[0].revision, group[0].dtype)
            except ModelLoadError as exc:
                for job in group:
                    _finish(job, status=PairJob.Status.FAILED, error=str(exc))
                continue
            _generate_group(loaded, group)
    except Exception as exc:
        if not (isinstance(exc, OperationalError) and self.request.retries < self.max_retries):
            message = f"Generation stopped: {type(exc).__name__}: {exc}"
            logger.exception("Pair jobs %s: %s", [job.pk for job in todo], message)
            held = PairJob.objects.filter(
                pk__in=[job.pk for job in todo], status=PairJob.Status.RUNNING, task_id=task_id
            )
            for job in held:
                _finish(job, status=PairJob.Status.FAILED, error=message)
        raise
    outcome.update(
        PairJob.objects.filter(pk__in=[job.pk for job in todo]).values_list("status").annotate(count=Count("pk"))
    )
    return outcome
