"""The annotator's whole flow in headless Chromium against a live server.

Invite link → consent → three pairs rated by clicking the score labels → completion code; on the way
it checks that what the annotator saw (which side shows the light "ours" image) is what was stored,
that a reload resumes at the same pair and that a double submit stores one rating.
"""

import re

import pytest
from django.urls import reverse

from annotations.models import DEFAULT_QUESTION, Annotator, Assignment
from tests.factories import make_open_study, pair_rating, pair_ratings
from tests.integration.browser import (  # noqa: F401 (fixtures are found by name)
    ARTIFACTS,
    BROWSER_MARKS,
    CENTRE_PIXEL,
    async_unsafe_ok,
    chromium,
    new_context,
    page,
    submit_and_wait,
)

PAIRS = 3
WIDTH, HEIGHT = 256, 192  # not square, so the aspect ratio of the image boxes is exercised too

pytestmark = BROWSER_MARKS


def score_label(page, side: str, score: int):
    """The visible label of one score button under the left or right image."""
    return page.locator(f"#scale-{side} label").filter(has=page.locator("span", has_text=re.compile(rf"^{score}$")))


def shade(rgb: list[int]) -> str:
    assert max(rgb) - min(rgb) <= 2, f"not grey: {rgb}"
    return "light" if rgb[0] > 128 else "dark"


def check_layout(page) -> None:
    """The two images side by side at the study's aspect ratio, each with its scale right under it."""
    boxes = {
        side: (page.locator(".pair img").nth(i).bounding_box(), page.locator(f"#scale-{side}").bounding_box())
        for i, side in enumerate(("left", "right"))
    }
    (left_img, _), (right_img, _) = boxes["left"], boxes["right"]
    assert abs(left_img["y"] - right_img["y"]) < 1 and left_img["x"] + left_img["width"] <= right_img["x"]
    for img, scale in boxes.values():
        assert img["width"] >= 300, img
        assert img["width"] / img["height"] == pytest.approx(WIDTH / HEIGHT, rel=0.02), img
        assert img["y"] + img["height"] <= scale["y"] < img["y"] + img["height"] + 60, (img, scale)
        assert img["x"] - 1 <= scale["x"] and scale["x"] + scale["width"] <= img["x"] + img["width"] + 1, (img, scale)


def ratings_of(annotator: Annotator) -> int:
    return pair_ratings().filter(assignment__annotator=annotator).count()


def test_annotator_flow_in_chromium(live_server, page):
    study, (annotator, other) = make_open_study(slug="browser", prompts=PAIRS, annotators=2, width=WIDTH, height=HEIGHT)
    invite_url = live_server.url + reverse("annotations:invite", kwargs={"token": annotator.token})
    rate_path = reverse("annotations:rate", kwargs={"token": annotator.token})
    ARTIFACTS.mkdir(exist_ok=True)

    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" and r.url.endswith(rate_path) else None)

    # Invite link → consent page; Start needs the box ticked (the browser's own "required" check).
    page.goto(invite_url)
    assert page.locator("h1").inner_text() == study.title
    page.get_by_role("button", name="Start").click()
    assert page.url == invite_url
    annotator.refresh_from_db()
    assert annotator.consented_at is None
    page.get_by_label("I have read the above and agree to take part.").check()
    page.get_by_role("button", name="Start").click()
    page.wait_for_url(f"**{rate_path}")

    seen = []  # per pair: assignment id, clicked scores, the left image's shade
    for k in range(1, PAIRS + 1):
        left_score, right_score = 3 + k, 8 - k
        assert page.locator("#remaining").inner_text() == f"Pair {k} of {PAIRS}"
        assert page.get_by_text(DEFAULT_QUESTION, exact=True).is_visible()
        assignment_id = int(page.locator('input[name="assignment"]').input_value())
        assignment = Assignment.objects.select_related("pair__prompt").get(pk=assignment_id)
        assert assignment.annotator_id == annotator.pk and assignment.order == k - 1
        assert page.locator("#prompt").inner_text() == assignment.pair.prompt.text
        assert ratings_of(annotator) == k - 1

        # Both images really loaded, at the study's size.
        page.wait_for_function("() => Array.from(document.images).every(img => img.complete)")
        images = page.locator(".pair img")
        assert images.count() == 2
        for i in range(2):
            assert images.nth(i).evaluate("img => [img.naturalWidth, img.naturalHeight]") == [WIDTH, HEIGHT]
        left_shade = shade(images.nth(0).evaluate(CENTRE_PIXEL))
        right_shade = shade(images.nth(1).evaluate(CENTRE_PIXEL))
        assert {left_shade, right_shade} == {"light", "dark"}

        if k == 2:
            # A reload mid-study shows the same pair again and stores nothing.
            page.reload()
            assert page.locator("#remaining").inner_text() == f"Pair {k} of {PAIRS}"
            assert int(page.locator('input[name="assignment"]').input_value()) == assignment_id
            page.wait_for_function("() => Array.from(document.images).every(img => img.complete)")
            assert shade(page.locator(".pair img").nth(0).evaluate(CENTRE_PIXEL)) == left_shade
            assert ratings_of(annotator) == k - 1

        # Submit stays disabled until both scales have a score.
        submit = page.locator("#submit")
        assert submit.is_disabled()
        score_label(page, "left", left_score).click()
        assert page.locator(f'#scale-left input[value="{left_score}"]').is_checked()
        assert submit.is_disabled()
        score_label(page, "right", right_score).click()
        assert page.locator(f'#scale-right input[value="{right_score}"]').is_checked()
        assert submit.is_enabled()

        if k == 1:
            check_layout(page)
            page.screenshot(path=str(ARTIFACTS / "rate.png"), full_page=True)

        posts_before = len(posts)
        if k == 3:
            # The same form sent twice at once (a retried request, a second tab): the server must
            # store it once. Chromium itself coalesces the double clicks below into one POST.
            statuses = page.locator("#rating-form").evaluate(
                """form => Promise.all([1, 2].map(() =>
                    fetch(form.action, {method: "POST", body: new FormData(form)}).then(r => r.status)))"""
            )
            assert statuses == [200, 200]
            assert len(posts) - posts_before == 2
            assert ratings_of(annotator) == k
        if k == 2:
            submit_and_wait(page, submit.dblclick)  # an impatient double click
        elif k == 3:
            # Two clicks in one task, before the page's own guard can disable the button.
            submit_and_wait(
                page, lambda submit=submit: submit.evaluate("button => { button.click(); button.click(); }")
            )
        else:
            submit_and_wait(page, submit.click)
        assert len(posts) - posts_before >= 1
        assert ratings_of(annotator) == k, f"pair {k}: expected exactly {k} ratings"
        seen.append((assignment_id, left_score, right_score, left_shade))

    # The finish page shows the code stored for this annotator.
    page.wait_for_url(f"**{reverse('annotations:done', kwargs={'token': annotator.token})}")
    code = page.locator("#completion-code").inner_text().strip()
    page.screenshot(path=str(ARTIFACTS / "done.png"), full_page=True)
    annotator.refresh_from_db()
    assert annotator.finished_at is not None
    assert code and code == annotator.completion_code

    # Stored ratings match the clicks, mapped through each assignment's side; the light "ours"
    # image was on the left exactly when ours_on_left says so.
    assert ratings_of(annotator) == PAIRS
    for assignment_id, left_score, right_score, left_shade in seen:
        assignment = Assignment.objects.get(pk=assignment_id)
        assert assignment.ours_on_left == (left_shade == "light")
        ours, baseline = (left_score, right_score) if assignment.ours_on_left else (right_score, left_score)
        assert (pair_rating(assignment=assignment).ours_score, pair_rating(assignment=assignment).baseline_score) == (
            ours,
            baseline,
        )
        assert assignment.shown_at is not None and pair_rating(assignment=assignment).seconds >= 0
    assert not pair_ratings().filter(assignment__annotator=other).exists()

    # The invite link now leads straight to the code.
    page.goto(invite_url)
    assert page.locator("#completion-code").inner_text().strip() == code
