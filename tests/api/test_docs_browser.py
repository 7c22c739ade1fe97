"""The API's OpenAPI page under the strict Content-Security-Policy: Swagger UI from the site's static files (no CDN),
drawn in Chromium with no policy violation, console error or failed request, its only addition to the site's policy
``data:`` images."""

from tests.integration.browser import (  # noqa: F401 (fixtures are found by name)
    BROWSER_MARKS,
    async_unsafe_ok,
    chromium,
    new_context,
)
from tests.security.test_csp import POLICY, Watched, directives

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
    }
    page.locator(".opblock-summary").first.click()  # an operation opens: its parameters and responses drawn
    page.wait_for_selector(".responses-wrapper")
    page.wait_for_load_state("networkidle")
    assert all(url.startswith(live_server.url) for url in requests), requests
    assert watched.problems == []
