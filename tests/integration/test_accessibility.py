"""axe-core's automated accessibility check of the annotator's pages in headless Chromium: the join page, consent
(with example images), the rating page on a laptop and on a phone (fresh, half rated, and after a background
submit) and the finish page (after a copy). No page may have a serious or critical finding.

axe-core comes bundled in the pinned ``axe-playwright-python`` package and is injected into the page from there: the
check needs no network. Each page's full result (every finding, of any impact) is saved as
test-artifacts/axe-<page>.json.
"""

import json

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.urls import reverse
from PIL import Image

from annotations import services
from annotations.models import Study
from generation.storage import encode_png, write_atomic
from tests.analysis.test_exports import rate_all
from tests.factories import make_open_study
from tests.integration.browser import (  # noqa: F401 (fixtures are found by name)
    ARTIFACTS,
    BROWSER_MARKS,
    TIMEOUT_MS,
    async_unsafe_ok,
    chromium,
    new_context,
    page,
    submit_and_wait,
)

pytestmark = BROWSER_MARKS

BLOCKING = ("serious", "critical")
PHONE = {"width": 390, "height": 844}


def url(live_server, name: str, **kwargs) -> str:
    return live_server.url + reverse(f"annotations:{name}", kwargs=kwargs)


def axe_findings(page, name: str) -> list[str]:
    """Run axe-core on the page as it is now; save its result; the serious and critical findings, described."""
    result = Axe().run(page).response
    assert result["testEngine"]["name"] == "axe-core", result["testEngine"]
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"axe-{name}.json").write_text(json.dumps(result["violations"], indent=1))
    return [
        f"{finding['id']} ({finding['impact']}): {finding['help']} at {[node['target'] for node in finding['nodes']]}"
        for finding in result["violations"]
        if finding["impact"] in BLOCKING
    ]


def with_example_images(study: Study) -> None:
    """Give the study both example images (solid colours) and their prompt, stored as the admin stores them."""
    names = {}
    for end, colour in (("low", (200, 60, 60)), ("high", (60, 160, 80))):
        names[f"example_{end}_image"] = write_atomic(
            f"examples/{study.slug}-{end}.png", encode_png(Image.new("RGB", (64, 64), colour))
        )
    Study.objects.filter(pk=study.pk).update(**names, example_prompt="A red bicycle leaning against a brick wall")


def test_join_and_consent_pages_have_no_serious_finding(live_server, page):
    study, (annotator,) = make_open_study(slug="axe", prompts=2, annotators=1, enrolment_open=True)
    with_example_images(study)
    page.goto(url(live_server, "join", enrolment_token=study.enrolment_token))
    assert axe_findings(page, "join") == []

    page.goto(url(live_server, "invite", token=annotator.token))
    page.wait_for_function("() => Array.from(document.images).every(img => img.complete && img.naturalWidth > 0)")
    assert page.locator(".examples img").count() == 2
    assert axe_findings(page, "consent") == []


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 800}, PHONE], ids=["laptop", "phone"])
def test_rating_page_has_no_serious_finding(live_server, chromium, viewport):
    study, (annotator,) = make_open_study(slug="axe", prompts=3, annotators=1, width=512, height=288)
    services.give_consent(annotator=annotator)
    context = chromium.new_context(viewport=viewport, is_mobile=viewport is PHONE, has_touch=viewport is PHONE)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(url(live_server, "rate", token=annotator.token))
    page.wait_for_function("() => Array.from(document.images).every(img => img.complete && img.naturalWidth > 0)")
    name = "rate-phone" if viewport is PHONE else "rate"
    assert axe_findings(page, name) == []

    # half rated: a score chosen, Image B highlighted, Submit still disabled
    page.keyboard.press("4")
    page.keyboard.press("Tab")
    assert axe_findings(page, f"{name}-half-rated") == []

    # the next pair, put in place by the page's script from the submit's answer
    page.keyboard.press("8")
    submit_and_wait(page, lambda: page.keyboard.press("Enter"))
    assert page.locator("#remaining").inner_text() == "Pair 2 of 3"
    assert axe_findings(page, f"{name}-next-pair") == []

    # and the check does find what it should: an image without alt text
    page.locator("#figure-left img").evaluate("img => img.removeAttribute('alt')")
    findings = axe_findings(page, f"{name}-broken")
    assert len(findings) == 1 and findings[0].startswith("image-alt (critical)"), findings


def test_finish_page_has_no_serious_finding(live_server, new_context):
    study, (annotator,) = make_open_study(slug="axe", prompts=2, annotators=1)
    rate_all(study, [annotator], [[(3, 8), (5, 5)]])
    context = new_context()
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page = context.new_page()
    page.goto(url(live_server, "done", token=annotator.token))
    assert axe_findings(page, "done") == []
    page.get_by_role("button", name="Copy code").click()
    page.get_by_role("button", name="Copied").wait_for()
    assert axe_findings(page, "done-copied") == []
