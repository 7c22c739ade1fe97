"""Images in S3-compatible object storage (a real moto server on loopback): opaque keys, verified uploads, and
an annotator's browser that learns nothing about the arm, whether the site proxies the images or redirects to
presigned URLs."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.core.files.storage import default_storage
from django.urls import reverse
from storages.backends.s3 import S3Storage

from annotations.models import Assignment
from generation.services import create_pair_job
from generation.tasks import generate_pair_jobs
from tests.factories import make_open_study
from tests.integration.s3 import s3_bucket, s3_server  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db

KEY = re.compile(r"img/[0-9a-f]{32}\.png")
ARM_WORDS = ("baseline", "ours", "scaled", "entropy", "arm")
PRESIGNED_PARAMS = {
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
}


def assert_headers_blind(headers) -> None:
    lowered = {name.lower(): value for name, value in headers.items()}
    assert lowered["content-type"] == "image/png"
    assert "content-disposition" not in lowered
    assert not [name for name in lowered if name.startswith("x-amz-meta-")]
    for name, value in lowered.items():
        assert not any(word in f"{name}: {value}".lower() for word in ARM_WORDS), (name, value)


def test_worker_task_stores_pairs_in_the_bucket_under_opaque_keys(s3_bucket, tiny_model, media_root):
    jobs = [
        create_pair_job(
            prompt=p, model=tiny_model, seed=i, width=96, height=64, steps=2, guidance_scale=7.5, scheduler="ddim"
        )
        for i, p in enumerate(["A red bicycle", "Two cats on a sofa"])
    ]
    assert generate_pair_jobs([job.pk for job in jobs])["done"] == 2
    assert isinstance(default_storage._wrapped, S3Storage)
    names = []
    for job in jobs:
        job.refresh_from_db()
        assert job.status == "done"
        for name in (job.baseline_image, job.ours_image):
            assert KEY.fullmatch(name)
            head = s3_bucket.client.head_object(Bucket=s3_bucket.name, Key=name)
            assert head["ContentType"] == "image/png" and head["Metadata"] == {}
            assert "ContentDisposition" not in head and head["ContentLength"] == default_storage.size(name)
            names.append(name)
    assert s3_bucket.keys() == sorted(names), "exactly the pairs' objects: no probe, temporary or duplicate key"
    assert not media_root.exists() or not any(media_root.rglob("*.png")), "nothing went to the local MEDIA_ROOT"
    # A redelivered task finds the pairs done in the bucket and writes nothing.
    assert generate_pair_jobs([job.pk for job in jobs]) == {"missing": 0, "skipped": 2}


def _image_urls(client, annotator) -> list[str]:
    """What the annotator's browser loads for the first pair: the <img> sources of the rating page."""
    client.post(reverse("annotations:invite", args=[annotator.token]), {"consent": "yes"})
    page = client.get(reverse("annotations:rate", args=[annotator.token]))
    assert page.status_code == 200
    urls = re.findall(r'<img[^>]*\ssrc="([^"]+)"', page.content.decode())
    assert len(urls) == 2, urls
    return urls


@pytest.mark.parametrize("delivery", ["proxy", "presigned"])
def test_annotator_receives_images_that_do_not_tell_the_arm(delivery, s3_bucket, settings, client):
    settings.EVALSITE_IMAGE_DELIVERY = delivery
    study, [annotator] = make_open_study(slug="blind", prompts=3, annotators=1)
    keys = s3_bucket.keys()
    assert len(keys) == 6 and all(KEY.fullmatch(key) for key in keys)
    urls = _image_urls(client, annotator)
    assignment = Assignment.objects.select_related("pair__job").get(annotator=annotator, shown_at__isnull=False)
    job = assignment.pair.job
    expected = {
        "left": job.ours_image if assignment.ours_on_left else job.baseline_image,
        "right": job.baseline_image if assignment.ours_on_left else job.ours_image,
    }
    received = {}
    for side, url in zip(("left", "right"), urls, strict=True):
        assert not any(word in url.lower() for word in ARM_WORDS)
        response = client.get(url)
        if delivery == "proxy":
            assert response.status_code == 200
            assert_headers_blind(response.headers)
            received[side] = response.content
            continue
        assert response.status_code == 302
        assert response.headers["Cache-Control"] == "private, max-age=60"  # half of AWS_QUERYSTRING_EXPIRE=120
        location = response.headers["Location"]
        parts = urlsplit(location)
        assert f"{parts.scheme}://{parts.netloc}" == s3_bucket.env["AWS_S3_ENDPOINT_URL"]
        key = parts.path.removeprefix(f"/{s3_bucket.name}/")
        assert KEY.fullmatch(key), "the presigned URL names only the opaque key"
        query = parse_qs(parts.query)
        assert set(query) == PRESIGNED_PARAMS and query["X-Amz-Expires"] == ["120"]
        assert not any(word in location.lower() for word in ARM_WORDS)
        image = requests.get(location, timeout=10)  # what the browser then fetches from the object storage
        assert image.status_code == 200
        assert_headers_blind(image.headers)
        received[side] = image.content
    for side in ("left", "right"):
        with default_storage.open(expected[side], "rb") as handle:
            assert received[side] == handle.read()
    assert received["left"] != received["right"]
