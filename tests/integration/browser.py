"""Headless Chromium for the browser tests, shared by their modules.

A module imports the fixtures it uses by name (pytest finds fixtures in the module's namespace), together with
the fixtures they depend on::

    from tests.integration.browser import BROWSER_MARKS, async_unsafe_ok, chromium, new_context, page  # noqa: F401
"""

import os
from pathlib import Path

import pytest
from django.db import connections

playwright_sync = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
VIEWPORT = {"width": 1280, "height": 900}
TIMEOUT_MS = 10_000

#: The marks of a module of browser tests: ``pytestmark = BROWSER_MARKS``.
BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM}"),
]


@pytest.fixture
def async_unsafe_ok(monkeypatch):
    # Playwright's sync API runs an event loop in this thread; Django would refuse ORM calls otherwise.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def chromium(async_unsafe_ok):
    """A headless Chromium; closed, with every context of it, after the test."""
    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            # Inside sync_playwright() Django's connection is a context-local one (asgiref), not the
            # one pytest-django closes; left open it blocks dropping the test database on PostgreSQL.
            connections.close_all()
            browser.close()


@pytest.fixture
def new_context(chromium):
    """Makes fresh browser contexts: each one like a separate browser profile (no shared cookies or cache)."""

    def make():
        context = chromium.new_context(viewport=VIEWPORT)
        context.set_default_timeout(TIMEOUT_MS)
        return context

    return make


@pytest.fixture
def page(new_context):
    """A page in a fresh context."""
    return new_context().new_page()


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot as test-artifacts/<name>.png."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# One image's centre pixel, read back through a canvas: what the annotator actually saw.
CENTRE_PIXEL = """img => {
    const canvas = document.createElement("canvas");
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    const context = canvas.getContext("2d");
    context.drawImage(img, 0, 0);
    const d = context.getImageData(canvas.width >> 1, canvas.height >> 1, 1, 1).data;
    return [d[0], d[1], d[2]];
}"""


def submit_and_wait(page, submit) -> None:
    """Run ``submit`` (a click or key press that submits the rating form) and wait until the page shows the next
    pair, which its script puts in place without loading a page, or has moved on to another page."""
    before = page.locator('input[name="assignment"]').input_value()
    submit()
    page.wait_for_function(
        """before => {
            const field = document.querySelector('input[name="assignment"]');
            return !field || field.value !== before;
        }""",
        arg=before,
    )
    page.wait_for_load_state()
