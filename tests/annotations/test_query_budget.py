"""The rating path's query budget, a house rule (docs/architecture.md): a submit from the rating page's script costs
exactly four queries, five on the annotator's first pair (when the start is recorded too)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.annotations.test_views import consent, current, post_as_script, url
from tests.factories import make_open_study

pytestmark = pytest.mark.django_db


def test_each_script_submit_costs_four_queries(client):
    _, (annotator, _) = make_open_study(slug="s", prompts=5)
    consent(client, annotator)
    client.get(url("rate", annotator))
    counts = []
    for _ in range(4):
        assignment = current(annotator)
        with CaptureQueriesContext(connection) as queries:
            response = post_as_script(client, annotator, assignment, "7", "3")
        assert response.status_code == 200 and "pair" in response.json()
        counts.append(len(queries))
    assert counts == [4, 4, 4, 4], counts


def test_a_first_submit_before_any_page_view_costs_five(client):
    """The page's first view records the start; a submit that comes first (a retried request, a page served from a
    cache) records it itself: one more query."""
    _, (annotator, _) = make_open_study(slug="s", prompts=3)
    consent(client, annotator)
    assignment = current(annotator)
    with CaptureQueriesContext(connection) as queries:
        response = post_as_script(client, annotator, assignment, "7", "3")
    assert response.status_code == 200 and "pair" in response.json()
    assert len(queries) == 5, [query["sql"] for query in queries]
