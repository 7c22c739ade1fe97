"""The rating path's query budget, a house rule (docs/architecture.md): a submit from the rating page's script costs
exactly four queries, five on the annotator's first pair (when the start is recorded too); the rating page reads no
lease while it cannot have ended."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

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


def test_a_rating_page_reads_no_lease_within_the_timeout(client):
    """A page reads who is rating with their study, the study's criterion, the next two pairs, and stamps the first
    view (and the start, the first time): no query asks whether a lease begun within the timeout has ended. Past the
    timeout since its start, the page asks the rating path's lease rule once."""
    study, (annotator, _) = make_open_study(slug="s", prompts=3)
    consent(client, annotator)
    counts = []
    for _ in range(2):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url("rate", annotator)).status_code == 200
        counts.append([query["sql"] for query in queries])
    assert [len(sqls) for sqls in counts] == [5, 3], counts
    assert not any("idle_timeout_minutes * 60" in sql for sqls in counts for sql in sqls)

    annotator.refresh_from_db()
    type(annotator).objects.filter(pk=annotator.pk).update(consented_at=annotator.consented_at - timedelta(hours=2))
    annotator.assignments.update(shown_at=timezone.now())  # active a moment ago: the lease holds
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url("rate", annotator)).status_code == 200
    assert len(queries) == 4 and any("idle_timeout_minutes * 60" in query["sql"] for query in queries)
