"""What a person sees in Chromium when signing in is locked out, and when a staff page needs a permission they lack."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from tests.factories import make_study
from tests.integration.browser import (  # noqa: F401 (fixtures are found by name)
    BROWSER_MARKS,
    VIEWPORT,
    async_unsafe_ok,
    chromium,
    new_context,
    page,
    screenshot,
)

PASSWORD = "a-long-and-correct-password"
LIMIT = 3

pytestmark = BROWSER_MARKS


@pytest.fixture(autouse=True)
def failure_limit(settings):
    settings.AXES_FAILURE_LIMIT = LIMIT
    settings.AXES_COOLOFF_TIME = timedelta(minutes=30)


def watch(page) -> dict[str, list]:
    """Console errors, page errors, and the status of each page the browser loaded."""
    seen = {"errors": [], "statuses": []}
    page.on("console", lambda message: seen["errors"].append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: seen["errors"].append(str(error)))
    page.on(
        "response",
        lambda response: (
            seen["statuses"].append(response.status)
            if response.frame == page.main_frame and response.request.resource_type == "document"
            else None
        ),
    )
    return seen


def own_status_lines(errors: list[str], *statuses: int) -> list[str]:
    """The errors left once Chromium's own note on a page answered with one of ``statuses`` is set aside."""
    notes = tuple(f"the server responded with a status of {status}" for status in statuses)
    return [error for error in errors if not any(note in error for note in notes)]


def sign_in(page, base: str, username: str, password: str) -> None:
    page.goto(base + reverse("admin:login"))
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.locator('input[type="submit"]').click()
    page.wait_for_load_state()


def inside_viewport(box) -> bool:
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= VIEWPORT["width"] and box["height"] > 0


def test_the_lockout_page(live_server, page):
    get_user_model().objects.create_user("ada", password=PASSWORD, is_staff=True)
    seen = watch(page)
    for _ in range(LIMIT - 1):
        sign_in(page, live_server.url, "ada", "wrong")
        assert page.locator(".errornote").first.is_visible()
    sign_in(page, live_server.url, "ada", "wrong")
    assert seen["statuses"][-1] == 429
    heading = page.locator("#content-main h1")
    assert heading.inner_text() == "Too many failed sign-ins"
    note = page.locator("#content-main .errornote")
    assert "Signing in as ada from this address is locked after 3 failed attempts in a row." in note.inner_text()
    text = page.locator("#content-main").inner_text()
    assert "Try again in 30 minutes." in text and "axes_reset_username ada" in text
    assert page.locator("#site-name").is_visible()  # the admin's header
    for element in (heading, note):
        box = element.bounding_box()
        assert inside_viewport(box) and box["width"] > 200, box
    assert page.get_by_role("link", name="Back to the sign-in page").is_visible()
    screenshot(page, "lockout")
    sign_in(page, live_server.url, "ada", PASSWORD)  # the right password is refused too
    assert seen["statuses"][-1] == 429
    assert own_status_lines(seen["errors"], 429) == []


def test_the_permission_needed_page(live_server, page):
    get_user_model().objects.create_user("bare", password=PASSWORD, is_staff=True)
    study = make_study(slug="s", prompts=1)
    seen = watch(page)
    sign_in(page, live_server.url, "bare", PASSWORD)
    assert page.url == live_server.url + reverse("admin:index")
    page.goto(live_server.url + reverse("annotations:monitor", args=[study.slug]))
    assert seen["statuses"][-1] == 403
    assert page.locator("#content h1").inner_text() == "Permission needed"
    note = page.locator("#content-main .errornote")
    assert "annotations.view_study" in note.inner_text() and "Researcher group" in note.inner_text()
    assert page.locator("#site-name").is_visible() and page.locator("#user-tools").is_visible()
    box = note.bounding_box()
    assert inside_viewport(box) and box["width"] > 200, box
    screenshot(page, "permission-needed")
    page.get_by_role("link", name="Back to the admin").click()
    page.wait_for_load_state()
    assert page.url == live_server.url + reverse("admin:index")
    assert own_status_lines(seen["errors"], 403) == []
