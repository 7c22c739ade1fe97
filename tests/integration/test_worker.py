"""A real Celery worker process generates a study's pairs with the tiny model, on both brokers."""

import pytest
from django.core.files.storage import default_storage
from PIL import Image

from annotations import services
from annotations.models import Study
from evalsite.celery import app
from generation.models import PairJob
from tests.factories import make_study

from .worker import celery_worker, point_app_at, wait_for


@pytest.fixture
def filesystem_broker(tmp_path):
    folder = tmp_path / "broker"
    for name in ("data", "control"):
        (folder / name).mkdir(parents=True)
    options = {
        "data_folder_in": str(folder / "data"),
        "data_folder_out": str(folder / "data"),
        "control_folder": str(folder / "control"),
    }
    return "filesystem://", folder, options


@pytest.fixture(params=["redis", "filesystem"])
def broker(request):
    if request.param == "redis":
        url, folder, options = request.getfixturevalue("redis_url"), None, {}
    else:
        url, folder, options = request.getfixturevalue("filesystem_broker")
    point_app_at(app, url, options)
    yield url, folder
    point_app_at(app, "memory://", {})


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_worker_generates_a_study(broker, tiny_model, tmp_path):
    broker_url, broker_folder = broker
    study = make_study(slug="worker", prompts=2, model=tiny_model, width=96, height=64, steps=3, open_when_ready=True)
    log_path = tmp_path / "worker.log"
    with celery_worker(broker_url=broker_url, broker_folder=broker_folder, log_path=log_path) as process:
        assert services.queue_study_generation(study=study) == 2
        wait_for(
            lambda: not PairJob.objects.exclude(status__in=["done", "failed"]).exists(),
            timeout=180,
            process=process,
            log_path=log_path,
        )
    jobs = list(PairJob.objects.order_by("pk"))
    assert [job.status for job in jobs] == ["done", "done"], [job.error for job in jobs]
    assert [job.attempts for job in jobs] == [1, 1]
    for job in jobs:
        with (
            default_storage.open(job.baseline_image) as baseline_file,
            default_storage.open(job.ours_image) as ours_file,
        ):
            baseline, ours = Image.open(baseline_file), Image.open(ours_file)
            assert baseline.size == ours.size == (96, 64)
            assert baseline.format == ours.format == "PNG"
            assert baseline.tobytes() != ours.tobytes(), "at 1.5x the training size the arms must differ"
        assert job.metadata["seed"] == job.seed
        assert job.metadata["scheduler"] == "DDIMScheduler"
        assert job.metadata["versions"]["diffusers"]
    # The worker's signal moved the study on once its last pair was done.
    assert Study.objects.get(pk=study.pk).status == Study.Status.OPEN
    assert "succeeded" in log_path.read_text()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_worker_generates_a_resized_condition_and_opens_the_study(filesystem_broker, tiny_model, tmp_path):
    """A study of baseline, ours and "resized from the training size": the worker makes the pair jobs and the resized
    condition's jobs (at the model's 64×64, stored resized to the study's 96×64), and its signal opens the study once
    the last of either kind is done."""
    from annotations.models import ConditionImage

    url, folder, options = filesystem_broker
    point_app_at(app, url, options)
    try:
        study = make_study(
            slug="resized",
            prompts=2,
            model=tiny_model,
            width=96,
            height=64,
            steps=3,
            open_when_ready=True,
            design_preset="resized",
        )
        log_path = tmp_path / "worker.log"
        with celery_worker(broker_url=url, broker_folder=folder, log_path=log_path) as process:
            assert services.queue_study_generation(study=study) == 4
            wait_for(
                lambda: (
                    Study.objects.get(pk=study.pk).status == Study.Status.OPEN
                    or PairJob.objects.filter(status="failed").exists()
                ),
                timeout=180,
                process=process,
                log_path=log_path,
            )
    finally:
        point_app_at(app, "memory://", {})
    assert not PairJob.objects.exclude(status="done").exists(), list(PairJob.objects.values_list("error", flat=True))
    images = list(ConditionImage.objects.filter(prompt__study=study).select_related("job"))
    assert len(images) == 2
    for image in images:
        assert (image.job.width, image.job.height) == (64, 64)
        assert image.job.metadata["resized_to"] == [96, 64]
        with default_storage.open(image.name) as handle:
            assert Image.open(handle).size == (96, 64)
    assert Study.objects.get(pk=study.pk).status == Study.Status.OPEN
