"""The Content-Security-Policy: scripts and styles only from the site's static files, so that text injected into a
page (a prompt, a study's instructions) can neither run script nor restyle the page. Every page sends the policy,
and in Chromium the annotator's pages, the staff pages and the admin load with no violation and no console error,
with the rating page still working by keys and its background JSON submit.
"""

import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from evalsite.content_security import image_sources
from tests.analysis.test_exports import rate_all
from tests.factories import image_link, make_open_study, pair_rating, pair_ratings
from tests.integration.browser import (  # noqa: F401 (fixtures are found by name)
    BROWSER_MARKS,
    async_unsafe_ok,
    chromium,
    new_context,
    page,
    submit_and_wait,
)

PROLIFIC = "https://app.prolific.com/submissions/complete"
POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)

#: Records every CSP violation and uncaught error of every page of a context, across navigations.
WATCH = """
document.addEventListener("securitypolicyviolation", event => {
    window.reportProblem(`CSP ${event.effectiveDirective} blocked ${event.blockedURI || "inline"}`
        + ` on ${location.pathname} (${event.sourceFile}:${event.lineNumber})`);
});
"""


def directives(header: str) -> dict[str, str]:
    return {part.split(" ", 1)[0]: part.split(" ", 1)[1] for part in header.split("; ")}


@pytest.mark.django_db
def test_every_page_sends_the_policy(client, admin_client):
    study, (annotator, _) = make_open_study(slug="csp", prompts=2, annotators=2)
    assert directives(
        client.get(reverse("annotations:invite", kwargs={"token": annotator.token}))["Content-Security-Policy"]
    ) == directives(POLICY)
    for url in (reverse("admin:index"), reverse("admin:annotations_study_change", args=[study.pk])):
        assert directives(admin_client.get(url)["Content-Security-Policy"]) == directives(POLICY)


@pytest.mark.django_db
def test_inert_answers_carry_no_policy_and_pages_keep_theirs(client):
    """Images and the rating script's JSON answers run nothing: no policy is built for them (it cost as much as the
    image itself); the security middleware's nosniff keeps a browser from taking them for a page."""
    study, (annotator, _) = make_open_study(slug="inert", prompts=2, annotators=2)
    client.post(reverse("annotations:invite", kwargs={"token": annotator.token}), {"consent": "yes"})
    page = client.get(reverse("annotations:rate", kwargs={"token": annotator.token}))
    assert directives(page["Content-Security-Policy"]) == directives(POLICY)
    image = client.get(image_link(annotator, 0, "left"))
    assert image["Content-Type"] == "image/png" and "Content-Security-Policy" not in image
    assert image["X-Content-Type-Options"] == "nosniff"
    assignment = re.search(r'name="assignment" value="(\d+)"', page.content.decode()).group(1)
    answer = client.post(
        reverse("annotations:rate", kwargs={"token": annotator.token}),
        {"assignment": assignment, "left": "3", "right": "7"},
        HTTP_ACCEPT="application/json",
    )
    assert answer["Content-Type"] == "application/json" and "Content-Security-Policy" not in answer
    assert answer["X-Content-Type-Options"] == "nosniff"


def test_no_template_holds_an_inline_script_style_or_handler(settings):
    for path in Path(settings.BASE_DIR, "templates").rglob("*.html"):
        text = path.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), path
        assert not re.search(r"<style\b|\sstyle=|\son[a-z]+=", text), path


def test_presigned_images_add_the_storage_origin():
    env = {"EVALSITE_STORAGE": "s3", "AWS_STORAGE_BUCKET_NAME": "pairs", "EVALSITE_IMAGE_DELIVERY": "presigned"}
    assert image_sources({**env, "AWS_S3_ENDPOINT_URL": "https://minio.example.org:9000"}) == [
        "https://minio.example.org:9000"
    ]
    assert image_sources({**env, "AWS_S3_ADDRESSING_STYLE": "virtual", "AWS_S3_REGION_NAME": "eu-west-1"}) == [
        "https://pairs.s3.amazonaws.com",
        "https://pairs.s3.eu-west-1.amazonaws.com",
    ]
    assert image_sources({**env, "EVALSITE_IMAGE_DELIVERY": "proxy"}) == []
    assert image_sources({"EVALSITE_CSP_IMAGE_SOURCES": "https://cdn.example.org"}) == ["https://cdn.example.org"]


def in_browser(test):
    """The marks of a browser test (``BROWSER_MARKS``), for one test of this module."""
    for mark in BROWSER_MARKS:
        test = mark(test)
    return test


class Watched:
    """A browser context whose pages report CSP violations, console errors and uncaught exceptions."""

    def __init__(self, context):
        self.context, self.problems = context, []
        context.expose_function("reportProblem", lambda problem: self.problems.append(problem))
        context.add_init_script(WATCH)

    def new_page(self):
        page = self.context.new_page()
        page.on(
            "console",
            lambda message: (
                message.type == "error" and self.problems.append(f"console: {message.text} ({message.location['url']})")
            ),
        )
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("response", lambda r: r.status >= 400 and self.problems.append(f"{r.status}: {r.url}"))
        return page


@in_browser
def test_annotator_pages_work_with_no_violation(live_server, new_context):
    study, (annotator, _) = make_open_study(slug="csp", prompts=3, annotators=2, width=128, height=96)
    watched = Watched(new_context())
    page = watched.new_page()
    rate_path = reverse("annotations:rate", kwargs={"token": annotator.token})
    posts = []
    page.on("request", lambda r: r.method == "POST" and r.url.endswith(rate_path) and posts.append(r.headers))

    response = page.goto(live_server.url + reverse("annotations:invite", kwargs={"token": annotator.token}))
    assert directives(response.headers["content-security-policy"]) == directives(POLICY)
    page.get_by_label("I have read the above and agree to take part.").check()
    page.get_by_role("button", name="Start").click()
    page.wait_for_url(f"**{rate_path}")
    page.wait_for_function("() => Array.from(document.images).every(img => img.complete && img.naturalWidth > 0)")
    # the stylesheet applies: the two images side by side at the study's aspect ratio (no inline style sets it)
    left, right = (page.locator(".pair img").nth(i).bounding_box() for i in range(2))
    assert left["x"] + left["width"] <= right["x"] and left["width"] / left["height"] == pytest.approx(128 / 96, 0.02)
    page.evaluate("() => { window.samePage = true; }")

    for k in range(3):
        # keys: a score for the left image, Tab, a score for the right, Enter submits in the background
        submit_and_wait(page, lambda: [page.keyboard.press(key) for key in ("7", "Tab", "0", "Enter")])
        assert pair_ratings().filter(assignment__annotator=annotator).count() == k + 1
        if k < 2:
            assert page.evaluate("() => window.samePage === true")  # the next pair came from the JSON answer
    page.wait_for_url("**/done/")
    assert page.locator("#completion-code").inner_text().strip()
    assert all(headers.get("accept") == "application/json" for headers in posts) and len(posts) == 3
    rated = pair_ratings().filter(assignment__annotator=annotator).values_list("assignment", flat=True)
    scores = {(r.baseline_score, r.ours_score) for r in (pair_rating(assignment=pk) for pk in rated)}
    assert len(rated) == 3 and scores <= {(7, 10), (10, 7)}
    assert watched.problems == []


def staff_context(new_context, live_server):
    user = get_user_model().objects.create_superuser("boss", password="a long password 123")
    client = Client()
    client.force_login(user)
    context = new_context()
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}])
    return context


@in_browser
def test_staff_pages_and_the_admin_load_with_no_violation(live_server, new_context):
    study, annotators = make_open_study(slug="page", prompts=3, annotators=3)
    rate_all(study, annotators, [[(3, 8), (5, 5), (6, 4)], [(2, 9), (4, 7), (6, 6)], [(5, 5), (5, 5), (5, 5)]])
    watched = Watched(staff_context(new_context, live_server))
    page = watched.new_page()
    pages = [
        reverse("annotations:preview", args=[study.slug]),
        reverse("annotations:monitor", args=[study.slug]),
        f"/results/{study.slug}/",
        reverse("admin:index"),
        reverse("admin:annotations_study_changelist"),
        reverse("admin:annotations_study_change", args=[study.pk]),
        reverse("admin:annotations_study_add"),
        reverse("admin:annotations_study_upload_prompts", args=[study.pk]),
    ]
    for path in pages:
        response = page.goto(live_server.url + path)
        assert response.status == 200, path
        assert directives(response.headers["content-security-policy"]) == directives(POLICY), path
        page.wait_for_load_state("load")
        if path.startswith("/results/"):
            # the plots are drawn in colour: their fills are attributes, not the inline styles the policy blocks
            fill = page.locator("#plot-scores svg path").first.evaluate("p => getComputedStyle(p).fill")
            assert fill == "rgb(255, 255, 255)", fill
        if path.endswith("/add/"):
            # the admin's own scripts run: the slug is filled in from the title as it is typed
            page.locator("#id_title").press_sequentially("A new study")
            assert page.locator("#id_slug").input_value() == "a-new-study"
    # the admin's pages name no icon, so Chromium asks for /favicon.ico, which the site does not serve: not a policy
    # matter (the site's own pages, visited first, name theirs)
    assert [problem for problem in watched.problems if not problem.endswith("/favicon.ico)")] == []


@pytest.mark.django_db
def test_the_rating_and_consent_pages_let_their_form_end_at_the_completion_url(client):
    study, (annotator, _) = make_open_study(slug="csp", prompts=2, annotators=2, completion_url=PROLIFIC + "?x=1")
    invite = client.get(reverse("annotations:invite", kwargs={"token": annotator.token}))
    assert directives(invite["Content-Security-Policy"])["form-action"] == "'self' https://app.prolific.com"
    client.post(reverse("annotations:invite", kwargs={"token": annotator.token}), {"consent": "yes"})
    rate = client.get(reverse("annotations:rate", kwargs={"token": annotator.token}))
    assert directives(rate["Content-Security-Policy"])["form-action"] == "'self' https://app.prolific.com"
    # a page without the study's form keeps the plain policy
    assert (
        directives(
            client.get(reverse("annotations:done", kwargs={"token": annotator.token}))["Content-Security-Policy"]
        )["form-action"]
        == "'self'"
    )


@in_browser
def test_a_plain_form_submit_still_ends_at_the_completion_url(live_server, chromium, settings):
    """Without script the last answer is a plain form POST, whose redirects end at the completion URL: another origin
    (here 127.0.0.1 for a site on localhost; http, which DEBUG allows for this machine)."""
    settings.DEBUG = True
    finish = live_server.url.replace("localhost", "127.0.0.1") + "/static/annotations/favicon.svg"
    study, (annotator, _) = make_open_study(slug="csp", prompts=1, annotators=2, completion_url=finish)
    context = chromium.new_context(java_script_enabled=False)
    context.set_default_timeout(10_000)
    page = context.new_page()
    problems = []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.goto(live_server.url + reverse("annotations:invite", kwargs={"token": annotator.token}))
    page.get_by_label("I have read the above and agree to take part.").check()
    page.get_by_role("button", name="Start").click()
    page.wait_for_url("**/rate/")
    page.locator('#scale-left input[value="5"]').check(force=True)
    page.locator('#scale-right input[value="6"]').check(force=True)
    page.locator("#submit").click()
    page.wait_for_url(f"{finish}?cc=*")
    assert pair_ratings().filter(assignment__annotator=annotator).count() == 1
    assert problems == []
