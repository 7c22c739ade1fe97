"""The refusals an annotator can meet, in headless Chromium against a live server: another browser holding the
Prolific ID (409), time ran out (410, also when it runs out under an open rating page), too many enrolments from one
network (429). Each page says what happened, in view, offers nothing to click, and logs no console error."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from annotations.models import Annotator, Assignment
from tests.factories import make_open_study, pair_ratings
from tests.integration.browser import (  # noqa: F401 (fixtures are found by name)
    BROWSER_MARKS,
    async_unsafe_ok,
    chromium,
    new_context,
    page,
    screenshot,
)
from tests.integration.test_browser_flows import click_score, consent_by_clicks, rate_by_clicks, shown_assignment

pytestmark = BROWSER_MARKS


def url(live_server, name: str, **kwargs) -> str:
    return live_server.url + reverse(f"annotations:{name}", kwargs=kwargs)


def watch_console(page) -> list[str]:
    """Console errors and uncaught exceptions of the page, as they come, with the URL a console message names."""
    errors: list[str] = []
    page.on(
        "console",
        lambda message: (
            errors.append(f"{message.text} ({message.location.get('url')})") if message.type == "error" else None
        ),
    )
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def unexpected(errors: list[str], status: int) -> list[str]:
    """The errors but Chromium's notes that the refusal page itself came with ``status`` and that the site has no
    /favicon.ico (a site-wide matter, not these pages')."""
    note = "Failed to load resource: the server responded with a status of "
    expected = (f"{note}{status} ", f"{note}404 (Not Found) (")
    return [
        error
        for error in errors
        if not (error.startswith(expected[0]) or error.startswith(expected[1]) and error.endswith("/favicon.ico)"))
    ]


def assert_refusal_shown(page, *, heading: str, card: str, says: list[str]) -> None:
    """The page's heading and card are in view, the card says each of ``says``, and nothing invites a click."""
    assert page.get_by_role("heading", level=1).inner_text() == heading
    box = page.locator(card).bounding_box()
    viewport = page.viewport_size
    assert box and box["width"] > 300 and box["height"] > 40 and box["y"] + box["height"] < viewport["height"]
    text = page.locator(card).inner_text()
    for phrase in says:
        assert phrase in text, (phrase, text)
    assert page.locator("form, button, a, input").count() == 0
    assert page.locator("script:not([src]), [style]").count() == 0  # nothing a script-src 'self' policy would block


def test_another_browser_with_a_known_prolific_id_sees_why_and_nothing_else(live_server, new_context):
    study, _ = make_open_study(slug="bound", prompts=2, annotators=1, enrolment_open=True)
    entry = url(live_server, "prolific", enrolment_token=study.enrolment_token)
    pid = "5f1e2d3c4b5a69788796a5b4"
    participant = new_context().new_page()
    participant.goto(f"{entry}?PROLIFIC_PID={pid}&STUDY_ID=st&SESSION_ID=real-session")
    consent_by_clicks(participant)
    annotator = Annotator.objects.get(external_id=pid)

    intruder = new_context().new_page()
    errors = watch_console(intruder)
    response = intruder.goto(f"{entry}?PROLIFIC_PID={pid}&STUDY_ID=st&SESSION_ID=guessed")
    assert response.status == 409 and intruder.url.startswith(entry)
    assert_refusal_shown(
        intruder,
        heading=study.title,
        card="#other-browser",
        says=["already taking part from another browser", "contact the researcher"],
    )
    assert annotator.token not in intruder.content() and not intruder.context.cookies()
    screenshot(intruder, "security-other-browser")
    assert unexpected(errors, 409) == []
    # the participant's own browser goes on
    participant.goto(f"{entry}?PROLIFIC_PID={pid}&STUDY_ID=st&SESSION_ID=next-session")
    assert participant.url == url(live_server, "rate", token=annotator.token)


def test_a_lease_that_ends_under_an_open_rating_page_ends_on_the_time_ran_out_page(live_server, page):
    _, (annotator, _) = make_open_study(slug="late", prompts=3, annotators=2)
    errors = watch_console(page)
    page.goto(url(live_server, "invite", token=annotator.token))
    consent_by_clicks(page)
    rated = rate_by_clicks(page, 4, 8)
    waiting = shown_assignment(page)
    # the annotator walks away for longer than the study's hour; the page stays open
    Annotator.objects.filter(pk=annotator.pk).update(consented_at=timezone.now() - timedelta(minutes=62))
    Assignment.objects.filter(annotator=annotator).update(shown_at=timezone.now() - timedelta(minutes=61))
    click_score(page, "left", 3)
    click_score(page, "right", 9)
    page.locator("#submit").click()
    page.locator("#time-ran-out").wait_for()
    assert page.url == url(live_server, "rate", token=annotator.token)
    assert_refusal_shown(
        page,
        heading="Your time ran out",
        card="#time-ran-out",
        says=["your time for this study ran out", "The ratings you gave are kept"],
    )
    screenshot(page, "security-time-ran-out")
    assert list(pair_ratings().filter(assignment__annotator=annotator).values_list("assignment_id", flat=True)) == [
        rated.pk
    ]
    assert not pair_ratings().filter(assignment=waiting).exists()
    response = page.reload()
    assert response.status == 410
    assert unexpected(errors, 410) == []


def test_too_many_joins_from_one_network_are_told_to_come_back_later(live_server, new_context):
    study, _ = make_open_study(
        slug="crowd", prompts=2, annotators=1, enrolment_open=True, enrolments_per_address_per_hour=1
    )
    join = url(live_server, "join", enrolment_token=study.enrolment_token)
    first = new_context().new_page()
    first.goto(join)
    with first.expect_navigation():
        first.get_by_role("button", name="Join the study").click()
    assert first.url.startswith(live_server.url + "/a/")

    second = new_context().new_page()  # another browser on the same network (the live server sees 127.0.0.1)
    errors = watch_console(second)
    second.goto(join)
    with second.expect_navigation() as navigation:
        second.get_by_role("button", name="Join the study").click()
    assert navigation.value.status == 429
    assert_refusal_shown(
        second,
        heading=study.title,
        card="#too-many",
        says=["Too many people joined from your network in the last hour", "try again later"],
    )
    screenshot(second, "security-too-many")
    assert study.annotators.filter(source=Annotator.Source.OPEN).count() == 1
    assert unexpected(errors, 429) == []
