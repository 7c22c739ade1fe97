"""The annotator's pages in headless Chromium, measured by element boxes: the rating page fits one screen on a
laptop (1280×800, 1366×768) and a phone (390×844) for square and wide images, a screen too short for that keeps
the prompt in sight while it scrolls, and the words, labels, progress, focus rings and the copy button of the
finish page work as the annotator needs them.

With ``EVALSITE_SCREENSHOTS=1`` one more test saves the screenshots of docs/annotator-flow.md under docs/img/.
"""

import os
import re
from pathlib import Path

import pytest
from django.urls import reverse
from PIL import Image, ImageDraw

from annotations import services
from annotations.models import Criterion, Rating
from annotations.services import design
from generation.storage import encode_png, write_atomic
from tests.analysis.test_exports import rate_all
from tests.factories import make_open_study, pair_rating, pair_ratings
from tests.integration.browser import (  # noqa: F401 (fixtures are found by name)
    BROWSER_MARKS,
    TIMEOUT_MS,
    async_unsafe_ok,
    chromium,
    new_context,
    page,
    submit_and_wait,
)

pytestmark = BROWSER_MARKS

LAPTOPS = [{"width": 1280, "height": 800}, {"width": 1366, "height": 768}]
PHONE = {"width": 390, "height": 844}
SQUARE, WIDE = (512, 512), (512, 288)
QUESTION = "How well does each image match the text?"
DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"


# --- helpers -------------------------------------------------------------------------------------------------


def url(live_server, name: str, **kwargs) -> str:
    return live_server.url + reverse(f"annotations:{name}", kwargs=kwargs)


def open_context(chromium, viewport: dict, *, phone: bool = False):
    """A fresh browser context of ``viewport``'s size; ``phone``: a touch screen that honours the page's viewport
    meta tag, as a phone's browser does."""
    context = chromium.new_context(viewport=viewport, is_mobile=phone, has_touch=phone)
    context.set_default_timeout(TIMEOUT_MS)
    return context


def rating_page(live_server, chromium, viewport: dict, size: tuple[int, int], *, phone: bool = False, **fields):
    """A consented annotator's rating page in a new context, its images loaded."""
    width, height = size
    study, (annotator,) = make_open_study(slug="layout", prompts=3, annotators=1, width=width, height=height, **fields)
    services.give_consent(annotator=annotator)
    page = open_context(chromium, viewport, phone=phone).new_page()
    page.goto(url(live_server, "rate", token=annotator.token))
    wait_for_images(page)
    return study, annotator, page


def wait_for_images(page) -> None:
    page.wait_for_function("() => Array.from(document.images).every(img => img.complete && img.naturalWidth > 0)")


def box(page, selector: str) -> dict:
    found = page.locator(selector).bounding_box()
    assert found, f"{selector} has no box"
    return found


def in_view(found: dict, viewport: dict) -> bool:
    return (
        found["x"] >= -0.5
        and found["y"] >= -0.5
        and found["x"] + found["width"] <= viewport["width"] + 0.5
        and found["y"] + found["height"] <= viewport["height"] + 0.5
    )


def picture(page, side: str) -> dict:
    """Where the image's picture is drawn: its box, less the bands ``object-fit: contain`` leaves around it."""
    image = page.locator(f"#figure-{side} img")
    outer = image.bounding_box()
    natural_width, natural_height = image.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    scale = min(outer["width"] / natural_width, outer["height"] / natural_height)
    width, height = natural_width * scale, natural_height * scale
    return {
        "x": outer["x"] + (outer["width"] - width) / 2,
        "y": outer["y"] + (outer["height"] - height) / 2,
        "width": width,
        "height": height,
    }


def bottom(found: dict) -> float:
    return found["y"] + found["height"]


def centre_x(found: dict) -> float:
    return found["x"] + found["width"] / 2


def document_size(page) -> dict:
    return page.evaluate(
        """() => ({scrollWidth: document.documentElement.scrollWidth,
                   scrollHeight: document.documentElement.scrollHeight,
                   width: innerWidth, height: innerHeight})"""
    )


#: What the annotator must see without scrolling on the rating page.
ON_SCREEN = [
    "h1",
    "#remaining",
    "#prompt",
    "#figure-left img",
    "#figure-right img",
    "#scale-left",
    "#scale-right",
    "#figure-left .anchors",
    "#figure-right .anchors",
    "#submit",
]


def assert_one_screen(page, viewport: dict) -> None:
    """The document is no larger than the viewport, and each part of the rating page is inside it."""
    size = document_size(page)
    assert size["scrollHeight"] <= size["height"] and size["scrollWidth"] <= size["width"], size
    for selector in ON_SCREEN:
        if selector.endswith(".anchors") and not page.locator(selector).count():
            continue  # a criterion without anchors shows none
        assert in_view(box(page, selector), viewport), (selector, box(page, selector), viewport)
    for side in ("left", "right"):
        assert in_view(picture(page, side), viewport), side


def assert_scales_under_pictures(page, *, max_gap: float, points: int = 10) -> dict:
    """Each scale starts right under its picture, centred on it, its ``points`` scores in one row. Returns the
    pictures."""
    pictures = {}
    for side in ("left", "right"):
        drawn, scale = picture(page, side), box(page, f"#scale-{side}")
        assert 0 <= scale["y"] - bottom(drawn) < max_gap, (side, drawn, scale)
        assert abs(centre_x(scale) - centre_x(drawn)) < 2, (side, drawn, scale)
        rows = page.locator(f"#scale-{side} label").evaluate_all(
            "labels => labels.map(l => l.getBoundingClientRect().y)"
        )
        assert len(rows) == points and max(rows) - min(rows) < 1, rows
        pictures[side] = drawn
    return pictures


# --- 1. one screen -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [SQUARE, WIDE], ids=["square", "wide"])
@pytest.mark.parametrize("viewport", LAPTOPS, ids=lambda v: f"{v['width']}x{v['height']}")
def test_the_rating_page_fits_a_laptop_screen(live_server, chromium, viewport, size):
    _, _, page = rating_page(live_server, chromium, viewport, size)
    assert_one_screen(page, viewport)
    assert in_view(box(page, "#keys"), viewport)
    pictures = assert_scales_under_pictures(page, max_gap=40)
    left, right = pictures["left"], pictures["right"]
    # side by side, the same size, each large enough to judge
    assert left["x"] + left["width"] < right["x"] and abs(left["y"] - right["y"]) < 1
    assert left["width"] == pytest.approx(right["width"], abs=1) and min(left["width"], left["height"]) >= 280, left
    # Submit under both scales
    assert box(page, "#submit")["y"] >= max(bottom(box(page, f"#scale-{side}")) for side in ("left", "right"))


@pytest.mark.parametrize("size", [SQUARE, WIDE], ids=["square", "wide"])
def test_the_rating_page_fits_a_phone_stacked_and_is_rated_by_taps(live_server, chromium, size):
    study, annotator, page = rating_page(live_server, chromium, PHONE, size, phone=True)
    assert_one_screen(page, PHONE)
    pictures = assert_scales_under_pictures(page, max_gap=30)
    left, right = pictures["left"], pictures["right"]
    # stacked: Image B under Image A's scale, each as wide as the screen allows or as tall as its half
    assert right["y"] > bottom(box(page, "#figure-left .anchors"))
    assert abs(centre_x(left) - centre_x(right)) < 1 and min(left["width"], left["height"]) >= 150, left
    # every score is a target a finger can hit
    for found in page.locator(".scale label").evaluate_all(
        "labels => labels.map(l => { const r = l.getBoundingClientRect(); return [r.width, r.height]; })"
    ):
        assert found[0] >= 24 and found[1] >= 24, found
    assert page.locator(".prompt-box").evaluate("e => getComputedStyle(e).position") == "sticky"

    for side, score in (("left", 4), ("right", 9)):
        page.locator(f"#scale-{side} label").filter(has_text=re.compile(rf"^{score}$")).tap()
    submit_and_wait(page, page.locator("#submit").tap)
    assert page.locator("#remaining").inner_text() == "Pair 2 of 3"
    assert pair_ratings().filter(assignment__annotator=annotator).count() == 1
    wait_for_images(page)
    assert_one_screen(page, PHONE)


def test_a_short_screen_scrolls_with_the_prompt_in_sight(live_server, chromium):
    viewport = {"width": 844, "height": 390}  # a phone held sideways
    _, _, page = rating_page(live_server, chromium, viewport, SQUARE, phone=True)
    size = document_size(page)
    assert size["scrollHeight"] > size["height"] and size["scrollWidth"] <= size["width"], size
    for selector in ("#prompt", "#scale-left", "#scale-right", "#submit"):
        page.locator(selector).scroll_into_view_if_needed()
        assert in_view(box(page, selector), viewport), selector
        prompt = box(page, ".prompt-box")
        assert in_view(prompt, viewport), (selector, prompt)
    assert page.evaluate("() => scrollY") > 0
    assert box(page, ".prompt-box")["y"] == pytest.approx(0, abs=1)  # stuck to the top


# --- 2. words ------------------------------------------------------------------------------------------------


def test_heading_labels_and_progress(live_server, chromium):
    study, annotator, page = rating_page(live_server, chromium, LAPTOPS[0], SQUARE, question=QUESTION)
    assert page.get_by_role("heading", level=1).inner_text() == QUESTION
    assert page.title() == f"Pair 1 of 3 · {study.title}"
    assert page.locator("#remaining").inner_text() == "Pair 1 of 3"
    # one name for each image everywhere: the legend of its scale, its alt text, each score's name, the keys
    assert page.locator(".scale legend").all_inner_texts() == ["Image A", "Image B"]
    assert page.locator(".pair img").evaluate_all("images => images.map(img => img.alt)") == ["Image A", "Image B"]
    for label in ("Image A", "Image B"):
        for score in range(1, 11):
            assert page.get_by_role("radio", name=f"{label}, score {score}", exact=True).count() == 1
    keys = page.locator("#keys").inner_text()
    assert "Image A" in keys and "Image B" in keys
    assert page.locator(".anchors").first.inner_text().split("\n") == ["1 = does not match", "10 = matches exactly"]
    text = page.locator("body").inner_text()
    assert not re.search(r"\b(left|right|image [12])\b", text, re.IGNORECASE), text

    # the progress follows each background submit, with no page loaded
    page.evaluate("() => { window.samePage = true; }")
    submit_and_wait(page, lambda: [page.keyboard.press(key) for key in ("6", "Tab", "3", "Enter")])
    assert page.locator("#remaining").inner_text() == "Pair 2 of 3"
    assert page.title() == f"Pair 2 of 3 · {study.title}"
    assert page.evaluate("() => window.samePage === true")
    wait_for_images(page)
    assert_one_screen(page, LAPTOPS[0])


def test_consent_page_names_the_images_and_the_ends_of_the_scale(live_server, page):
    _, (annotator,) = make_open_study(slug="words", prompts=2, annotators=1)
    page.goto(url(live_server, "invite", token=annotator.token))
    ends = [" ".join(text.split()) for text in page.locator("#scale-ends > div").all_inner_texts()]
    assert ends == ["1 = does not match", "10 = matches exactly"]  # the criterion's anchors, as under each scale
    keys = page.locator("#keys").inner_text()
    assert "Image A" in keys and "Image B" in keys
    assert not re.search(r"\b(left|right|image [12])\b", page.locator("main").inner_text(), re.IGNORECASE)


# --- 3. focus ------------------------------------------------------------------------------------------------


def focus_ring(page) -> tuple[str, str]:
    """The outline style and width drawn for the focused element: a score's visible button, or the element."""
    style, width = page.evaluate(
        """() => {
            const focused = document.activeElement;
            const drawn = focused.type === "radio" ? focused.nextElementSibling : focused;
            const style = getComputedStyle(drawn);
            return [style.outlineStyle, style.outlineWidth];
        }"""
    )
    return style, width


def test_keyboard_focus_is_visible(live_server, chromium):
    _, _, page = rating_page(live_server, chromium, LAPTOPS[0], SQUARE)
    page.keyboard.press("7")
    assert focus_ring(page) == ("solid", "3px")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.name") == "right"
    assert focus_ring(page) == ("solid", "3px")
    page.keyboard.press("2")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "submit"
    assert focus_ring(page) == ("solid", "3px")


# --- 4. the completion code ----------------------------------------------------------------------------------


def finished(live_server, chromium, viewport: dict, *, clipboard: bool = True, phone: bool = False):
    """A finished annotator's finish page; ``clipboard``: whether the browser lets the page write the clipboard
    (without, navigator.clipboard is missing, as on a page not served over HTTPS)."""
    study, (annotator,) = make_open_study(slug="done", prompts=2, annotators=1)
    rate_all(study, [annotator], [[(3, 8), (5, 5)]])
    context = open_context(chromium, viewport, phone=phone)
    if clipboard:
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    else:
        context.add_init_script("Object.defineProperty(Navigator.prototype, 'clipboard', {get: () => undefined});")
    page = context.new_page()
    page.goto(url(live_server, "done", token=annotator.token))
    annotator.refresh_from_db()
    return annotator, page


@pytest.mark.parametrize("viewport", [LAPTOPS[0], PHONE], ids=["laptop", "phone"])
def test_copy_button_copies_the_completion_code(live_server, chromium, viewport):
    annotator, page = finished(live_server, chromium, viewport, phone=viewport is PHONE)
    code = page.locator("#completion-code").inner_text().strip()
    assert code == annotator.completion_code != ""
    button = page.get_by_role("button", name="Copy code")
    for selector in ("h1", "#completion-code", "#copy-code"):
        assert in_view(box(page, selector), viewport), selector
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "copy-code" and focus_ring(page) == ("solid", "3px")
    button.click()
    page.get_by_role("button", name="Copied").wait_for()
    assert page.locator("#copy-code").evaluate("b => b.classList.contains('copied')")
    assert page.get_by_role("status").inner_text() == f"Copied the code {code} to the clipboard."
    assert page.evaluate("() => navigator.clipboard.readText()") == code
    # the button comes back for another copy
    page.get_by_role("button", name="Copy code").wait_for(timeout=6_000)


def test_without_the_clipboard_the_code_is_selected_to_copy(live_server, chromium):
    annotator, page = finished(live_server, chromium, LAPTOPS[0], clipboard=False)
    assert page.evaluate("() => navigator.clipboard === undefined")
    page.get_by_role("button", name="Copy code").click()
    assert page.evaluate("() => getSelection().toString().trim()") == annotator.completion_code
    assert "press Ctrl+C" in page.get_by_role("status").inner_text()


def test_without_script_the_code_shows_and_no_dead_button(live_server, chromium):
    study, (annotator,) = make_open_study(slug="done", prompts=1, annotators=1)
    rate_all(study, [annotator], [[(3, 8)]])
    context = chromium.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(url(live_server, "done", token=annotator.token))
    annotator.refresh_from_db()
    assert page.locator("#completion-code").inner_text().strip() == annotator.completion_code
    assert not page.locator("#copy-code").is_visible()


# --- screenshots for the docs --------------------------------------------------------------------------------


def paint_scenes(study) -> None:
    """Repaint the study's images as simple scenes (sky, ground, a red shape), so that the docs' screenshots show
    pictures rather than grey squares; the two images of a pair differ in where the shape stands."""
    for k, pair in enumerate(study.pairs.select_related("job").order_by("pk")):
        job = pair.job
        for shift, name in ((0, job.baseline_image), (1, job.ours_image)):
            image = Image.new("RGB", (job.width, job.height), (150, 200, 235))
            draw = ImageDraw.Draw(image)
            draw.rectangle((0, job.height * 2 // 3, job.width, job.height), fill=(95, 150, 85))
            left = job.width // 5 + shift * job.width // 3 + k * 8
            top, size = job.height // 3, job.width // 4
            draw.ellipse((left, top, left + size, top + size), fill=(200, 50, 45))
            write_atomic(name, encode_png(image))


@pytest.mark.skipif(os.environ.get("EVALSITE_SCREENSHOTS") != "1", reason="set EVALSITE_SCREENSHOTS=1 to save them")
def test_save_the_screenshots_of_the_docs(live_server, chromium):
    """docs/img/: the consent page on a laptop, the rating page on a laptop and on a phone, the finish page on a
    phone."""
    DOCS_IMG.mkdir(exist_ok=True)
    study, (laptop, phone, done) = make_open_study(slug="screens", prompts=3, annotators=3, width=512, height=512)
    paint_scenes(study)
    for annotator, viewport, name in ((laptop, LAPTOPS[0], "1280x800"), (phone, PHONE, "390x844")):
        page = open_context(chromium, viewport, phone=viewport is PHONE).new_page()
        page.goto(url(live_server, "invite", token=annotator.token))
        if viewport is not PHONE:
            page.screenshot(path=str(DOCS_IMG / f"consent-{name}.png"))
        page.get_by_label("I have read the above and agree to take part.").check()
        page.get_by_role("button", name="Start").click()
        page.locator("#remaining").wait_for()
        wait_for_images(page)
        page.locator("#scale-left label").filter(has_text=re.compile(r"^8$")).click()
        page.screenshot(path=str(DOCS_IMG / f"rate-{name}.png"))
        page.context.close()
    rate_all(study, [done], [[(3, 8), (5, 5), (6, 4)]])
    page = open_context(chromium, PHONE, phone=True).new_page()
    page.goto(url(live_server, "done", token=done.token))
    page.screenshot(path=str(DOCS_IMG / "done-390x844.png"))


def test_the_criterion_gives_the_question_and_the_ends_of_each_scale(live_server, chromium):
    """What the study's criterion says is what both pages show: its question, and its anchors under each scale and
    on the consent page; a criterion without anchors shows none, and the scale keeps its place."""
    study, annotator, page = rating_page(live_server, chromium, LAPTOPS[0], SQUARE)
    criterion = study.criteria.get()
    criterion.question = "How natural does the image look?"
    criterion.low_anchor, criterion.high_anchor = "clearly artificial", "a photograph"
    criterion.save()
    page.reload()
    wait_for_images(page)
    assert page.get_by_role("heading", level=1).inner_text() == "How natural does the image look?"
    assert page.locator(".anchors").all_inner_texts() == ["1 = clearly artificial\n10 = a photograph"] * 2
    assert_one_screen(page, LAPTOPS[0])

    consent = open_context(chromium, LAPTOPS[0]).new_page()
    other = services.create_annotators(study=study, count=1)[0]
    consent.goto(url(live_server, "invite", token=other.token))
    assert "How natural does the image look?" in consent.locator("#criterion-consistency").inner_text()
    ends = [" ".join(text.split()) for text in consent.locator("#scale-ends > div").all_inner_texts()]
    assert ends == ["1 = clearly artificial", "10 = a photograph"]

    criterion.low_anchor = criterion.high_anchor = ""
    criterion.save()
    page.reload()
    wait_for_images(page)
    assert page.locator(".anchors").count() == 0
    assert page.locator(".scale").count() == 2
    assert_one_screen(page, LAPTOPS[0])
    consent.reload()
    assert consent.locator("#scale-ends").count() == 0


@pytest.mark.parametrize("viewport", [LAPTOPS[0], PHONE], ids=["laptop", "phone"])
def test_a_seven_point_scale_fits_and_takes_only_its_keys(live_server, chromium, viewport):
    phone = viewport is PHONE
    study, annotator, page = rating_page(live_server, chromium, viewport, SQUARE, phone=phone)
    study.criteria.update(scale_points=7, high_anchor="a perfect match")
    page.reload()
    wait_for_images(page)
    assert page.locator("#scale-left input").count() == 7 and page.locator("#scale-right input").count() == 7
    assert_scales_under_pictures(page, max_gap=40, points=7)
    assert page.locator(".anchors").first.inner_text().split("\n") == ["1 = does not match", "7 = a perfect match"]
    assert_one_screen(page, viewport)
    if not phone:
        assert page.locator("#keys").inner_text().startswith("Keys: 1–7 score the highlighted image")
        page.keyboard.press("8")  # past the scale: nothing is chosen
        assert page.locator("#scale-left input:checked").count() == 0
        submit_and_wait(page, lambda: [page.keyboard.press(key) for key in ("7", "Tab", "2", "Enter")])
        assert page.locator("#remaining").inner_text() == "Pair 2 of 3"
        rating = pair_rating()
        assert sorted((rating.baseline_score, rating.ours_score)) == [2, 7]


@pytest.mark.parametrize("viewport", [LAPTOPS[1], PHONE], ids=["laptop", "phone"])
def test_two_criteria_fit_one_screen_and_the_keys_go_through_each_scale(live_server, chromium, viewport):
    """A study of two criteria: a scale per criterion under each image, all on one screen (the pictures shrink to
    make room); Tab goes through Image A's scales, then Image B's, and the number keys score the highlighted one;
    the answer stores each image's score on each criterion."""
    phone = viewport is PHONE
    study, (annotator,) = make_open_study(slug="two", prompts=3, annotators=1, width=512, height=512)
    design.add_criterion(
        criterion=Criterion(
            study=study, key="quality", question="How good does it look?", label="Quality", scale_points=5
        )
    )
    services.give_consent(annotator=annotator)
    page = open_context(chromium, viewport, phone=phone).new_page()
    page.goto(url(live_server, "rate", token=annotator.token))
    wait_for_images(page)
    assert page.get_by_role("heading", level=1).inner_text() == "Rate each image on each question"
    assert page.locator("#questions li").all_inner_texts() == [
        study.criteria.get(key="consistency").question,
        "How good does it look?",
    ]
    assert "Quality" not in page.locator("#rating-form").inner_text()  # names are for results, not annotators
    fields = ["left", "left-quality", "right", "right-quality"]
    assert page.locator("fieldset.scale").evaluate_all("scales => scales.map(s => s.dataset.field)") == fields
    assert page.locator("#scale-left-quality input").count() == 5
    assert page.locator("#scale-left-quality legend").inner_text() == "Image A: question 2"
    assert_one_screen(page, viewport)
    for side in ("left", "right"):  # each image's second scale under its first
        first, second = box(page, f"#scale-{side}"), box(page, f"#scale-{side}-quality")
        assert 0 <= second["y"] - (first["y"] + first["height"]) < 40, (first, second)
        assert in_view(second, viewport)
    if phone:
        return
    page.keyboard.press("6")  # past the quality scale while it is not highlighted: scores Image A's first
    assert page.locator("#scale-left input:checked").get_attribute("value") == "6"
    page.keyboard.press("Tab")
    assert "active" in page.locator("#scale-left-quality").get_attribute("class")
    colour = "legend => getComputedStyle(legend).color"
    marked = page.locator("#scale-left-quality legend").evaluate(colour)
    assert page.locator("#scale-left legend").evaluate(colour) != marked  # only the scale the keys score is marked
    page.keyboard.press("6")  # past the 1–5 scale: nothing
    assert page.locator("#scale-left-quality input:checked").count() == 0
    assert page.locator("#submit").is_disabled()
    submit_and_wait(page, lambda: [page.keyboard.press(key) for key in ("4", "Tab", "9", "Tab", "2", "Enter")])
    assert page.locator("#remaining").inner_text() == "Pair 2 of 3"
    assert page.locator("fieldset.scale input:checked").count() == 0
    assignment = annotator.assignments.order_by("order").first()
    left, right = ("ours", "baseline") if assignment.ours_on_left else ("baseline", "ours")
    stored = {
        (criterion, condition): score
        for criterion, condition, score in Rating.objects.filter(assignment=assignment).values_list(
            "criterion__key", "condition__key", "score"
        )
    }
    assert stored == {
        ("consistency", left): 6,
        ("quality", left): 4,
        ("consistency", right): 9,
        ("quality", right): 2,
    }


@pytest.mark.parametrize(
    ("viewport", "criteria"), [(PHONE, 3), (LAPTOPS[0], 5)], ids=["phone-3-criteria", "laptop-5-criteria"]
)
def test_many_criteria_scroll_with_useful_pictures_and_the_prompt_in_sight(live_server, chromium, viewport, criteria):
    """Three criteria on a phone, or five anywhere, leave the pictures too little of one screen: the page scrolls
    instead, each picture at least a third of the screen's height, the prompt stuck to the top, and every scale and
    Submit reached; Tab brings the next scale into sight."""
    phone = viewport is PHONE
    study, (annotator,) = make_open_study(slug="many", prompts=3, annotators=1, width=512, height=512)
    for number in range(1, criteria):
        key = f"extra{number}"
        design.add_criterion(criterion=Criterion(study=study, key=key, question=f"Question {number}?", label=key))
    services.give_consent(annotator=annotator)
    page = open_context(chromium, viewport, phone=phone).new_page()
    page.goto(url(live_server, "rate", token=annotator.token))
    wait_for_images(page)
    size = document_size(page)
    assert size["scrollHeight"] > size["height"] and size["scrollWidth"] <= size["width"], size
    for side in ("left", "right"):
        assert picture(page, side)["height"] >= viewport["height"] / 3, side
    for selector in ("#scale-left", f"#scale-left-extra{criteria - 1}", f"#scale-right-extra{criteria - 1}", "#submit"):
        page.locator(selector).scroll_into_view_if_needed()
        assert in_view(box(page, selector), viewport), selector
        assert in_view(box(page, ".prompt-box"), viewport), selector
    assert page.evaluate("() => scrollY") > 0
    if not phone:
        page.evaluate("() => window.scrollTo(0, 0)")
        for _ in range(criteria + 1):  # through Image A's scales to Image B's second
            page.keyboard.press("Tab")
        assert in_view(box(page, "#scale-right-extra1"), viewport)
