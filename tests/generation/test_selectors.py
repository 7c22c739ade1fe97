from datetime import timedelta

import pytest
from django.utils import timezone

from generation.models import PairJob
from generation.selectors import format_duration, job_progress
from generation.services import create_pair_job

pytestmark = pytest.mark.django_db


def jobs(count: int) -> list[PairJob]:
    return [
        create_pair_job(
            prompt=f"prompt {i}", model="m", seed=i, width=64, height=64, steps=2, guidance_scale=7.5, scheduler="ddim"
        )
        for i in range(count)
    ]


def test_progress_counts_and_eta():
    done, failed, running, *pending = jobs(6)
    start = timezone.now() - timedelta(seconds=100)
    PairJob.objects.filter(pk=done.pk).update(
        status="done",
        baseline_image="a.png",
        ours_image="b.png",
        started_at=start,
        finished_at=start + timedelta(seconds=20),
    )
    PairJob.objects.filter(pk=failed.pk).update(status="failed", error="x")
    PairJob.objects.filter(pk=running.pk).update(status="running", started_at=timezone.now())
    progress = job_progress(PairJob.objects.all())
    assert (progress.done, progress.failed, progress.running, progress.pending, progress.total) == (1, 1, 1, 3, 6)
    assert progress.eta == timedelta(seconds=80)  # 4 left at 20 s per pair
    assert str(progress) == "1/6 done, 1 failed, 1 running, 3 pending, ETA 1 min 20 s"


def test_no_eta_before_the_first_pair():
    jobs(2)
    progress = job_progress(PairJob.objects.all())
    assert progress.eta is None and str(progress) == "0/2 done, 0 running, 2 pending"


@pytest.mark.parametrize(("seconds", "text"), [(5, "5 s"), (125, "2 min 05 s"), (7500, "2 h 05 min")])
def test_format_duration(seconds, text):
    assert format_duration(timedelta(seconds=seconds)) == text
