"""A worker killed with SIGKILL in the middle of uploading a pair to object storage: the pair is never visible
half-done, and another worker generates it again under the same keys."""

import io
import os
import signal

import pytest
from PIL import Image

from annotations import services
from generation.models import PairJob
from tests.factories import make_study

from .s3 import remote_worker, s3_bucket, s3_server  # noqa: F401  (fixtures)
from .worker import wait_for

PAIRS = 4


def sizes(bucket) -> dict[str, int]:
    pages = bucket.client.get_paginator("list_objects_v2").paginate(Bucket=bucket.name)
    return {item["Key"]: item["Size"] for page in pages for item in page.get("Contents", [])}


def assert_no_half_done_pair(bucket) -> None:
    """Every pair marked done has both objects, whole, in the bucket."""
    stored = sizes(bucket)
    for job in PairJob.objects.filter(status="done"):
        for name in (job.baseline_image, job.ours_image):
            assert stored.get(name, 0) > 0, f"pair job {job.pk} is done but {name} is not stored"


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_upload_leaves_the_pair_to_be_regenerated(
    rabbitmq, s3_bucket, s3_server, tiny_model, tmp_path, settings
):
    settings.EVALSITE_JOBS_PER_TASK = 1
    study = make_study(slug="upload-kill", prompts=PAIRS, model=tiny_model, width=64, height=64, steps=2)
    assert services.queue_study_generation(study=study) == PAIRS  # the tasks wait in RabbitMQ
    jobs = list(PairJob.objects.order_by("pk"))
    victim = jobs[1]
    # Each pair's objects are uploaded in the order of their names: hold the second upload of the second pair.
    first_key, held_key = sorted((victim.baseline_image, victim.ours_image))  # drawn when the job was made
    hold = s3_server.control / "hold" / held_key.rsplit("/", 1)[1]
    holding = s3_server.control / "holding" / hold.name
    hold.touch()
    env = {**s3_bucket.env, "EVALSITE_BATCH_SIZE": "1"}
    try:
        log_path = tmp_path / "worker-1.log"
        with remote_worker(
            broker_url=rabbitmq, host_dir=tmp_path / "host-1", log_path=log_path, extra_env=env
        ) as process:

            def upload_stalled():
                assert_no_half_done_pair(s3_bucket)
                return holding.exists()

            wait_for(upload_stalled, timeout=240, process=process, log_path=log_path, interval=0.1)
            victim.refresh_from_db()
            assert victim.status == "running"
            stored = sizes(s3_bucket)
            assert first_key in stored and held_key not in stored, "the first object is up, the second half-sent"
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
    finally:
        hold.unlink(missing_ok=True)
    assert PairJob.objects.get(pk=jobs[0].pk).status == "done"
    assert PairJob.objects.get(pk=victim.pk).status == "running", "a pair with one object is never marked done"
    assert_no_half_done_pair(s3_bucket)

    log_path = tmp_path / "worker-2.log"
    with remote_worker(broker_url=rabbitmq, host_dir=tmp_path / "host-2", log_path=log_path, extra_env=env) as process:

        def all_done():
            assert_no_half_done_pair(s3_bucket)
            return PairJob.objects.filter(status="done").count() == PAIRS

        wait_for(all_done, timeout=240, process=process, log_path=log_path, interval=0.1)
    done = {job.pk: job for job in PairJob.objects.all()}
    assert {pk: job.attempts for pk, job in done.items()} == {job.pk: 2 if job.pk == victim.pk else 1 for job in jobs}
    stored = sizes(s3_bucket)
    expected = {name for job in done.values() for name in (job.baseline_image, job.ours_image)}
    assert set(stored) == expected, "no orphan, temporary or duplicate object"
    assert {done[victim.pk].baseline_image, done[victim.pk].ours_image} == {first_key, held_key}
    for name in expected:
        body = s3_bucket.client.get_object(Bucket=s3_bucket.name, Key=name)["Body"].read()
        assert len(body) == stored[name]
        Image.open(io.BytesIO(body)).verify()
