"""The monitoring page in Chromium against a live server: it updates itself, without reloading, when a rating is
stored in the background, with no Content-Security-Policy violation and no console error."""

from django.urls import reverse

from annotations import services
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


def test_the_monitor_updates_itself_when_a_rating_is_stored(live_server, new_context):
    study, (annotator, _) = make_open_study(slug="watch", prompts=3, annotators=2)
    services.give_consent(annotator=annotator)
    watched = Watched(staff_context(new_context, live_server))
    page = watched.new_page()
    page.goto(live_server.url + reverse("annotations:monitor", args=[study.slug]))
    ratings = page.locator('#counts [data-count="ratings"]')
    assert ratings.inner_text() == "0"
    assert page.locator("#annotator-progress tbody tr").first.inner_text().split("\t")[1:3] == ["consented", "0 / 3"]
    assert page.locator("#quota-eta").inner_text() == "unknown: no ratings in the last 15 minutes"
    page.evaluate("() => { window.samePage = true; }")

    first = annotator.assignments.order_by("order").first()
    services.submit_rating(annotator_id=annotator.pk, assignment_id=first.pk, scores={"left": 4, "right": 9})
    page.wait_for_function(
        """() => document.querySelector('#counts [data-count="ratings"]').textContent === "1" """, timeout=15_000
    )
    assert page.evaluate("() => window.samePage === true")  # refreshed in place, not reloaded
    row = page.locator("#annotator-progress tbody tr").first.inner_text().split("\t")
    assert row[:3] == [annotator.label, "rating", "1 / 3"]
    assert page.locator("#quota-remaining").inner_text() == "2"
    assert page.locator("#quota-eta").inner_text().startswith("about ")
    assert page.locator("#live").inner_text().startswith("updated ")
    assert sum(int(cell) for cell in page.locator("#pairs tbody tr td:nth-child(3)").all_inner_texts()) == 1
    screenshot(page, "live-monitor")
    assert watched.problems == []
