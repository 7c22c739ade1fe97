"""The results page in Chromium: the table shows summary.json's cells (the adjusted p included), the figures carry
the study's labels with every text inside its figure, and nothing breaks the Content-Security-Policy."""

import io
import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from tests.analysis.test_exports import rate_all
from tests.factories import make_open_study, name_design
from tests.integration.browser import (  # noqa: F401 (fixtures are found by name)
    BROWSER_MARKS,
    async_unsafe_ok,
    chromium,
    new_context,
)
from tests.security.test_csp import Watched

pytestmark = BROWSER_MARKS

#: Per figure on the page: its texts whose box leaves the figure's box (by more than a pixel).
TEXTS_OUTSIDE = """() => [...document.querySelectorAll('section.plots figure svg')].map(svg => {
  const frame = svg.getBoundingClientRect();
  return [...svg.querySelectorAll('text')].filter(text => text.textContent.trim()).map(text => {
    const box = text.getBoundingClientRect();
    const out = box.left < frame.left - 1 || box.top < frame.top - 1
      || box.right > frame.right + 1 || box.bottom > frame.bottom + 1;
    return out ? text.textContent : null;
  }).filter(Boolean);
})"""


@pytest.fixture
def signed_in_page(new_context, live_server):
    staff = get_user_model().objects.create_superuser("staff", "staff@example.org", "not-used-here")
    client = Client()
    client.force_login(staff)
    context = new_context()
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}])
    watched = Watched(context)
    page = watched.new_page()
    page.problems = watched.problems
    return page


def test_the_page_shows_the_exported_numbers_and_labelled_figures(live_server, signed_in_page, tmp_path):
    study, annotators = make_open_study(slug="shown", prompts=3, annotators=2, base_seed=11, steps=4)
    rate_all(study, annotators)
    name_design(study, baseline="SD-2.1", ours="+ entropy scaling", score="Image–text consistency")
    call_command("export_results", "shown", "--format", "json", "--out", str(tmp_path), stdout=io.StringIO())
    table = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))["table"]
    page = signed_in_page

    response = page.goto(live_server.url + "/results/shown/")
    assert response.status == 200
    header = page.locator("#summary-table th").all_inner_texts()
    cells = page.locator("#summary-table td").all_inner_texts()
    assert header == table["header"] and cells == table["rows"][0]
    assert cells[-1] != "–"  # the adjusted p, as summary.json gives it
    figures = page.locator("section.plots figure svg")
    assert figures.count() == 3
    texts = " ".join(page.locator("section.plots svg text").all_text_contents())
    for label in ("SD-2.1", "+ entropy scaling", "Image–text consistency", "+ entropy scaling − SD-2.1"):
        assert label in texts, label
    assert page.evaluate(TEXTS_OUTSIDE) == [[], [], []]
    assert page.problems == []
