"""Annotator flows in headless Chromium against a live server.

Keyboard-only rating, resuming after the tab is closed, entry from Prolific and its completion redirect,
two annotators rating at the same time, and screening out on a failed attention check.
"""

import re

from django.urls import reverse
from PIL import Image

from annotations.models import Annotator, Assignment, CheckResponse
from generation.storage import encode_png, write_atomic
from tests.factories import make_open_study, pair_rating, pair_ratings
from tests.integration.browser import (  # noqa: F401 (fixtures are found by name)
    BROWSER_MARKS,
    CENTRE_PIXEL,
    async_unsafe_ok,
    chromium,
    new_context,
    page,
    screenshot,
    submit_and_wait,
)

pytestmark = BROWSER_MARKS

CONSENT_LABEL = "I have read the above and agree to take part."
PROLIFIC_COMPLETE = "https://app.prolific.com/submissions/complete"


# --- helpers -------------------------------------------------------------------------------------------------


def url(live_server, name: str, **kwargs) -> str:
    return live_server.url + reverse(f"annotations:{name}", kwargs=kwargs)


def key_of(score: int) -> str:
    """The key that gives ``score``: 1–9 themselves, 0 for 10."""
    return str(score % 10)


def remaining(page) -> str:
    return page.locator("#remaining").inner_text()


def shown_assignment(page) -> Assignment:
    """The assignment of the pair on screen, by the form's hidden field."""
    return Assignment.objects.select_related("pair__prompt", "check_pair").get(
        pk=int(page.locator('input[name="assignment"]').input_value())
    )


def checked_score(page, side: str) -> int | None:
    checked = page.locator(f"#scale-{side} input:checked")
    return int(checked.input_value()) if checked.count() else None


def active_side(page) -> str:
    sides = page.locator(".pair figure.active").evaluate_all("figures => figures.map(f => f.dataset.side)")
    assert len(sides) == 1, sides
    return sides[0]


def focused_name(page) -> str:
    return page.evaluate("() => document.activeElement ? (document.activeElement.name || '') : ''")


def ratings_of(annotator: Annotator) -> int:
    return pair_ratings().filter(assignment__annotator=annotator).count()


def record_posts(page) -> list[str]:
    """The URLs of the page's POST requests, as they are sent."""
    posts: list[str] = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
    return posts


def consent_by_clicks(page) -> None:
    page.get_by_label(CONSENT_LABEL).check()
    with page.expect_navigation():
        page.get_by_role("button", name="Start").click()
    page.locator("#remaining").wait_for()


def rate_by_keys(page, left: int, right: int) -> Assignment:
    """Score the pair on screen with the keyboard (left first, Tab, right) and submit with Enter."""
    assignment = shown_assignment(page)
    assert active_side(page) == "left"
    page.keyboard.press(key_of(left))
    page.keyboard.press("Tab")
    page.keyboard.press(key_of(right))
    submit_and_wait(page, lambda: page.keyboard.press("Enter"))
    return assignment


def rate_by_clicks(page, left: int, right: int) -> Assignment:
    assignment = shown_assignment(page)
    click_score(page, "left", left)
    click_score(page, "right", right)
    submit_and_wait(page, page.locator("#submit").click)
    return assignment


def click_score(page, side: str, score: int) -> None:
    page.locator(f"#scale-{side} label").filter(has=page.locator("span", has_text=re.compile(rf"^{score}$"))).click()
    assert checked_score(page, side) == score


def assert_stored(assignment_id: int, left: int, right: int) -> None:
    """The rating stored for an assignment is the left/right scores given, mapped to arms by ours_on_left."""
    assignment = Assignment.objects.get(pk=assignment_id)
    ours, baseline = (left, right) if assignment.ours_on_left else (right, left)
    assert (pair_rating(assignment=assignment).ours_score, pair_rating(assignment=assignment).baseline_score) == (
        ours,
        baseline,
    ), assignment


# --- 1. keyboard only ----------------------------------------------------------------------------------------


def test_whole_flow_by_keyboard_only(live_server, page):
    study, (annotator,) = make_open_study(slug="keyboard", prompts=3, annotators=1)
    invite_url = url(live_server, "invite", token=annotator.token)
    rate_url = url(live_server, "rate", token=annotator.token)
    posts = record_posts(page)

    # Consent by keyboard: Tab to the box, Tab to Start; Enter is refused while the box is unticked.
    page.goto(invite_url)
    page.keyboard.press("Tab")
    assert focused_name(page) == "consent"
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent.trim()") == "Start"
    page.keyboard.press("Enter")
    page.wait_for_timeout(200)
    assert page.url == invite_url and posts == []
    annotator.refresh_from_db()
    assert annotator.consented_at is None
    assert focused_name(page) == "consent"  # the browser's own check moved the focus to the box
    page.keyboard.press("Space")
    assert page.get_by_label(CONSENT_LABEL).is_checked()
    page.keyboard.press("Tab")
    with page.expect_navigation(url=rate_url):
        page.keyboard.press("Enter")
    assert posts == [invite_url]
    posts.clear()

    # Per pair: the keys pressed on the left before Tab, on the right after it, and (if any) on the left
    # again after a second Tab; the last digit on a side counts. 0 gives 10.
    plans = [
        (["5", "3"], ["0"], []),  # 3 on the left (corrected from 5), 10 on the right
        (["0"], ["4"], ["8"]),  # Tab back to the left: 10 becomes 8
        (["9"], ["1"], []),
    ]
    given = []
    submit = page.locator("#submit")
    for k, (left_keys, right_keys, left_again) in enumerate(plans, start=1):
        assert remaining(page) == f"Pair {k} of {len(plans)}"
        assignment = shown_assignment(page)
        assert assignment.annotator_id == annotator.pk and assignment.order == k - 1
        assert active_side(page) == "left" and submit.is_disabled()

        # Enter with nothing scored, then with one side scored: nothing is sent or stored.
        page.keyboard.press("Enter")
        for key in left_keys:
            page.keyboard.press(key)
        left = int(left_keys[-1]) or 10
        assert checked_score(page, "left") == left and checked_score(page, "right") is None
        assert submit.is_disabled()
        page.keyboard.press("Enter")
        page.wait_for_timeout(150)
        assert posts == [rate_url] * (k - 1), "Enter sent a half-rated pair"
        assert ratings_of(annotator) == k - 1
        assert shown_assignment(page).pk == assignment.pk

        page.keyboard.press("Tab")
        assert active_side(page) == "right" and focused_name(page) == "right"
        for key in right_keys:
            page.keyboard.press(key)
        right = int(right_keys[-1]) or 10
        assert checked_score(page, "right") == right and checked_score(page, "left") == left
        assert submit.is_enabled()
        if left_again:
            # with both sides scored, Tab reaches Submit, and the next Tab returns to the left image
            page.keyboard.press("Tab")
            assert page.evaluate("() => document.activeElement.id") == "submit"
            page.keyboard.press("Tab")
            assert active_side(page) == "left" and focused_name(page) == "left"
            page.keyboard.press("Shift+Tab")
            assert page.evaluate("() => document.activeElement.id") == "submit"
            page.keyboard.press("Shift+Tab")
            assert active_side(page) == "right" and focused_name(page) == "right"
            page.keyboard.press("Shift+Tab")
            assert active_side(page) == "left" and focused_name(page) == "left"
            for key in left_again:
                page.keyboard.press(key)
            left = int(left_again[-1]) or 10
            assert checked_score(page, "left") == left and checked_score(page, "right") == right
        if k == 1:
            screenshot(page, "flows-keyboard-rate")

        submit_and_wait(page, lambda: page.keyboard.press("Enter"))
        assert posts == [rate_url] * k
        assert ratings_of(annotator) == k
        given.append((assignment.pk, left, right))

    page.wait_for_url(url(live_server, "done", token=annotator.token))
    code = page.locator("#completion-code").inner_text().strip()
    screenshot(page, "flows-keyboard-done")
    annotator.refresh_from_db()
    assert annotator.finished_at is not None and code == annotator.completion_code != ""
    assert [score for _, score, _ in given] == [3, 8, 9] and [score for _, _, score in given] == [10, 4, 1]
    for assignment_id, left, right in given:
        assert_stored(assignment_id, left, right)


# --- 2. resume after closing the tab -------------------------------------------------------------------------


def test_resume_after_closing_the_tab(live_server, new_context):
    study, (annotator,) = make_open_study(slug="resume", prompts=4, annotators=1)
    invite_url = url(live_server, "invite", token=annotator.token)

    context = new_context()
    page = context.new_page()
    page.goto(invite_url)
    consent_by_clicks(page)
    first = [rate_by_keys(page, 2, 7), rate_by_keys(page, 10, 5)]
    assert remaining(page) == "Pair 3 of 4"
    third = shown_assignment(page)
    page.keyboard.press("6")  # scored but never submitted
    page.close()
    context.close()

    third.refresh_from_db()
    shown_at = third.shown_at
    assert shown_at is not None and ratings_of(annotator) == 2

    context = new_context()
    page = context.new_page()
    posts = record_posts(page)
    page.goto(invite_url)
    page.wait_for_url(url(live_server, "rate", token=annotator.token))
    assert remaining(page) == "Pair 3 of 4"
    assert shown_assignment(page).pk == third.pk
    assert page.locator("#rating-form input:checked").count() == 0  # the unsent score is gone
    screenshot(page, "flows-resume")
    assert posts == [] and ratings_of(annotator) == 2
    third.refresh_from_db()
    assert third.shown_at == shown_at  # the time on the pair counts from when it was first shown

    last = [rate_by_keys(page, 6, 6), rate_by_keys(page, 1, 9)]
    page.wait_for_url(url(live_server, "done", token=annotator.token))
    annotator.refresh_from_db()
    assert page.locator("#completion-code").inner_text().strip() == annotator.completion_code != ""

    ratings = pair_ratings().filter(assignment__annotator=annotator)
    assert ratings.count() == 4
    assert sorted(ratings.values_list("assignment_id", flat=True)) == sorted(a.pk for a in first + last)
    assert [a.order for a in first + last] == [0, 1, 2, 3]
    for assignment, (left, right) in zip(first + last, [(2, 7), (10, 5), (6, 6), (1, 9)], strict=True):
        assert_stored(assignment.pk, left, right)


# --- 3. Prolific ---------------------------------------------------------------------------------------------


def test_prolific_entry_resume_and_completion_redirect(live_server, new_context):
    study, _ = make_open_study(
        slug="prolific",
        prompts=3,
        annotators=1,
        enrolment_open=True,
        completion_url=PROLIFIC_COMPLETE,
        completion_code="C1234ABC",
    )
    entry_url = url(live_server, "prolific", enrolment_token=study.enrolment_token)
    pid = "5f1e2d3c4b5a69788796a5b4"

    def from_prolific(**params: str) -> str:
        return entry_url + "?" + "&".join(f"{key}={value}" for key, value in params.items())

    # A link without PROLIFIC_PID: a clear error, and nobody enrolled.
    page = new_context().new_page()
    response = page.goto(from_prolific(STUDY_ID="study-1", SESSION_ID="session-0"))
    assert response.status == 400
    alert = page.get_by_role("alert")
    assert alert.inner_text() == "The link lacks PROLIFIC_PID; please open the study from Prolific."
    assert page.get_by_role("button").count() == 0
    screenshot(page, "flows-prolific-missing-pid")
    assert not study.annotators.exclude(source=Annotator.Source.INVITE).exists()
    page.context.close()

    # First visit: consent and rate one pair.
    context = new_context()
    page = context.new_page()
    page.goto(from_prolific(PROLIFIC_PID=pid, STUDY_ID="study-1", SESSION_ID="session-1"))
    participant = Annotator.objects.get(study=study, external_id=pid)
    assert participant.source == Annotator.Source.PROLIFIC
    assert participant.entry == {"PROLIFIC_PID": pid, "STUDY_ID": "study-1", "SESSION_ID": "session-1"}
    assert page.url == url(live_server, "invite", token=participant.token)
    consent_by_clicks(page)
    given = [rate_by_clicks(page, 4, 8)]
    context.close()

    # Returning with the same attempt (PID, STUDY_ID and SESSION_ID) in a new browser context: the same annotator,
    # where it left off, and that browser is bound to it now.
    context = new_context()
    routed: list[str] = []

    def prolific_stub(route):
        routed.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body=f"<h1>Prolific stub {len(routed)}</h1>")

    page = context.new_page()
    page.route("https://app.prolific.com/**", prolific_stub)
    page.goto(from_prolific(PROLIFIC_PID=pid, STUDY_ID="study-1", SESSION_ID="session-1"))
    assert page.url == url(live_server, "rate", token=participant.token)
    assert remaining(page) == "Pair 2 of 3"
    assert study.annotators.filter(source=Annotator.Source.PROLIFIC).count() == 1
    given.append(rate_by_clicks(page, 9, 2))

    # Finishing sends the browser to Prolific's completion URL with the study's code.
    assignment = shown_assignment(page)
    click_score(page, "left", 3)
    click_score(page, "right", 10)
    # Click, then wait. Waited for inside expect_navigation() (or started by page.goto()), a navigation whose
    # redirects end on another site was seen to reach that site unrouted (a failed DNS look-up here).
    page.locator("#submit").click()
    page.wait_for_url(f"{PROLIFIC_COMPLETE}?cc=C1234ABC")
    given.append(assignment)
    assert routed == [f"{PROLIFIC_COMPLETE}?cc=C1234ABC"]
    assert page.locator("h1").inner_text() == "Prolific stub 1"
    screenshot(page, "flows-prolific-complete")

    participant.refresh_from_db()
    assert participant.finished_at is not None and participant.completion_code == "C1234ABC"
    for assignment, (left, right) in zip(given, [(4, 8), (9, 2), (3, 10)], strict=True):
        assert assignment.annotator_id == participant.pk
        assert_stored(assignment.pk, left, right)

    # Opening the link again after finishing (a new attempt, from the bound browser) goes straight back to the
    # completion URL.
    again = from_prolific(PROLIFIC_PID=pid, STUDY_ID="study-1", SESSION_ID="session-3")
    page.evaluate("url => { location.href = url; }", again)
    page.get_by_role("heading", name="Prolific stub 2").wait_for()
    assert page.url == f"{PROLIFIC_COMPLETE}?cc=C1234ABC"
    assert len(routed) == 2 and ratings_of(participant) == 3


# --- 4. two annotators at once -------------------------------------------------------------------------------


def test_two_annotators_interleaved(live_server, new_context):
    study, annotators = make_open_study(slug="two", prompts=3, annotators=2)
    pages = [new_context().new_page() for _ in annotators]
    scores = [[(2, 9), (10, 1), (5, 6)], [(7, 3), (4, 4), (1, 10)]]
    given: list[list[Assignment]] = [[], []]

    for tab, annotator in zip(pages, annotators, strict=True):
        tab.goto(url(live_server, "invite", token=annotator.token))
    for tab in pages:
        tab.get_by_label(CONSENT_LABEL).check()
    for tab in pages:
        with tab.expect_navigation():
            tab.get_by_role("button", name="Start").click()

    for k in range(1, 4):
        for i, (tab, annotator) in enumerate(zip(pages, annotators, strict=True)):
            other = annotators[1 - i]
            assert remaining(tab) == f"Pair {k} of 3"
            assignment = shown_assignment(tab)
            assert assignment.annotator_id == annotator.pk and assignment.order == k - 1
            sources = tab.locator(".pair img").evaluate_all("images => images.map(img => img.src)")
            assert len(sources) == 2
            assert all(annotator.token in src and other.token not in src for src in sources), sources
            given[i].append(assignment)
        if k == 1:
            # A's tab cannot rate B's pair: the server refuses another annotator's assignment.
            status = (
                pages[0]
                .locator("#rating-form")
                .evaluate(
                    """(form, assignment) => {
                    const body = new FormData(form);
                    body.set("assignment", assignment);
                    body.set("left", "5");
                    body.set("right", "5");
                    return fetch(form.action, {method: "POST", body}).then(r => r.status);
                }""",
                    str(given[1][0].pk),
                )
            )
            assert status == 404
            assert ratings_of(annotators[0]) == ratings_of(annotators[1]) == 0
        # Step by step in turn: A left, B left, A right, B right, A submits, B submits.
        for side in ("left", "right"):
            for i, tab in enumerate(pages):
                click_score(tab, side, scores[i][k - 1][0 if side == "left" else 1])
        for i, tab in enumerate(pages):
            submit_and_wait(tab, tab.locator("#submit").click)
            assert ratings_of(annotators[i]) == k
            assert ratings_of(annotators[1 - i]) == (k if i == 1 else k - 1)

    codes = []
    for i, (tab, annotator) in enumerate(zip(pages, annotators, strict=True)):
        tab.wait_for_url(url(live_server, "done", token=annotator.token))
        codes.append(tab.locator("#completion-code").inner_text().strip())
        screenshot(tab, f"flows-two-annotators-{i + 1}")
        annotator.refresh_from_db()
        assert annotator.finished_at is not None and annotator.completion_code == codes[i]
    assert codes[0] and codes[1] and codes[0] != codes[1]

    for i, annotator in enumerate(annotators):
        assert ratings_of(annotator) == 3
        for assignment, (left, right) in zip(given[i], scores[i], strict=True):
            assert_stored(assignment.pk, left, right)


# --- submits on a bad connection ----------------------------------------------------------------------------


def test_submit_survives_a_lost_answer_and_a_dropped_connection(live_server, page):
    """The page's script sends a submit again when its answer never arrives; the server stores it once."""
    study, (annotator,) = make_open_study(slug="lossy", prompts=3, annotators=1)
    rate_url = url(live_server, "rate", token=annotator.token)
    attempts: list[str] = []

    def flaky(route):
        attempts.append(route.request.method)
        if route.request.method != "POST" or len(attempts) > 2:
            route.continue_()
        elif len(attempts) == 1:
            route.fetch()  # the server stores the rating, but its answer is lost on the way back
            route.abort("connectionreset")
        else:
            route.abort("connectionrefused")  # the retry does not get through either

    page.goto(url(live_server, "invite", token=annotator.token))
    consent_by_clicks(page)
    page.route(rate_url, flaky)
    first = rate_by_clicks(page, 6, 2)
    assert attempts == ["POST", "POST", "POST"]
    assert remaining(page) == "Pair 2 of 3" and shown_assignment(page).pk != first.pk
    assert ratings_of(annotator) == 1
    assert_stored(first.pk, 6, 2)
    rate_by_clicks(page, 1, 9)
    assert ratings_of(annotator) == 2 and len(attempts) == 4


# --- 5. attention checks and screening out -------------------------------------------------------------------

# Each prompt's images (both arms) get its own solid colour, so the mismatched image of an attention check (another
# prompt's image) can be told from the matching one (the prompt's own) by its pixels, whichever arm the check shows.
COLOURS = [(220, 40, 40), (40, 160, 60), (50, 80, 220)]


def colour_pairs(study) -> dict[int, tuple[int, int, int]]:
    """Repaint both images of each pair in its own colour; the colour of each pair by its id."""
    colours = {}
    for pair, colour in zip(study.pairs.select_related("job").order_by("pk"), COLOURS, strict=True):
        for name in (pair.job.baseline_image, pair.job.ours_image):
            write_atomic(name, encode_png(Image.new("RGB", (pair.job.width, pair.job.height), colour)))
        colours[pair.pk] = colour
    return colours


def side_colours(page) -> dict[str, tuple[int, int, int]]:
    page.wait_for_function("() => Array.from(document.querySelectorAll('.pair img')).every(img => img.complete)")
    images = page.locator(".pair img")
    return {side: tuple(images.nth(i).evaluate(CENTRE_PIXEL)) for i, side in enumerate(("left", "right"))}


def near(a, b) -> bool:
    return all(abs(x - y) <= 3 for x, y in zip(a, b, strict=True))


def answer_until_done(page, colours, *, fail_check: bool) -> tuple[Assignment, list[Assignment]]:
    """Rate every pair (6 and 6) and the attention check: the matching image 9 and the mismatched one 2, or the
    reverse when ``fail_check``, stopping after the check then. The mismatched side is found by its pixels (its
    colour is not the prompt's own) and checked against the database. Returns the check and the rated pairs."""
    check, rated = None, []
    while page.locator("#remaining").count():
        assignment = shown_assignment(page)
        if not assignment.is_attention_check:
            rated.append(rate_by_clicks(page, 6, 6))
            continue
        seen = side_colours(page)
        own = colours[assignment.pair_id]
        mismatched = [side for side, colour in seen.items() if not near(colour, own)]
        assert len(mismatched) == 1, (seen, own)
        mismatched_side = mismatched[0]
        assert near(seen[mismatched_side], colours[assignment.check_pair_id])
        assert mismatched_side == ("left" if assignment.ours_on_left else "right")
        matching_side = "right" if mismatched_side == "left" else "left"
        high, low = (mismatched_side, matching_side) if fail_check else (matching_side, mismatched_side)
        click_score(page, high, 9)
        click_score(page, low, 2)
        submit_and_wait(page, page.locator("#submit").click)
        check = assignment
        if fail_check:
            break
    return check, rated


def test_attention_check_screens_out_and_passes(live_server, new_context):
    study, (careless, careful) = make_open_study(
        slug="checks", prompts=3, annotators=2, attention_checks=1, screen_out_after=1
    )
    colours = colour_pairs(study)

    # Scoring the mismatched image higher fails the check and ends participation at once, with no code.
    page = new_context().new_page()
    page.goto(url(live_server, "invite", token=careless.token))
    consent_by_clicks(page)
    assert remaining(page) == "Pair 1 of 4"  # three pairs and one check
    check, rated = answer_until_done(page, colours, fail_check=True)
    assert check is not None and check.annotator_id == careless.pk
    assert page.locator("h1").inner_text() == "Thank you for your time"
    assert page.locator("#screened-out").is_visible()
    assert page.locator("#completion-code").count() == 0
    screenshot(page, "flows-screened-out")
    careless.refresh_from_db()
    assert careless.screened_out_at is not None
    assert careless.finished_at is None and careless.completion_code == ""
    response = CheckResponse.objects.get(assignment=check)
    assert (response.passed, response.matching_score, response.mismatched_score) == (False, 2, 9)
    assert ratings_of(careless) == len(rated) == check.order
    # Neither the invite link, the rating page nor the finish page gives a code or another pair afterwards.
    for name in ("invite", "rate", "done"):
        page.goto(url(live_server, name, token=careless.token))
        assert page.locator("#screened-out").is_visible(), name
        assert page.locator("#completion-code").count() == 0 and page.locator("#remaining").count() == 0

    # Scoring the matching image higher passes, and the annotator finishes with a code.
    page = new_context().new_page()
    page.goto(url(live_server, "invite", token=careful.token))
    consent_by_clicks(page)
    check, rated = answer_until_done(page, colours, fail_check=False)
    assert check is not None and check.annotator_id == careful.pk and len(rated) == 3
    page.wait_for_url(url(live_server, "done", token=careful.token))
    code = page.locator("#completion-code").inner_text().strip()
    screenshot(page, "flows-check-passed")
    careful.refresh_from_db()
    assert careful.screened_out_at is None and careful.finished_at is not None and code == careful.completion_code != ""
    response = CheckResponse.objects.get(assignment=check)
    assert (response.passed, response.matching_score, response.mismatched_score) == (True, 9, 2)
    assert ratings_of(careful) == 3
