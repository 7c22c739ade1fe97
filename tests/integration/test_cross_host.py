"""The whole path across hosts: a Celery worker process with its own working folder and MEDIA_ROOT generates
pairs into a real S3-compatible server on loopback, and the web process serves them to an annotator."""

import re

import pytest
import requests
from django.urls import reverse

from annotations import services
from annotations.models import Assignment, Study
from generation.models import PairJob
from tests.factories import make_study

from .s3 import remote_worker, s3_bucket, s3_server  # noqa: F401  (fixtures)
from .worker import wait_for

KEY = re.compile(r"img/[0-9a-f]{32}\.png")


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_gpu_host_generates_into_object_storage_and_the_site_serves_it(
    redis_broker, s3_bucket, tiny_model, tmp_path, media_root, settings, client
):
    study = make_study(slug="hosts", prompts=3, model=tiny_model, width=96, height=64, steps=3, open_when_ready=True)
    host = tmp_path / "gpu-host"
    log_path = tmp_path / "worker.log"
    with remote_worker(broker_url=redis_broker, host_dir=host, log_path=log_path, extra_env=s3_bucket.env) as process:
        assert services.queue_study_generation(study=study) == 3
        wait_for(
            lambda: not PairJob.objects.exclude(status__in=["done", "failed"]).exists(),
            timeout=240,
            process=process,
            log_path=log_path,
        )
    jobs = list(PairJob.objects.order_by("pk"))
    assert [job.status for job in jobs] == ["done"] * 3, [job.error for job in jobs]
    assert [job.attempts for job in jobs] == [1, 1, 1]
    names = sorted(name for job in jobs for name in (job.baseline_image, job.ours_image))
    assert s3_bucket.keys() == names and all(KEY.fullmatch(name) for name in names)
    for folder in (host, media_root):
        assert not [path for path in folder.rglob("*") if path.suffix in (".png", ".part")], folder
    assert Study.objects.get(pk=study.pk).status == Study.Status.OPEN

    # The web process (this one) serves the worker's images to an annotator, through the site and presigned.
    [annotator] = services.create_annotators(study=study, count=1)
    client.post(reverse("annotations:invite", args=[annotator.token]), {"consent": "yes"})
    page = client.get(reverse("annotations:rate", args=[annotator.token])).content.decode()
    urls = re.findall(r'<img[^>]*\ssrc="([^"]+)"', page)
    assignment = Assignment.objects.select_related("pair__job").get(annotator=annotator, shown_at__isnull=False)
    job = assignment.pair.job
    left, right = (
        (job.ours_image, job.baseline_image) if assignment.ours_on_left else (job.baseline_image, job.ours_image)
    )
    stored = {
        name: s3_bucket.client.get_object(Bucket=s3_bucket.name, Key=name)["Body"].read() for name in (left, right)
    }
    proxied = [client.get(url) for url in urls]
    assert [r.status_code for r in proxied] == [200, 200]
    assert [r.content for r in proxied] == [stored[left], stored[right]]
    settings.EVALSITE_IMAGE_DELIVERY = "presigned"
    redirects = [client.get(url) for url in urls]
    assert [r.status_code for r in redirects] == [302, 302]
    fetched = [requests.get(r.headers["Location"], timeout=10) for r in redirects]
    assert [r.content for r in fetched] == [stored[left], stored[right]]
    assert {r.headers["Content-Type"] for r in fetched} == {"image/png"}
