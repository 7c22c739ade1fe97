"""The API's OpenAPI page under the strict Content-Security-Policy: Swagger UI from the site's static files (no CDN),
drawn in Chromium with no policy violation, console error or failed request, its only addition to the site's policy
``data:`` images; and the admin's token pages under the site's own policy."""

from api.models import ApiToken
from api.services import digest_of
from tests.integration.browser import (  # noqa: F401 (fixtures are found by name)
    BROWSER_MARKS,
    async_unsafe_ok,
    chromium,
    new_context,
)
from tests.security.test_csp import POLICY, Watched, directives, staff_context

pytestmark = BROWSER_MARKS


def test_the_api_docs_load_with_no_violation(live_server, new_context):
    watched = Watched(new_context())
    page = watched.new_page()
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    response = page.goto(live_server.url + "/api/docs")
    assert response.status == 200
    # the site's policy, with data: images for Swagger UI's stylesheet (its select arrows)
    assert directives(response.headers["content-security-policy"]) == {**directives(POLICY), "img-src": "'self' data:"}
    page.wait_for_selector(".opblock-summary-path")
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert {path.replace("\u200b", "") for path in paths} == {
        "/api/studies",
        "/api/studies/{slug}/progress",
        "/api/studies/{slug}/results",
        "/api/studies/{slug}/ratings",
        "/api/studies/{slug}/judgments",
    }
    page.locator(".opblock-summary").first.click()  # an operation opens: its parameters and responses drawn
    page.wait_for_selector(".responses-wrapper")
    page.wait_for_load_state("networkidle")
    assert all(url.startswith(live_server.url) for url in requests), requests
    assert watched.problems == []


def test_a_token_is_made_and_shown_in_the_admin_with_no_violation(live_server, new_context):
    watched = Watched(staff_context(new_context, live_server))
    page = watched.new_page()
    response = page.goto(live_server.url + "/admin/api/apitoken/add/")
    assert directives(response.headers["content-security-policy"]) == directives(POLICY)
    page.locator("#id_name").fill("notebook")
    page.locator("input[name=_save]").click()
    page.wait_for_selector("#api-token")
    token = page.locator("#api-token").input_value()
    assert ApiToken.objects.get(name="notebook").digest == digest_of(token)
    page.goto(live_server.url + "/admin/api/apitoken/")
    assert page.locator("#result_list").inner_text().count("notebook") == 1
    assert [problem for problem in watched.problems if not problem.endswith("/favicon.ico)")] == []
