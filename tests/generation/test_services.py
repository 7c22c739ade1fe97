"""Queueing pair jobs: what is sent, and when a running job may be sent again."""

import pytest
from django.urls import reverse

from generation.models import PairJob
from generation.services import create_pair_job, queue_pair_jobs, requeue_running_jobs
from generation.tasks import generate_pair_jobs

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch) -> list[list[int]]:
    """The job ids of each task sent to the broker."""
    calls = []
    monkeypatch.setattr(generate_pair_jobs, "delay", lambda ids: calls.append(sorted(ids)))
    return calls


def jobs_in(*statuses: str) -> list[PairJob]:
    jobs = []
    for i, status in enumerate(statuses):
        job = create_pair_job(
            prompt=f"prompt {i}", model="m", seed=i, width=64, height=64, steps=2, guidance_scale=7.5, scheduler="ddim"
        )
        fields = {"status": status, "task_id": "held" if status == "running" else ""}
        if status == "done":
            fields |= {"baseline_image": "img/a.png", "ours_image": "img/b.png"}
        PairJob.objects.filter(pk=job.pk).update(**fields)
        jobs.append(job)
    return jobs


def test_queue_sends_pending_and_failed_jobs_only(sent, django_capture_on_commit_callbacks):
    pending, failed, running, done = jobs_in("pending", "failed", "running", "done")
    with django_capture_on_commit_callbacks(execute=True):
        count = queue_pair_jobs(job_ids=[pending.pk, failed.pk, running.pk, done.pk])
    assert count == 2
    assert sent == [[pending.pk, failed.pk]]
    assert dict(PairJob.objects.values_list("pk", "status")) == {
        pending.pk: "pending",
        failed.pk: "pending",
        running.pk: "running",
        done.pk: "done",
    }


def test_nothing_is_sent_before_the_transaction_commits(sent, django_capture_on_commit_callbacks):
    (job,) = jobs_in("pending")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        queue_pair_jobs(job_ids=[job.pk])
    assert sent == [] and len(callbacks) == 1


def test_requeue_running_releases_the_running_jobs_only(sent, django_capture_on_commit_callbacks):
    running, pending, done = jobs_in("running", "pending", "done")
    with django_capture_on_commit_callbacks(execute=True):
        assert requeue_running_jobs(job_ids=[running.pk, pending.pk, done.pk]) == 1
    assert sent == [[running.pk]]
    running.refresh_from_db()
    assert (running.status, running.task_id) == ("pending", "")


def test_admin_actions(admin_client, sent, django_capture_on_commit_callbacks):
    pending, running = jobs_in("pending", "running")
    url = reverse("admin:generation_pairjob_changelist")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            url, {"action": "queue_selected", "_selected_action": [pending.pk, running.pk]}, follow=True
        )
    assert "Queued 1 pair job(s)." in response.content.decode()
    assert sent == [[pending.pk]]
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            url, {"action": "requeue_running_selected", "_selected_action": [pending.pk, running.pk]}, follow=True
        )
    assert "Queued 1 running pair job(s) again." in response.content.decode()
    assert sent == [[pending.pk], [running.pk]]


def test_a_saved_job_cannot_be_edited_in_admin(admin_client):
    (job,) = jobs_in("done")
    url = reverse("admin:generation_pairjob_change", args=[job.pk])
    page = admin_client.get(url).content.decode()
    assert 'name="prompt"' not in page and 'name="seed"' not in page
    admin_client.post(url, {"prompt": "another prompt", "seed": 999, "model": "other"})
    job.refresh_from_db()
    assert (job.prompt, job.seed, job.model, job.status) == ("prompt 0", 0, "m", "done")
    add = admin_client.get(reverse("admin:generation_pairjob_add")).content.decode()
    assert 'name="prompt"' in add
