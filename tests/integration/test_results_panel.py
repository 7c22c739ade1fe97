"""The results panel in Chromium against a live server: it shows the headline numbers, builds the study's bundle,
follows a worker's progress by polling (no reload) and downloads what ``export_results`` writes, with no
Content-Security-Policy violation and no console error."""

import io
import zipfile
from pathlib import Path

from django.core.management import call_command
from django.urls import reverse

from analysis import bundles
from analysis.models import ResultsBundle
from annotations import services
from annotations.models import Criterion
from annotations.services import design
from evalsite.celery import app
from tests.analysis.test_exports import rate_all
from tests.factories import make_open_study
from tests.integration.browser import (  # noqa: F401 (fixtures are found by name)
    BROWSER_MARKS,
    async_unsafe_ok,
    chromium,
    new_context,
    screenshot,
)
from tests.security.test_csp import Watched, staff_context

pytestmark = BROWSER_MARKS
SCORES = [[(3, 8), (5, 5), (6, 4)], [(2, 9), (4, 7), (6, 6)], [(4, 6), (5, 7), (3, 3)]]


def run_queued_bundle_task() -> None:
    """Take the bundle task off the in-memory broker's queue and run it, as a worker of that queue would (the
    generation tasks queued when the study's pairs were made, already generated here, are dropped on the way)."""
    with app.connection_for_read() as connection:
        queue = connection.SimpleQueue(bundles.BUNDLE_QUEUE)
        while True:
            message = queue.get(timeout=5)
            message.ack()
            if message.headers["task"] == "analysis.tasks.build_results_bundle":
                break
        queue.close()
    args, kwargs, _ = message.decode()
    assert app.tasks[message.headers["task"]].apply(args, kwargs, task_id=message.headers["id"]).get() == "done"


def test_the_results_panel_shows_progress_and_downloads_the_bundle(live_server, new_context, monkeypatch, tmp_path):
    study, annotators = make_open_study(slug="panel", prompts=3, annotators=3)
    rate_all(study, annotators, SCORES)
    watched = Watched(staff_context(new_context, live_server))
    page = watched.new_page()
    page.goto(live_server.url + reverse("analysis:results", args=[study.slug]))

    panel = page.locator("#results-panel")
    assert panel.locator("h2").inner_text() == "Results"
    headline = page.locator("#headline").inner_text()
    assert "Ours − Baseline [95% CI]" in headline and "3 · 3 · 9" in headline
    assert page.locator("#bundle-none").inner_text() == "Not built yet."
    assert not page.locator("#bundle-ready").is_visible() and not page.locator("#bundle-building").is_visible()
    # the panel spans the content column above the paper table, its button inside it
    box, button = panel.bounding_box(), page.locator("#bundle-build-button").bounding_box()
    table = page.locator("#summary-table").bounding_box()
    assert box["width"] > 600 and box["y"] + box["height"] <= table["y"]
    assert box["x"] < button["x"] and button["x"] + button["width"] < box["x"] + box["width"]
    assert box["y"] < button["y"] and button["y"] + button["height"] < box["y"] + box["height"]

    # built by a worker: the page shows it queued, then polls until the downloads are there, without reloading
    monkeypatch.setattr(bundles, "INLINE_RATINGS", 0)
    page.locator("#bundle-build-button").click()
    page.locator("#bundle-building").wait_for(state="visible")
    assert page.locator("#bundle-stage").inner_text() == "Queued for a worker…"
    assert not page.locator("#bundle-build").is_visible()
    page.evaluate("() => { window.samePage = true; }")
    run_queued_bundle_task()
    page.locator("#bundle-ready").wait_for(state="visible", timeout=15_000)
    assert page.evaluate("() => window.samePage === true")
    assert not page.locator("#bundle-building").is_visible() and not page.locator("#bundle-build").is_visible()
    bundle = ResultsBundle.objects.get(study=study)
    assert page.locator("#bundle-files a").all_inner_texts() == [name for name, _ in bundle.files]
    screenshot(page, "results-panel")

    out = tmp_path / "export"
    call_command("export_results", study.slug, "--format", "all", "--out", str(out), stdout=io.StringIO())
    written = {path.name: path.read_bytes() for path in out.iterdir()}
    with page.expect_download() as download:
        page.locator("#bundle-zip").click()
    assert download.value.suggested_filename == "panel-results.zip"
    archive = zipfile.ZipFile(download.value.path())
    assert sorted(archive.namelist()) == sorted(written)
    assert all(archive.read(name) == data for name, data in written.items())
    with page.expect_download() as download:
        page.locator("#bundle-files a", has_text="summary.md").click()
    assert download.value.suggested_filename == "summary.md"
    assert Path(download.value.path()).read_bytes() == written["summary.md"]
    assert watched.problems == []


def test_a_study_of_two_criteria_shows_one_at_a_time_and_links_the_other(live_server, new_context):
    study, annotators = make_open_study(slug="twofold", prompts=3, annotators=2)
    design.add_criterion(criterion=Criterion(study=study, key="quality", question="How good?", label="Quality"))
    for number, annotator in enumerate(annotators):
        services.give_consent(annotator=annotator)
        for order, assignment in enumerate(annotator.assignments.order_by("order")):
            scores = {"left": 2 + order, "right": 9 - number, "left-quality": 7 - order, "right-quality": 4}
            services.submit_rating(annotator_id=annotator.pk, assignment_id=assignment.pk, scores=scores)
    watched = Watched(staff_context(new_context, live_server))
    page = watched.new_page()
    page.goto(live_server.url + reverse("analysis:results", args=[study.slug]))
    assert page.locator("#results-panel h2").inner_text() == "Results: Score"
    nav = page.locator("#criteria")
    assert nav.locator("[aria-current=page]").inner_text() == "Score"
    assert nav.bounding_box()["width"] > 300
    nav.get_by_role("link", name="Quality").click()
    page.wait_for_url("**criterion=quality")
    assert page.locator("#results-panel h2").inner_text() == "Results: Quality"
    assert "2 · 3 · 6" in page.locator("#headline").inner_text()
    assert nav.get_by_role("link", name="Score").is_visible()
    assert watched.problems == []
