"""The read-only API: tokens, permissions and visibility as on the staff pages, and each endpoint's numbers against
the selectors and export_results that compute them."""

import io
import json

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from annotations import access
from annotations.models import Criterion, Study
from annotations.selectors import live_monitor, tidy_rows, with_counts
from annotations.services import design
from api.models import ApiToken
from api.services import TOKEN_PREFIX, digest_of, revoke_tokens
from tests.api.helpers import get, make_studies, make_users, token_of
from tests.factories import make_open_study, pair_ratings

pytestmark = pytest.mark.django_db

ENDPOINTS = ["/api/studies", "/api/studies/mine/progress", "/api/studies/mine/results", "/api/studies/mine/ratings"]


@pytest.fixture
def users():
    return make_users()


@pytest.fixture
def studies(users):
    return make_studies(users)


def test_no_invalid_or_revoked_token_is_refused_with_401(users, studies):
    token = token_of(users.ada)
    revoked = token_of(users.ada)
    revoke_tokens(ApiToken.objects.filter(digest=digest_of(revoked)))
    inactive = token_of(users.grace)
    users.grace.is_active = False
    users.grace.save()
    for path in ENDPOINTS:
        assert get(path).status_code == 401, path
        for bad in ("", "nonsense", TOKEN_PREFIX + "x" * 43, token[:-1], revoked, inactive):
            response = get(path, bad)
            assert response.status_code == 401, (path, bad)
            assert response.json() == {"detail": "Unauthorized"}
        assert get(path, HTTP_AUTHORIZATION=f"Token {token}").status_code == 401
        assert get(path, token).status_code == 200, path


def test_a_token_of_a_user_who_is_no_longer_staff_is_refused(users, studies):
    token = token_of(users.ada)
    users.ada.is_staff = False
    users.ada.save()
    assert get("/api/studies", token).status_code == 401


def test_a_token_without_the_permission_gets_403_naming_it(users, studies):
    bare = token_of(users.bare)
    for path in ("/api/studies", "/api/studies/shared/progress"):
        response = get(path, bare)
        assert response.status_code == 403
        assert access.VIEW_STUDY in response.json()["detail"]
    viewer = token_of(users.viewer)
    assert get("/api/studies/shared/progress", viewer).status_code == 200
    for path in ("/api/studies/shared/results", "/api/studies/shared/ratings"):
        response = get(path, viewer)
        assert response.status_code == 403
        assert access.EXPORT_STUDY in response.json()["detail"]


def test_another_researchers_study_is_a_404_and_absent_from_the_list(users, studies):
    token = token_of(users.ada)
    for endpoint in ("progress", "results", "ratings"):
        for slug in ("theirs", "no-such-study"):
            response = get(f"/api/studies/{slug}/{endpoint}", token)
            assert response.status_code == 404
            assert response.json() == {"detail": f"There is no study {slug!r} that this token may see."}
        assert get(f"/api/studies/shared/{endpoint}", token).status_code in (200, 409)
    assert {study["slug"] for study in get("/api/studies", token).json()} == {"mine", "shared"}
    assert {study["slug"] for study in get("/api/studies", token_of(users.grace)).json()} == {"shared", "theirs"}


def test_a_superuser_token_sees_every_study(users, studies, django_user_model):
    root = django_user_model.objects.create_superuser("root", password="not-used-here")
    assert {study["slug"] for study in get("/api/studies", token_of(root)).json()} == {"mine", "shared", "theirs"}


def test_the_study_list_holds_each_studys_counts(users, studies):
    listed = {study["slug"]: study for study in get("/api/studies", token_of(users.ada)).json()}
    mine = listed["mine"]
    assert mine["title"] == "Mine" and mine["status"] == Study.Status.OPEN
    ratings = pair_ratings().filter(assignment__annotator__study=studies.mine).count()
    assert ratings == 6
    assert mine["counts"] == {"prompts": 3, "pairs": 3, "annotators": 2, "ratings": ratings}
    assert listed["shared"]["counts"] == {"prompts": 2, "pairs": 2, "annotators": 1, "ratings": 0}
    counted = with_counts(Study.objects.filter(slug="mine")).get()
    assert (counted.prompt_count, counted.pair_count, counted.annotator_count, counted.rating_count) == (3, 3, 2, 6)


def test_progress_is_what_the_monitor_shows(users, studies):
    body = get("/api/studies/mine/progress", token_of(users.ada)).json()
    live = live_monitor(study=studies.mine).as_dict()  # what the monitoring page's script polls
    assert body.pop("slug") == "mine" and body.pop("status") == "open"
    assert body.pop("updated_at")  # the moment it was read
    live.pop("updated_at")
    assert body == live
    assert body["counts"]["invited"] == 2 and body["counts"]["ratings"] == 6
    assert [pair["ratings"] for pair in body["pairs"]] == [2, 2, 2]
    assert [annotator["state"] for annotator in body["annotators"]] == ["finished", "finished"]
    assert body["quota"]["ratings"] == 6


def test_results_are_the_summary_json_export_results_writes(users, studies):
    body = get("/api/studies/mine/results", token_of(users.ada)).json()
    out = io.StringIO()
    call_command("export_results", "mine", "--format", "json", stdout=out)
    assert body == json.loads(out.getvalue())
    assert [study["study"] for study in body["studies"]] == ["mine"]
    off = get("/api/studies/mine/results?exclusions=off", token_of(users.ada)).json()
    out = io.StringIO()
    call_command("export_results", "mine", "--format", "json", "--exclusions", "off", stdout=out)
    assert off == json.loads(out.getvalue())
    assert get("/api/studies/mine/results?exclusions=maybe", token_of(users.ada)).status_code == 422


def test_results_without_ratings_say_why_with_409(users, studies):
    response = get("/api/studies/shared/results", token_of(users.ada))
    assert response.status_code == 409
    assert response.json()["detail"]


def test_ratings_are_the_tidy_rows(users, studies):
    body = get("/api/studies/mine/ratings", token_of(users.ada)).json()
    assert body == list(tidy_rows(study=studies.mine))
    assert len(body) == 12 and {row["condition"] for row in body} == {"baseline", "ours"}


def test_a_token_records_when_it_was_used(users, studies):
    token = token_of(users.ada)
    row = ApiToken.objects.get(digest=digest_of(token))
    assert row.last_used_at is None
    before = timezone.now()
    get("/api/studies", token)
    row.refresh_from_db()
    assert row.last_used_at >= before


def test_the_openapi_page_and_schema_render(client):
    make_open_study(slug="any", prompts=1, annotators=1)
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.content.decode()
    assert "swagger-ui" in html and "/static/ninja/swagger-ui-bundle.js" in html
    assert "cdn." not in html and "https://" not in html
    assert "script-src 'self'" in page["Content-Security-Policy"]
    schema = client.get("/api/openapi.json").json()
    assert set(schema["paths"]) == {
        "/api/studies",
        "/api/studies/{slug}/progress",
        "/api/studies/{slug}/results",
        "/api/studies/{slug}/ratings",
        "/api/studies/{slug}/judgments",
    }
    assert schema["components"]["securitySchemes"]["BearerToken"] == {"type": "http", "scheme": "bearer"}


def test_the_study_list_holds_each_studys_design_in_a_fixed_number_of_queries(users, studies):
    design.add_criterion(
        criterion=Criterion(study=studies.shared, key="quality", question="How good?", label="Quality", scale_points=7)
    )
    token = token_of(users.ada)
    get("/api/studies", token)  # the token's first use writes its time
    with CaptureQueriesContext(connection) as queries:
        listed = {study["slug"]: study for study in get("/api/studies", token).json()}
    assert listed["mine"]["conditions"] == [
        {"key": "baseline", "name": "Baseline", "kind": "plain", "reference": True},
        {"key": "ours", "name": "Ours", "kind": "entropy", "reference": False},
    ]
    assert [criterion["key"] for criterion in listed["mine"]["criteria"]] == ["consistency"]
    quality = listed["shared"]["criteria"][1]
    assert quality == {
        "key": "quality",
        "question": "How good?",
        "label": "Quality",
        "scale_points": 7,
        "low_anchor": "",
        "high_anchor": "",
    }
    other = token_of(users.grace)
    get("/api/studies", other)
    with CaptureQueriesContext(connection) as more:
        get("/api/studies", other)
    assert len(more) == len(queries)  # the same queries, whatever the studies: no query per study
