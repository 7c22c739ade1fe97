"""A worker killed with SIGKILL in the middle of a study: after a restart every pair is generated exactly once."""

import os
import signal

import pytest
from django.core.files.storage import default_storage

from annotations import services
from annotations.models import Study
from generation.models import PairJob
from tests.factories import make_study

from .worker import celery_worker, wait_for

PAIRS = 6


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_killed_worker_leaves_nothing_twice_and_nothing_behind(rabbitmq, tiny_model, tmp_path, settings):
    settings.EVALSITE_JOBS_PER_TASK = 1
    study = make_study(slug="kill", prompts=PAIRS, model=tiny_model, width=128, height=128, steps=40)
    env = {"EVALSITE_BATCH_SIZE": "1"}
    log_path = tmp_path / "worker-1.log"
    with celery_worker(broker_url=rabbitmq, broker_folder=None, log_path=log_path, extra_env=env) as process:
        assert services.queue_study_generation(study=study) == PAIRS
        wait_for(
            lambda: PairJob.objects.filter(status="done").count() >= 2,
            timeout=180,
            process=process,
            log_path=log_path,
            interval=0.05,
        )
        wait_for(
            lambda: PairJob.objects.filter(status="running").exists(),
            timeout=60,
            process=process,
            log_path=log_path,
            interval=0.02,
        )
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    before = {job.pk: (job.status, job.finished_at) for job in PairJob.objects.all()}
    finished_before = {pk for pk, (status, _) in before.items() if status == "done"}
    interrupted = {pk for pk, (status, _) in before.items() if status == "running"}
    # The kill lands while a pair is being generated (or, rarely, in the moment between two pairs).
    assert 2 <= len(finished_before) < PAIRS and len(interrupted) <= 1

    log_path = tmp_path / "worker-2.log"
    with celery_worker(broker_url=rabbitmq, broker_folder=None, log_path=log_path, extra_env=env) as process:
        wait_for(
            lambda: PairJob.objects.filter(status="done").count() == PAIRS,
            timeout=240,
            process=process,
            log_path=log_path,
        )
    jobs = {job.pk: job for job in PairJob.objects.all()}
    for pk in finished_before:
        assert jobs[pk].attempts == 1 and jobs[pk].finished_at == before[pk][1], "a finished pair was redone"
    for pk in interrupted:
        assert jobs[pk].attempts == 2
    for pk in set(jobs) - finished_before - interrupted:
        assert jobs[pk].attempts == 1
    names = sorted(default_storage.listdir("img")[1])
    expected = sorted(os.path.basename(name) for job in jobs.values() for name in (job.baseline_image, job.ours_image))
    assert names == expected, "orphan or missing files"
    assert Study.objects.get(pk=study.pk).status == Study.Status.READY
