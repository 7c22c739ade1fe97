"""Pilot runs in Chromium: a researcher previews a ready study from its page and a colleague opens the pilot link on
a phone; each goes through consent, the rating page with the study's pairs and its attention check, and the finish
page, under the pilot banner (in view, on one screen, naming no arm), with no console error or CSP violation; axe-core
finds nothing serious on the pilot pages; and the study's own numbers stay at zero.

With EVALSITE_SCREENSHOTS=1 the tests save the guides' pictures of pilot runs under docs/img/.
"""

import os
import re

from django.urls import reverse

from annotations import services
from annotations.models import Annotator, Study
from annotations.selectors import live_monitor
from generation.models import PairJob
from tests.factories import fake_generate, pair_ratings
from tests.integration.browser import (  # noqa: F401 (fixtures are found by name)
    BROWSER_MARKS,
    TIMEOUT_MS,
    async_unsafe_ok,
    chromium,
    new_context,
    page,
)
from tests.integration.test_accessibility import axe_findings
from tests.integration.test_annotator_layout import DOCS_IMG, paint_scenes, wait_for_images
from tests.integration.test_browser_flows import consent_by_clicks, rate_by_clicks
from tests.integration.test_study_page_browser import (  # noqa: F401
    browser_page,
    no_problems,
    open_page,
    own_study,
    picture,
    researcher,
    visible_box,
)
from tests.security.test_csp import Watched

pytestmark = BROWSER_MARKS

BANNER = "Pilot run · a trial of this study: nothing answered here counts in its results."
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 800}


def ready(study: Study) -> Study:
    """Generate the study's pairs (as scenes, for the pictures) and leave it ready, not open."""
    services.queue_study_generation(study=study)
    for pair in study.pairs.select_related("job"):
        if pair.job.status != PairJob.Status.DONE:
            fake_generate(pair.job)
    services.studies.refresh_study_status(study_id=study.pk)
    study = Study.objects.get(pk=study.pk)
    assert study.status == Study.Status.READY
    paint_scenes(study)
    return study


def watch(page) -> list[str]:
    """Console errors, uncaught exceptions and failed responses of a page opened by the site (a new tab)."""
    problems = getattr(page, "problems", None)
    if problems is None:
        problems = page.problems = []
        page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on("response", lambda r: r.status >= 400 and problems.append(f"{r.status}: {r.url}"))
    return problems


def assert_banner(page) -> None:
    """The pilot banner is the first thing on the page, whole, in view, and names no arm."""
    banner = page.locator("#pilot-banner")
    assert banner.count() == 1 and banner.inner_text() == BANNER
    found, viewport = banner.bounding_box(), page.viewport_size
    assert found and found["y"] < 80 and found["height"] >= 16, found
    assert found["x"] >= 0 and found["x"] + found["width"] <= viewport["width"] + 0.5, found
    assert found["width"] > viewport["width"] * 0.6, found
    text = page.locator("body").inner_text().lower()
    assert not re.search(r"\b(ours|baseline|arm)\b", text), text


def assert_one_screen(page) -> None:
    """The rating page, banner included, fits the window: nothing to scroll, Submit and both scales in view."""
    size = page.evaluate(
        "() => ({w: document.documentElement.scrollWidth, h: document.documentElement.scrollHeight,"
        " vw: innerWidth, vh: innerHeight})"
    )
    assert size["h"] <= size["vh"] and size["w"] <= size["vw"], size
    for selector in ("#pilot-banner", "#prompt", "#figure-left img", "#figure-right img", "#scale-right", "#submit"):
        found = page.locator(selector).bounding_box()
        assert found and found["y"] >= 0 and found["y"] + found["height"] <= size["vh"] + 0.5, (selector, found)


def rate_to_the_end(page) -> int:
    """Answer every pair on screen (the attention check among them) by clicks; the pairs answered."""
    answered = 0
    while page.locator("#remaining").count():
        assert_banner(page)
        assert_one_screen(page)
        wait_for_images(page)
        rate_by_clicks(page, 7, 4)
        answered += 1
    return answered


def test_a_researcher_previews_a_ready_study_as_an_annotator(live_server, browser_page, researcher, settings):
    settings.SITE_URL = "https://eval.example.org"
    study = ready(
        own_study(
            researcher,
            slug="pilot",
            prompts=3,
            width=512,
            height=512,
            attention_checks=1,
            completion_code="PAID01",
            completion_url="https://app.prolific.com/submissions/complete",
        )
    )
    page = browser_page
    open_page(page, live_server, study)
    section = page.locator("section", has=page.get_by_role("heading", name="Try it first: pilot runs"))
    visible_box(section)
    link = page.locator("#study-pilot-link")
    assert link.inner_text() == f"https://eval.example.org/pilot/{study.pilot_token}/"
    visible_box(link)
    page.locator('button[data-copy-target="study-pilot-link"]').click()
    assert page.evaluate("navigator.clipboard.readText()") == link.inner_text()
    assert page.locator("#study-pilot-runs").inner_text() == "No pilot runs yet."
    preview = page.get_by_role("button", name="Preview as annotator")
    assert preview.is_enabled()
    visible_box(preview)

    with page.context.expect_page() as opened:
        preview.click()
    pilot_page = opened.value
    problems = watch(pilot_page)
    pilot_page.wait_for_load_state()
    assert pilot_page.url.startswith(f"{live_server.url}/a/")
    assert_banner(pilot_page)
    consent_by_clicks(pilot_page)
    assert pilot_page.locator("#remaining").inner_text() == "Pair 1 of 4"  # three pairs and the attention check
    assert rate_to_the_end(pilot_page) == 4
    assert pilot_page.url.endswith("/done/")  # the finish page, not the study's completion URL
    assert_banner(pilot_page)
    assert "PAID01" not in pilot_page.locator("#done").inner_text()
    assert "completion URL" in pilot_page.locator("#pilot-done").inner_text()
    assert problems == []

    (pilot,) = Annotator.objects.filter(study=study)
    assert pilot.is_pilot and pilot.finished_at and pair_ratings().filter(assignment__annotator=pilot).count() == 3
    seen = live_monitor(study=study)
    assert (seen.monitor.invited, seen.monitor.ratings, seen.annotators) == (0, 0, [])

    page.reload()
    assert page.locator("#study-pilot-runs").inner_text().startswith("1 pilot run so far, 1 finished, 4 answers")
    picture(section, "study-pilot")
    page.get_by_role("button", name="Delete the pilot runs").click()
    page.wait_for_load_state()
    assert "deleted 1 pilot run with their answers" in page.locator(".messagelist").inner_text()
    assert page.locator("#study-pilot-runs").inner_text() == "No pilot runs yet."
    assert not Annotator.objects.exists()
    no_problems(page)


def test_a_colleague_pilots_from_the_link_on_a_phone(live_server, chromium):
    study = ready(own_study(None, slug="pilot", prompts=2, width=512, height=288))
    context = chromium.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    context.set_default_timeout(TIMEOUT_MS)
    watched = Watched(context)
    page = watched.new_page()
    page.goto(live_server.url + reverse("annotations:pilot", kwargs={"pilot_token": study.pilot_token}))
    assert_banner(page)
    start = page.get_by_role("button", name="Start the pilot")
    found = start.bounding_box()
    assert found and found["y"] + found["height"] <= PHONE["height"], found
    with page.expect_navigation():
        start.click()
    assert_banner(page)
    consent_by_clicks(page)
    wait_for_images(page)
    assert_one_screen(page)
    if os.environ.get("EVALSITE_SCREENSHOTS") == "1":
        page.screenshot(path=str(DOCS_IMG / "pilot-rate-390x844.png"))
    assert rate_to_the_end(page) == 2
    assert_banner(page)
    assert page.locator("#completion-code").inner_text()
    assert watched.problems == []
    assert Annotator.objects.get().is_pilot and live_monitor(study=study).monitor.invited == 0


def test_the_pilot_link_of_a_draft_says_why_and_offers_nothing(live_server, page):
    study = own_study(None, slug="draft", prompts=2)
    problems = watch(page)
    response = page.goto(live_server.url + reverse("annotations:pilot", kwargs={"pilot_token": study.pilot_token}))
    assert response.status == 403
    assert_banner(page)
    assert "once every pair is generated" in page.get_by_role("alert").inner_text()
    assert page.locator("form, button, input").count() == 0
    assert [problem for problem in problems if "403" not in problem] == []  # the refusal's own status
    assert not Annotator.objects.exists()


def test_the_pilot_pages_have_no_serious_accessibility_finding(live_server, chromium):
    study = ready(own_study(None, slug="axe", prompts=2, width=512, height=288, attention_checks=1))
    for viewport, name in ((LAPTOP, "laptop"), (PHONE, "phone")):
        context = chromium.new_context(viewport=viewport, is_mobile=viewport is PHONE, has_touch=viewport is PHONE)
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        page.goto(live_server.url + reverse("annotations:pilot", kwargs={"pilot_token": study.pilot_token}))
        assert axe_findings(page, f"pilot-link-{name}") == []
        with page.expect_navigation():
            page.get_by_role("button", name="Start the pilot").click()
        assert axe_findings(page, f"pilot-consent-{name}") == []
        consent_by_clicks(page)
        wait_for_images(page)
        assert axe_findings(page, f"pilot-rate-{name}") == []
        rate_to_the_end(page)
        assert axe_findings(page, f"pilot-done-{name}") == []
        context.close()
