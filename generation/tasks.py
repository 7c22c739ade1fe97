"""Celery tasks of the "gpu" queue. They take ids, re-fetch rows, and are idempotent."""
import logging
import platform

from celery import shared_task
from django.core.files.storage import default_storage
from django.db import OperationalError
from django.utils import timezone

from .metadata import software_versions
from .models import PairJob
from .pairs import generate_pair
from .pipelines import ModelLoadError, load_model
from .signals import pair_job_finished
from .storage import encode_png, image_name, write_atomic

logger = logging.getLogger(__name__)


def _finish(job: PairJob, **fields) -> None:
    """Write the job's outcome in one UPDATE (status last) and tell listeners."""
    fields["finished_at"] = timezone.now()
    PairJob.objects.filter(pk=job.pk).update(**fields)
    pair_job_finished.send(sender=PairJob, job_id=job.pk, status=fields["status"])


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def generate_pair_job(self, job_id: int) -> str:
    """Generate both images of pair job ``job_id``; a job that is done already is left alone."""
    job = PairJob.objects.filter(pk=job_id).first()
    if job is None:
        logger.warning("Pair job %s no longer exists", job_id)
        return "missing"
    if job.status == PairJob.Status.DONE and all(
        default_storage.exists(name) for name in (job.baseline_image, job.ours_image)
    ):
        return "done already"
    PairJob.objects.filter(pk=job.pk).update(
        status=PairJob.Status.RUNNING, started_at=timezone.now(), attempts=job.attempts + 1, error=""
    )
    try:
        loaded = load_model(job.model, job.revision)
    except ModelLoadError as exc:
        _finish(job, status=PairJob.Status.FAILED, error=str(exc))
        return "failed"
    try:
        pair = generate_pair(
            loaded,
            prompt=job.prompt,
            negative_prompt=job.negative_prompt,
            width=job.width,
            height=job.height,
            steps=job.steps,
            guidance_scale=job.guidance_scale,
            scheduler=job.scheduler,
            seed=job.seed,
        )
    except (ValueError, RuntimeError) as exc:
        _finish(job, status=PairJob.Status.FAILED, error=f"Generation failed: {exc}")
        return "failed"
    baseline_name = write_atomic(image_name(job_id=job.pk, arm="baseline"), encode_png(pair.baseline))
    ours_name = write_atomic(image_name(job_id=job.pk, arm="ours"), encode_png(pair.ours))
    metadata = {
        "model": job.model,
        "revision": job.revision,
        "pipeline": type(loaded.pipeline).__name__,
        "scheduler": type(loaded.pipeline.scheduler).__name__,
        "steps": job.steps,
        "guidance_scale": job.guidance_scale,
        "seed": job.seed,
        "width": job.width,
        "height": job.height,
        "train_sample_size": loaded.pipeline.unet.config.sample_size,
        "device": str(loaded.device),
        "dtype": str(loaded.dtype).removeprefix("torch."),
        "seconds": pair.seconds,
        "host": platform.node(),
        "versions": software_versions(),
    }
    _finish(
        job,
        baseline_image=baseline_name,
        ours_image=ours_name,
        metadata=metadata,
        error="",
        status=PairJob.Status.DONE,
    )
    return "done"
