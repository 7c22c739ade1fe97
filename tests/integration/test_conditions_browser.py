"""A study of four conditions rated on two criteria, end to end in Chromium: the researcher creates it with the
"resized" design and two criteria, adds a condition of imported images, imports them, generates and opens it; an
annotator rates every screen of four images with the keyboard; the ratings come out of the export, each image under
its condition. Each page is checked as it is seen: boxes on screen, no scrolling, no console error."""

import csv
import io
import re
import zipfile

from django.core.management import call_command
from django.urls import reverse
from PIL import Image

from annotations import services
from annotations.models import Assignment, Condition, ConditionImage, Rating, Study
from generation.models import PairJob
from generation.storage import encode_png
from tests.factories import fake_generate, make_model
from tests.integration.browser import (  # noqa: F401 (fixtures are found by name)
    BROWSER_MARKS,
    CENTRE_PIXEL,
    VIEWPORT,
    async_unsafe_ok,
    chromium,
    new_context,
    submit_and_wait,
)
from tests.integration.test_study_page_browser import (  # noqa: F401 (fixtures are found by name)
    browser_page,
    no_problems,
    researcher,
    visible_box,
)
from tests.security.test_csp import Watched

pytestmark = BROWSER_MARKS

PROMPTS = ["A red bicycle", "Two cats on a sofa", "A lighthouse at dusk"]
IMPORTED_SHADE = (30, 160, 60)  # the imported images: green, unlike any generated one


def image_zip(tmp_path) -> str:
    path = tmp_path / "other-method.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for number in range(1, len(PROMPTS) + 1):
            archive.writestr(
                f"images/prompt-{number:02d}.png", encode_png(Image.new("RGB", (128, 128), IMPORTED_SHADE))
            )
    return str(path)


def create_study_in_the_admin(page, live_server) -> Study:
    page.goto(live_server.url + reverse("admin:annotations_study_add"))
    page.fill("#id_title", "Four conditions")
    page.select_option("#id_model", label="Tiny SD")
    page.fill("#id_width", "128")
    page.fill("#id_height", "128")
    page.fill("#id_steps", "2")
    page.fill("#id_prompt_lines", "\n".join(PROMPTS))
    page.select_option("#id_design_preset", "resized_quality")
    page.locator('input[name="_save"]').click()
    page.wait_for_load_state("load")
    study = Study.objects.get()
    assert list(study.conditions.values_list("key", flat=True)) == ["baseline", "ours", "resized"]
    # the Conditions table: one more row, of imported images
    group = page.locator("#conditions-group")
    assert group.locator("h2").inner_text().lower().startswith("conditions")
    add = group.locator(".add-row a")
    assert add.inner_text() == "Add another Condition"
    visible_box(add)
    add.click()
    row = group.locator("tr.form-row.dynamic-conditions").last
    row.locator('input[name$="-key"]').fill("other")
    row.locator('input[name$="-name"]').fill("Other method")
    row.locator('select[name$="-kind"]').select_option("imported")
    page.locator('input[name="_continue"]').click()
    page.wait_for_load_state("load")
    assert page.locator(".errornote").count() == 0, page.locator(".errornote").all_inner_texts()
    return study


def test_a_four_condition_two_criterion_study_end_to_end(
    live_server, browser_page, researcher, new_context, tmp_path, settings
):
    settings.SITE_URL = live_server.url
    page = browser_page
    make_model("tiny", name="Tiny SD", train_width=64, train_height=64)
    study = create_study_in_the_admin(page, live_server)
    assert list(study.conditions.values_list("key", "kind")) == [
        ("baseline", "plain"),
        ("ours", "entropy"),
        ("resized", "resized"),
        ("other", "imported"),
    ]
    assert list(study.criteria.values_list("key", flat=True)) == ["consistency", "quality"]

    # import the other method's images from the study's pages
    page.get_by_role("link", name="Import images").click()
    page.wait_for_load_state("load")
    page.set_input_files("#id_file", image_zip(tmp_path))
    page.get_by_role("button", name="Import", exact=True).click()
    page.wait_for_load_state("load")
    assert "Imported 3 images of Other method" in page.locator(".messagelist").inner_text()
    assert ConditionImage.objects.filter(condition__key="other", job__isnull=True).count() == 3

    # generate: the pair jobs and the resized condition's own jobs (a worker's part is the worker tests')
    page.get_by_role("button", name="Generate", exact=True).click()
    page.wait_for_load_state("load")
    jobs = PairJob.objects.all()
    assert jobs.count() == 6 and jobs.filter(resize_width=128, width=64).count() == 3
    for job in jobs:
        fake_generate(job)
    services.refresh_study_status(study_id=study.pk)
    page.reload()
    open_button = page.get_by_role("button", name="Open", exact=True)
    visible_box(open_button)
    open_button.click()
    page.wait_for_load_state("load")
    assert Study.objects.get(pk=study.pk).status == Study.Status.OPEN
    no_problems(page)

    # an annotator rates the three screens of four images by keyboard
    (annotator,) = services.create_annotators(study=study, count=1)
    context = new_context()
    watched = Watched(context)
    rater = watched.new_page()
    rater.goto(live_server.url + reverse("annotations:invite", kwargs={"token": annotator.token}))
    rater.get_by_label("I have read the above and agree to take part.").check()
    rater.get_by_role("button", name="Start", exact=True).click()
    rater.wait_for_load_state("load")
    conditions = list(study.conditions.order_by("position"))
    for screen in range(1, 4):
        rater.wait_for_function("() => Array.from(document.images).every(img => img.complete && img.naturalWidth > 0)")
        assert rater.locator("#remaining").inner_text() == f"Set {screen} of 3"
        figures = rater.locator(".pair figure")
        assert figures.count() == 4
        boxes = [figure.bounding_box() for figure in figures.all()]
        assert all(abs(box["y"] - boxes[0]["y"]) < 1 for box in boxes)  # one row
        assert [box["x"] for box in boxes] == sorted(box["x"] for box in boxes)
        for box in boxes:
            assert box["x"] >= 0 and box["x"] + box["width"] <= VIEWPORT["width"] + 0.5
            assert box["y"] + box["height"] <= VIEWPORT["height"] + 0.5  # every scale in sight
        scroll = rater.evaluate("() => document.documentElement.scrollHeight")
        assert scroll <= VIEWPORT["height"] + 1  # no scrolling
        assert [label.inner_text() for label in rater.locator(".pair figure legend").all()][:2] == [
            "Image A: question 1",
            "Image A: question 2",
        ]
        assignment = Assignment.objects.get(pk=int(rater.locator('input[name="assignment"]').input_value()))
        # the image in each place is the condition's its layout puts there: the imported one green, for one
        imported_place = assignment.layout.index("3")
        pixel = rater.locator(f"#figure-{imported_place + 1} img").evaluate(CENTRE_PIXEL)
        assert tuple(pixel) == IMPORTED_SHADE
        # keys: each scale in turn, Image A's two, then Image B's...; Enter submits
        for place in range(4):
            if place:  # each screen starts at Image A's first scale
                rater.keyboard.press("Tab")
            rater.keyboard.press(str(place + 1))  # consistency: 1..4 by place
            rater.keyboard.press("Tab")
            rater.keyboard.press(str(place + 4))  # quality: 4..7 by place
        assert rater.locator("#submit").is_enabled()
        submit_and_wait(rater, lambda: rater.keyboard.press("Enter"))
        stored = {
            (rating.condition.key, rating.criterion.key): rating.score
            for rating in Rating.objects.filter(assignment=assignment).select_related("condition", "criterion")
        }
        expected = {}
        for place, digit in enumerate(assignment.layout):
            expected[(conditions[int(digit)].key, "consistency")] = place + 1
            expected[(conditions[int(digit)].key, "quality")] = place + 4
        assert stored == expected
    rater.wait_for_load_state("load")
    assert "/done/" in rater.url or rater.locator(".code").count() == 1
    assert watched.problems == []

    # two more annotators rate through the same service the page posts to
    for number, other in enumerate(services.create_annotators(study=study, count=2)):
        services.give_consent(annotator=other)
        for assignment in other.assignments.order_by("order"):
            scores = {place: str((int(place) + number) % 10 + 1) for place in "1234"}
            scores |= {f"{place}-quality": str((int(place) * 2 + number) % 7 + 1) for place in "1234"}
            services.submit_rating(annotator_id=other.pk, assignment_id=assignment.pk, scores=scores)

    # the results page: each criterion's comparison of the four conditions, its tables and figures
    page.goto(live_server.url + reverse("analysis:results", args=[study.slug]))
    assert page.locator("#results-error").count() == 0
    assert re.fullmatch(r"F\(3, \d+\.\d\) = \d+\.\d\d, p = [0-9.<]+", page.locator("#headline dd").nth(1).inner_text())
    assert page.locator("#means-table tbody tr").count() == 4
    assert page.locator("#contrasts-table tbody tr").count() == 6  # every pair of the four
    for plot in ("#plot-means svg", "#plot-contrasts svg"):
        visible_box(page.locator(plot))
    page.locator("#criteria").get_by_role("link", name="Visual quality").click()
    page.wait_for_load_state("load")
    assert page.locator('#criteria [aria-current="page"]').inner_text() == "Visual quality"
    assert page.locator("#means-table tbody tr").count() == 4
    no_problems(page)

    # the export: every image under its condition, each criterion, the place it stood in
    out = tmp_path / "export"
    call_command("export_results", study.slug, "--out", str(out), "--format", "csv")
    ratings_file = next(out.rglob("*.csv"))
    rows = list(csv.DictReader(io.StringIO(ratings_file.read_text())))
    assert len(rows) == 3 * 3 * 4 * 2  # annotators × prompts × conditions × criteria
    assert {row["condition"] for row in rows} == {"baseline", "ours", "resized", "other"}
    assert {row["criterion"] for row in rows} == {"consistency", "quality"}
    assert {row["position"] for row in rows} == {"1", "2", "3", "4"}
    assert Condition.objects.filter(study=study).count() == 4


def test_a_three_condition_pairwise_study_with_ties_end_to_end(
    live_server, browser_page, researcher, new_context, tmp_path, settings
):
    settings.SITE_URL = live_server.url
    page = browser_page
    make_model("tiny", name="Tiny SD", train_width=64, train_height=64)
    page.goto(live_server.url + reverse("admin:annotations_study_add"))
    page.fill("#id_title", "Pairwise three")
    page.select_option("#id_model", label="Tiny SD")
    page.fill("#id_width", "128")
    page.fill("#id_height", "128")
    page.fill("#id_steps", "2")
    page.fill("#id_prompt_lines", "\n".join(PROMPTS))
    page.select_option("#id_design_preset", "pairwise")
    page.locator('input[name="_save"]').click()
    page.wait_for_load_state("load")
    study = Study.objects.get()
    assert study.task == Study.Task.PAIRWISE and study.allow_ties
    assert list(study.conditions.values_list("key", flat=True)) == ["baseline", "ours", "resized"]
    page.get_by_role("button", name="Generate", exact=True).click()
    page.wait_for_load_state("load")
    for job in PairJob.objects.all():
        fake_generate(job)
    services.refresh_study_status(study_id=study.pk)
    page.reload()
    page.get_by_role("button", name="Open", exact=True).click()
    page.wait_for_load_state("load")
    assert Study.objects.get(pk=study.pk).status == Study.Status.OPEN
    no_problems(page)

    # an annotator chooses on three screens: Image A, a tie, Image B, by keys
    (annotator,) = services.create_annotators(study=study, count=1)
    watched = Watched(new_context())
    rater = watched.new_page()
    rater.goto(live_server.url + reverse("annotations:invite", kwargs={"token": annotator.token}))
    rater.get_by_label("I have read the above and agree to take part.").check()
    rater.get_by_role("button", name="Start", exact=True).click()
    rater.wait_for_load_state("load")
    assert rater.locator("#question").inner_text() == "Which image matches the text better?"
    conditions = list(study.conditions.order_by("position"))
    for screen, (key, answer) in enumerate((("1", "left"), ("0", "tie"), ("2", "right")), start=1):
        rater.wait_for_function("() => Array.from(document.images).every(img => img.complete && img.naturalWidth > 0)")
        assert rater.locator("#remaining").inner_text() == f"Pair {screen} of 3"
        assert rater.locator(".pair figure").count() == 2
        options = rater.locator("#choices label")
        assert options.all_inner_texts() == ["Image A", "Equally good", "Image B"]
        boxes = [visible_box(option) for option in options.all()]
        assert all(box["y"] + box["height"] <= VIEWPORT["height"] for box in boxes)  # in sight, no scrolling
        assert rater.evaluate("() => document.documentElement.scrollHeight") <= VIEWPORT["height"] + 1
        assignment = Assignment.objects.get(pk=int(rater.locator('input[name="assignment"]').input_value()))
        rater.keyboard.press(key)
        assert rater.locator(f'#choices input[value="{answer}"]').is_checked()
        submit_and_wait(rater, lambda: rater.keyboard.press("Enter"))
        left, right = (conditions[int(digit)] for digit in assignment.layout)
        stored = dict(Rating.objects.filter(assignment=assignment).values_list("condition__key", "score"))
        assert (stored[left.key], stored[right.key]) == {"left": (2, 1), "tie": (1, 1), "right": (1, 2)}[answer]
    assert watched.problems == []

    # more annotators, then the ranking on the results page and the judgments in the export
    for number, other in enumerate(services.create_annotators(study=study, count=5)):
        services.give_consent(annotator=other)
        for assignment in other.assignments.order_by("order"):
            choice = ("left", "right", "tie")[(number + assignment.order) % 3]
            services.submit_rating(annotator_id=other.pk, assignment_id=assignment.pk, scores={"choice": choice})
    page.goto(live_server.url + reverse("analysis:results", args=[study.slug]))
    assert page.locator("#results-error").count() == 0, page.locator("#results-error").all_inner_texts()
    assert page.locator("#leaderboard-table tbody tr").count() == 3
    for plot in ("#plot-strengths svg", "#plot-win-rates svg"):
        visible_box(page.locator(plot))
    no_problems(page)
    out = tmp_path / "export"
    call_command("export_results", study.slug, "--out", str(out), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO((out / f"{study.slug}-judgments.csv").read_text())))
    assert len(rows) == 6 * 3
    assert {row["choice"] for row in rows} == {"left", "right", "tie"}
    assert {row["left"] for row in rows} | {row["right"] for row in rows} == {"baseline", "ours", "resized"}


def test_a_screen_of_four_on_a_phone_stacks_and_scrolls_with_the_prompt_in_sight(live_server, chromium):
    """On a 390×844 phone the four images stack, each with its scale, a finger's width per score; the page scrolls,
    the prompt stuck to the top, and every scale and Submit can be brought into sight and tapped."""
    from tests.factories import make_conditions_study
    from tests.integration.test_annotator_layout import PHONE, box, document_size, in_view, open_context

    study, (annotator,) = make_conditions_study(slug="phone", prompts=2, annotators=1)
    services.give_consent(annotator=annotator)
    watched = Watched(open_context(chromium, PHONE, phone=True))
    page = watched.new_page()
    page.goto(live_server.url + reverse("annotations:rate", kwargs={"token": annotator.token}))
    page.wait_for_function("() => Array.from(document.images).every(img => img.complete && img.naturalWidth > 0)")
    size = document_size(page)
    assert size["scrollHeight"] > size["height"] and size["scrollWidth"] <= size["width"], size
    figures = [box(page, f"#figure-{place}") for place in "1234"]
    assert [found["y"] for found in figures] == sorted(found["y"] for found in figures)  # stacked, A on top
    assert all(found["width"] >= 300 for found in figures)
    for found in page.locator(".scale label").evaluate_all(
        "labels => labels.map(l => { const r = l.getBoundingClientRect(); return [r.width, r.height]; })"
    ):
        assert found[0] >= 24 and found[1] >= 24, found
    for place in "1234":
        label = page.locator(f"#scale-{place} label").filter(has_text=re.compile(r"^7$"))
        label.scroll_into_view_if_needed()
        assert in_view(box(page, f"#scale-{place}"), PHONE)
        assert in_view(box(page, ".prompt-box"), PHONE)  # the prompt stays in sight
        label.tap()
    page.locator("#submit").scroll_into_view_if_needed()
    submit_and_wait(page, page.locator("#submit").tap)
    assert page.locator("#remaining").inner_text() == "Set 2 of 2"
    assert Rating.objects.filter(assignment__annotator=annotator).count() == 4
    assert watched.problems == []
