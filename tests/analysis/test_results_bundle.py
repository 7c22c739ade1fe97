"""The results panel's bundle: the zip holds exactly what ``export_results --format all`` writes, one file or all of
it downloads, it is built in the request for a small study and by the Celery task (through the broker) for a large
one, it is built again when the study's data change, and only users who may export the study reach it."""

import io
import json
import re
import zipfile

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from analysis import bundles
from analysis.documents import results_zip
from analysis.models import AnalysisSettings, ResultsBundle
from annotations import services
from annotations.models import Study
from evalsite.celery import app
from tests.analysis.test_exports import SCORES, rate_all
from tests.factories import make_open_study

pytestmark = pytest.mark.django_db
DONE = ResultsBundle.Status.DONE


@pytest.fixture
def rated():
    study, annotators = make_open_study(slug="page", prompts=3, annotators=3)
    rate_all(study, annotators, [*SCORES, [(5, 5), (5, 5), (5, 5)]])
    return study


def user(name: str, *, researcher: bool = True, staff: bool = True):
    account = get_user_model().objects.create_user(name, password="a long password 123", is_staff=staff)
    if researcher:
        account.groups.add(Group.objects.get(name="Researcher"))
    return account


def signed_in(account) -> Client:
    client = Client()
    client.force_login(account)
    return client


def owner_client(study: Study) -> Client:
    """A researcher who owns ``study``."""
    account = user("owner")
    Study.objects.filter(pk=study.pk).update(owner=account)
    return signed_in(account)


def urls(study: Study, bundle_id: int = 0) -> dict[str, str]:
    return {
        "build": reverse("analysis:bundle_build", args=[study.slug]),
        "status": reverse("analysis:bundle_status", args=[study.slug]),
        "zip": reverse("analysis:bundle_zip", args=[study.slug, bundle_id]),
        "file": reverse("analysis:bundle_file", args=[study.slug, bundle_id, "summary.json"]),
    }


def exported(study: Study, folder) -> dict[str, bytes]:
    """What ``export_results <study> --format all --out folder`` writes, by file name."""
    call_command("export_results", study.slug, "--format", "all", "--out", str(folder), stdout=io.StringIO())
    return {path.name: path.read_bytes() for path in folder.iterdir()}


def test_the_zip_and_each_file_are_what_export_results_writes(rated, tmp_path, media_root):
    client = owner_client(rated)
    response = client.post(urls(rated)["build"])
    assert response.status_code == 302 and response["Location"] == "/results/page/#results-panel"
    bundle = ResultsBundle.objects.get(study=rated)
    assert bundle.status == DONE and bundle.error == "" and bundle.ratings == 9
    assert re.fullmatch(r"results/[0-9a-f]{32}\.zip", bundle.name) and (media_root / bundle.name).is_file()
    assert bundle.step == bundle.steps > 0

    download = client.get(urls(rated, bundle.pk)["zip"])
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    assert download["Content-Disposition"] == 'attachment; filename="page-results.zip"'
    archive = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))

    written = exported(rated, tmp_path / "out")
    # the manifest and the summary carry no timestamp (nothing to leave out), so every byte must match
    assert not re.search(rb"\d{4}-\d\d-\d\dT\d\d:", written["protocol.json"] + written["summary.json"])
    assert sorted(archive.namelist()) == sorted(written)
    assert {"page-ratings.csv", "summary.json", "summary.tex", "summary-wide.tex", "summary.md"} <= set(written)
    assert {
        f"page-{plot}-{width}.{fmt}"
        for plot in ("scores", "items", "annotators")
        for width in ("single", "double")
        for fmt in ("pdf", "svg", "png")
    } <= set(written)
    for name, data in written.items():
        assert archive.read(name) == data, name
        single = client.get(reverse("analysis:bundle_file", args=[rated.slug, bundle.pk, name]))
        assert single.status_code == 200 and single.content == data, name
        assert single["Content-Disposition"] == f'attachment; filename="{name}"'
    assert [name for name, _ in bundle.files] == sorted(written)
    assert all(size == len(written[name]) for name, size in bundle.files)

    # the same files give the same zip: a second build's bytes are identical
    again = results_zip(slug=rated.slug)[0]
    assert again == (media_root / bundle.name).read_bytes()


def test_the_panel_shows_the_headline_and_the_downloads(rated):
    client = owner_client(rated)
    html = client.get("/results/page/").content.decode()
    study = json.loads(io_export(rated))["studies"][0]
    panel = html[html.index('id="results-panel"') : html.index("</section>")]
    assert "<h2>Results</h2>" in panel
    assert f"{study['counts']['annotators']} · {study['counts']['items']} · {study['counts']['ratings']}" in panel
    assert 'id="bundle-none">Not built yet.' in panel and "Build the downloads" in panel
    assert 'id="bundle-ready" hidden' in panel

    client.post(urls(rated)["build"])
    bundle = ResultsBundle.objects.get(study=rated)
    html = client.get("/results/page/").content.decode()
    panel = html[html.index('id="results-panel"') : html.index("</section>")]
    assert 'id="bundle-ready">' in panel and 'id="bundle-build"' in panel and 'id="bundle-none" hidden' in panel
    assert f'href="{urls(rated, bundle.pk)["zip"]}"' in panel
    for name, _ in bundle.files:
        assert reverse("analysis:bundle_file", args=[rated.slug, bundle.pk, name]) in panel
    assert '<script src="/static/analysis/results.js">' in html


def io_export(study: Study) -> str:
    out = io.StringIO()
    call_command("export_results", study.slug, "--format", "json", stdout=out)
    return out.getvalue()


def test_asking_again_reuses_the_bundle_until_the_data_change(rated, media_root):
    client = owner_client(rated)
    client.post(urls(rated)["build"])
    first = ResultsBundle.objects.get(study=rated)
    client.post(urls(rated)["build"])
    assert ResultsBundle.objects.filter(study=rated).count() == 1
    assert client.get(urls(rated)["status"]).json()["stale"] is False

    # a new rating makes it out of date: the page says so and offers to build it again
    (extra,) = services.create_annotators(study=rated, count=1)
    rate_all(rated, [extra], [[(4, 6)]])
    state = client.get(urls(rated)["status"]).json()
    assert state["status"] == "done" and state["stale"] is True
    html = client.get("/results/page/").content.decode()
    assert 'id="bundle-stale" class="flag">Built from 9 ratings' in html and "Build again" in html
    client.post(urls(rated)["build"])
    second = ResultsBundle.objects.get(study=rated)  # the older one is gone, with its file
    assert second.pk != first.pk and second.ratings == 10 and second.status == DONE
    assert not (media_root / first.name).exists() and (media_root / second.name).is_file()
    assert client.get(urls(rated, first.pk)["zip"]).status_code == 404

    # so do changed exclusion rules
    AnalysisSettings.objects.create(study=rated, exclude_straightliners=False)
    assert client.get(urls(rated)["status"]).json()["stale"] is True


def test_a_large_study_is_built_by_the_task_through_the_broker(rated, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(bundles, "INLINE_RATINGS", 5)  # the study's 9 ratings are "large"
    client = owner_client(rated)
    with django_capture_on_commit_callbacks(execute=True) as sent:
        client.post(urls(rated)["build"])
    assert len(sent) == 1  # the task is sent once the bundle's row is committed
    bundle = ResultsBundle.objects.get(study=rated)
    assert bundle.status == ResultsBundle.Status.QUEUED
    assert client.get(urls(rated)["status"]).json() == {
        "status": "queued",
        "status_display": "Queued",
        "step": 0,
        "steps": 0,
        "ratings": 9,
        "error": "",
        "stale": False,
        "finished_at": None,
    }
    html = client.get("/results/page/").content.decode()
    assert 'id="bundle-building">' in html and "Queued for a worker…" in html
    assert 'id="bundle-build" hidden' in html
    with django_capture_on_commit_callbacks(execute=True) as sent:
        client.post(urls(rated)["build"])  # asking again while it is queued sends nothing more
    assert sent == [] and ResultsBundle.objects.filter(study=rated).count() == 1

    # what a worker on the "gpu" queue receives, run as the worker runs it
    with app.connection_for_read() as connection:
        queue = connection.SimpleQueue(bundles.BUNDLE_QUEUE)
        message = queue.get(timeout=5)
        assert message.headers["task"] == "analysis.tasks.build_results_bundle"
        args, kwargs, _ = message.decode()
        assert args == [bundle.pk]
        message.ack()
        with pytest.raises(queue.Empty):
            queue.get(timeout=0.2)
        queue.close()
    task = app.tasks[message.headers["task"]]
    assert task.apply(args, kwargs, task_id=message.headers["id"]).get() == "done"
    state = client.get(urls(rated)["status"]).json()
    assert state["status"] == "done" and state["step"] == state["steps"] == 3  # ratings, analysis, plots
    assert [file["name"] for file in state["files"]] == [name for name, _ in ResultsBundle.objects.get().files]
    assert client.get(state["zip"]["url"]).status_code == 200
    # a task delivered twice leaves the bundle alone
    assert task.apply(args, kwargs).get() == "skipped"


def test_a_bundle_that_cannot_be_built_says_why(client):
    study, _ = make_open_study(slug="empty", prompts=2, annotators=1)
    client = owner_client(study)
    client.post(urls(study)["build"])
    bundle = ResultsBundle.objects.get(study=study)
    assert bundle.status == ResultsBundle.Status.FAILED and "no ratings" in bundle.error
    state = client.get(urls(study)["status"]).json()
    assert state["status"] == "failed" and "no ratings" in state["error"] and "zip" not in state
    assert client.get(urls(study, bundle.pk)["zip"]).status_code == 404


def test_only_those_who_may_export_the_study_reach_its_bundle(rated, client):
    owner = owner_client(rated)
    owner.post(urls(rated)["build"])
    bundle = ResultsBundle.objects.get(study=rated)
    mine = urls(rated, bundle.pk)

    for name, url in mine.items():  # signed out: to the sign-in page
        response = client.post(url) if name == "build" else client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], name

    # staff without the export permission: 403, even on their own study
    viewer = user("viewer", researcher=False)
    Study.objects.filter(pk=rated.pk).update(owner=viewer)
    for name, url in mine.items():
        response = signed_in(viewer).post(url) if name == "build" else signed_in(viewer).get(url)
        assert response.status_code == 403, name
    Study.objects.filter(pk=rated.pk).update(owner=get_user_model().objects.get(username="owner"))

    # another researcher's study looks like none: 404
    other = signed_in(user("other"))
    for name, url in mine.items():
        response = other.post(url) if name == "build" else other.get(url)
        assert response.status_code == 404, name
    assert ResultsBundle.objects.count() == 1

    # a bundle of one study is not reached under another study's address, and only its own files are served
    theirs, annotators = make_open_study(slug="theirs", prompts=3, annotators=2)
    Study.objects.filter(pk=theirs.pk).update(owner=get_user_model().objects.get(username="owner"))
    assert owner.get(urls(theirs, bundle.pk)["zip"]).status_code == 404
    assert owner.get(urls(theirs, bundle.pk)["file"]).status_code == 404
    assert owner.get(reverse("analysis:bundle_file", args=[rated.slug, bundle.pk, "settings.py"])).status_code == 404
    assert owner.get(mine["build"]).status_code == 405
    assert owner.get(mine["zip"]).status_code == 200


def test_the_study_page_links_the_results_page(admin_client):
    study, _ = make_open_study(slug="linked", prompts=1, annotators=1)
    html = admin_client.get(reverse("admin:annotations_study_change", args=[study.pk])).content.decode()
    assert f'<a href="{reverse("analysis:results", args=[study.slug])}">Results</a>' in html
