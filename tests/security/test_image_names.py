"""Public image names are random values stored with each pair job: whoever knows SECRET_KEY learns nothing from
them, and a redelivered task writes under the names it was given, leaving no orphan or duplicate."""

import hashlib
import hmac
import os
import re

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from scipy.stats import binomtest

from generation.models import PairJob
from generation.services import create_pair_job
from generation.storage import write_atomic
from generation.tasks import generate_pair_jobs

pytestmark = pytest.mark.django_db

NAME = re.compile(r"img/[0-9a-f]{32}\.png")
JOBS = 300


def make_job(model: str = "unused", index: int = 0) -> PairJob:
    return create_pair_job(
        prompt=f"A lighthouse on a rocky coast, take {index}",
        model=model,
        seed=index,
        width=64,
        height=64,
        steps=2,
        guidance_scale=7.5,
        scheduler="ddim",
    )


def keyed_stems(job_ids) -> set[str]:
    """What the key would give: the earlier rule's HMAC-SHA256 of "pair-job:{id}:{arm}", as hex."""
    key = settings.SECRET_KEY.encode()
    return {
        hmac.new(key, f"pair-job:{job_id}:{arm}".encode(), hashlib.sha256).hexdigest()
        for job_id in job_ids
        for arm in ("baseline", "ours")
    }


def stem(name: str) -> str:
    return os.path.basename(name).removesuffix(".png")


def test_names_are_drawn_at_random_when_a_job_is_made_and_kept_through_generation(tiny_model):
    jobs = [make_job(tiny_model, index) for index in range(2)]
    drawn = {job.pk: (job.baseline_image, job.ours_image) for job in jobs}
    assert generate_pair_jobs([job.pk for job in jobs])["done"] == 2
    for job in jobs:
        job.refresh_from_db()
        assert (job.baseline_image, job.ours_image) == drawn[job.pk], "generation writes under the stored names"
        for name in (job.baseline_image, job.ours_image):
            assert NAME.fullmatch(name) and default_storage.exists(name)
    names = [stem(name) for pair in drawn.values() for name in pair]
    ids = range(1, max(drawn) + 100)
    assert not any(digest.startswith(name) for digest in keyed_stems(ids) for name in names)


def test_with_the_key_known_the_names_tell_neither_arm_nor_job():
    """Names are all of one form and independent of each other, of the arm and of the job id: the key gives no
    name (the earlier rule's names are all missed), and a pair's two names order by arm no better than a coin,
    which also makes the upload order (by name) independent of the arm."""
    jobs = [make_job(index=index) for index in range(JOBS)]
    names = [(job.baseline_image, job.ours_image) for job in jobs]
    assert all(NAME.fullmatch(name) for pair in names for name in pair), "one form for both arms"
    assert len({name for pair in names for name in pair}) == 2 * JOBS, "every name is a fresh draw"
    assert not {stem(name)[:32] for pair in names for name in pair} & {
        digest[:32] for digest in keyed_stems(job.pk for job in jobs)
    }
    baseline_first = sum(baseline < ours for baseline, ours in names)
    assert binomtest(baseline_first, JOBS).pvalue > 1e-6
    # bit by bit the two names of a job agree half the time: neither is a function of the other
    agree = sum(
        bin(~(int(stem(baseline), 16) ^ int(stem(ours), 16)) & (2**128 - 1)).count("1") for baseline, ours in names
    )
    assert binomtest(agree, 128 * JOBS).pvalue > 1e-6
    # and a job's names do not follow from its id: the first hex digit is spread over all 16 values either arm
    for arm in (0, 1):
        assert len({stem(pair[arm])[0] for pair in names}) == 16


def test_a_redelivered_task_overwrites_under_the_same_names(tiny_model):
    """A worker killed after uploading one image of a pair leaves the job running under its task id; the broker
    delivers that task again, which writes both images under the job's names: no orphan, no second name."""
    job = make_job(tiny_model)
    drawn = (job.baseline_image, job.ours_image)
    PairJob.objects.filter(pk=job.pk).update(status=PairJob.Status.RUNNING, task_id="killed-task", attempts=1)
    write_atomic(min(drawn), b"the first of two uploads, from the killed worker")
    assert generate_pair_jobs.apply(([job.pk],), task_id="killed-task").get()["done"] == 1
    job.refresh_from_db()
    assert (job.status, job.attempts, (job.baseline_image, job.ours_image)) == ("done", 2, drawn)
    assert sorted(os.listdir(default_storage.path("img"))) == sorted(os.path.basename(name) for name in drawn)
    with default_storage.open(min(drawn), "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
