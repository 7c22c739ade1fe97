"""The study's admin page in Chromium, as a researcher sees it: the links to hand out and their copy buttons, the
Duplicate button, the state with its next step, and the guided form. Each test checks what is on screen (text, the
boxes elements take) and that no page logs an error or breaks the Content-Security-Policy.

With EVALSITE_SCREENSHOTS=1 the tests save the researcher guide's pictures under docs/img/.
"""

import importlib
import os
import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse
from playwright.sync_api import expect

from annotations import services
from annotations.models import Study
from generation.models import PairJob
from tests.factories import fake_generate, make_model, make_study
from tests.integration.browser import (  # noqa: F401 (fixtures are found by name)
    BROWSER_MARKS,
    VIEWPORT,
    async_unsafe_ok,
    chromium,
    new_context,
    page,
)
from tests.security.test_csp import Watched

pytestmark = BROWSER_MARKS

RESEARCHER_MIGRATION = importlib.import_module("annotations.migrations.0005_researcher_group")
DESIGN_MIGRATION = importlib.import_module("annotations.migrations.0008_seed_design_of_each_study")
CRITERIA_MIGRATION = importlib.import_module("annotations.migrations.0014_researchers_add_criteria")
CONDITIONS_MIGRATION = importlib.import_module("annotations.migrations.0016_researchers_add_conditions")
DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"


def picture(locator, name: str) -> None:
    """Save ``locator``'s box as docs/img/<name>.png for the researcher guide, when EVALSITE_SCREENSHOTS=1."""
    if os.environ.get("EVALSITE_SCREENSHOTS") == "1":
        DOCS_IMG.mkdir(exist_ok=True)
        locator.screenshot(path=str(DOCS_IMG / f"{name}.png"))


@pytest.fixture
def researcher(db):
    """A member of the Researcher group, which the group's migration made (made again here once a transactional
    test before this one has emptied the tables)."""
    group = Group.objects.filter(name=RESEARCHER_MIGRATION.GROUP).first()
    if group is None:
        group = Group.objects.create(name=RESEARCHER_MIGRATION.GROUP)
        group.permissions.set(
            Permission.objects.get(content_type__app_label=app, codename=codename)
            for app, codename in [
                *RESEARCHER_MIGRATION.PERMISSIONS,
                *(
                    ("annotations", codename)
                    for migration in (DESIGN_MIGRATION, CRITERIA_MIGRATION, CONDITIONS_MIGRATION)
                    for codename in migration.PERMISSIONS
                ),
            ]
        )
    user = get_user_model().objects.create_user("ada", password="not-used-here", is_staff=True)
    user.groups.add(group)
    return user


@pytest.fixture
def browser_page(new_context, live_server, researcher):
    """A page signed in as the researcher, whose problems (console errors, CSP violations, 4xx/5xx) are kept."""
    client = Client()
    client.force_login(researcher)
    context = new_context()
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}])
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    watched = Watched(context)
    page = watched.new_page()
    page.problems = watched.problems
    return page


def own_study(owner, slug: str = "sd21", prompts: int = 3, **fields) -> Study:
    study = make_study(slug=slug, prompts=prompts, **fields)
    Study.objects.filter(pk=study.pk).update(owner=owner)
    return Study.objects.get(pk=study.pk)


def open_page(page, live_server, study: Study) -> None:
    response = page.goto(live_server.url + reverse("admin:annotations_study_change", args=[study.pk]))
    assert response.status == 200
    page.wait_for_load_state("load")


def visible_box(locator) -> dict:
    """The element's box, checked to be on screen: inside the viewport's width, with an area."""
    assert locator.is_visible()
    box = locator.bounding_box()
    assert box is not None and box["width"] > 0 and box["height"] > 0, box
    assert box["x"] >= 0 and box["x"] + box["width"] <= VIEWPORT["width"] + 1, box
    return box


def no_problems(page) -> None:
    assert [problem for problem in page.problems if not problem.endswith("/favicon.ico)")] == []


# 1. Links ready to hand out ------------------------------------------------------------------------------------


def test_the_links_are_shown_whole_and_copied_with_one_click(live_server, browser_page, researcher, settings):
    page = browser_page
    settings.SITE_URL = "https://eval.example.org"
    study = own_study(researcher, completion_code="C0DE42", completion_url="https://app.prolific.com/submissions/x")
    open_page(page, live_server, study)
    section = page.locator("section", has=page.get_by_role("heading", name="Links to hand out"))
    visible_box(section)
    assert page.locator(".study-site-url-warning").count() == 0
    prolific = page.locator("#study-link-prolific")
    expected = (
        f"https://eval.example.org/prolific/{study.enrolment_token}/"
        "?PROLIFIC_PID={{%PROLIFIC_PID%}}&STUDY_ID={{%STUDY_ID%}}&SESSION_ID={{%SESSION_ID%}}"
    )
    assert prolific.inner_text() == expected
    link_box = visible_box(prolific)
    button = page.locator('button[data-copy-target="study-link-prolific"]')
    button_box = visible_box(button)
    assert button_box["x"] >= link_box["x"]  # beside or below the link, never hiding it
    button.click()
    assert page.evaluate("navigator.clipboard.readText()") == expected
    assert button.inner_text() == "Copied"
    page.locator('button[data-copy-target="study-link-enrol"]').click()
    assert page.evaluate("navigator.clipboard.readText()") == f"https://eval.example.org/join/{study.enrolment_token}/"
    assert page.locator("#study-link-completion-url").inner_text() == "https://app.prolific.com/submissions/x?cc=C0DE42"
    assert page.locator("#study-link-completion-code").inner_text() == "C0DE42"
    for key in ("enrol", "invites", "invites-csv", "prolific", "completion-url", "completion-code"):
        visible_box(page.locator(f'button[data-copy-target="study-link-{key}"]'))
    picture(section, "study-links")
    no_problems(page)


def test_without_site_url_the_page_warns_in_words(live_server, browser_page, researcher, settings):
    page = browser_page
    settings.SITE_URL = ""
    study = own_study(researcher)
    open_page(page, live_server, study)
    warning = page.locator(".study-site-url-warning")
    assert "SITE_URL is not set" in warning.inner_text() and live_server.url in warning.inner_text()
    assert visible_box(warning)["width"] > 400
    assert page.locator("#study-link-enrol").inner_text() == f"{live_server.url}/join/{study.enrolment_token}/"
    handout = page.locator("section", has=page.get_by_role("heading", name="Links to hand out"))
    assert "Prolific gives one code for everyone" in handout.inner_text()
    no_problems(page)


# 2. Duplicate ---------------------------------------------------------------------------------------------------


def test_duplicate_opens_the_copy_as_a_draft(live_server, browser_page, researcher):
    page = browser_page
    study = own_study(researcher, prompts=3, steps=7)
    services.queue_study_generation(study=study)
    for pair in study.pairs.select_related("job"):
        fake_generate(pair.job)
    open_page(page, live_server, study)
    button = page.get_by_role("button", name="Duplicate")
    visible_box(button)
    button.click()
    page.wait_for_load_state("load")
    copy = Study.objects.get(slug="sd21-copy")
    assert page.url == live_server.url + reverse("admin:annotations_study_change", args=[copy.pk])
    message = page.locator(".messagelist .success")
    assert "Copied sd21 to sd21-copy, a draft with 3 prompts." in message.inner_text()
    visible_box(message)
    assert page.locator("#id_title").input_value() == "Sd21 (copy)"
    assert page.locator("#id_steps").input_value() == "7"
    assert page.locator('.study-step[aria-current="step"]').inner_text() == "Draft"
    assert (copy.owner, copy.pairs.count()) == (researcher, 0)
    page.get_by_role("button", name="Generate", exact=True).click()
    page.wait_for_load_state("load")
    assert set(copy.pairs.values_list("job_id", flat=True)) == set(study.pairs.values_list("job_id", flat=True))
    no_problems(page)


# 3. State you can see -------------------------------------------------------------------------------------------


def test_the_step_bar_and_the_next_step(live_server, browser_page, researcher):
    page = browser_page
    study = own_study(researcher, prompts=2)
    open_page(page, live_server, study)
    steps = page.locator(".study-step")
    assert steps.all_inner_texts() == ["Draft", "Generating", "Ready", "Open", "Closed"]
    boxes = [visible_box(step) for step in steps.all()]
    assert all(abs(box["y"] - boxes[0]["y"]) < 1 for box in boxes)  # one row, left to right
    assert [box["x"] for box in boxes] == sorted(box["x"] for box in boxes)
    assert page.locator('.study-step[aria-current="step"]').inner_text() == "Draft"
    generate = page.get_by_role("button", name="Generate", exact=True)
    assert generate.is_enabled()
    visible_box(generate)
    generate.click()
    page.wait_for_load_state("load")
    assert "generation queued" in page.locator(".messagelist").inner_text()
    assert page.locator('.study-step[aria-current="step"]').inner_text() == "Generating"
    study.refresh_from_db()
    assert study.status == Study.Status.GENERATING
    first, second = (pair.job for pair in study.pairs.order_by("prompt__position").select_related("job"))
    fake_generate(first)
    PairJob.objects.filter(pk=first.pk).update(started_at="2024-01-01T00:00:00Z", finished_at="2024-01-01T00:00:40Z")
    page.reload()
    progress = page.locator(".study-progress")
    assert progress.inner_text() == "1 of 2 pairs generated, 0 running, 1 waiting, about 40 s left"
    visible_box(progress)
    open_button = page.get_by_role("button", name="Open", exact=True)
    assert open_button.is_disabled()
    reason = page.locator("section.study-state .study-reason")
    assert reason.inner_text() == "Open needs every pair generated: 1 of 2 done."
    visible_box(reason)
    picture(page.locator("section", has=page.get_by_role("heading", name="State")), "study-state")
    fake_generate(second)
    services.studies.refresh_study_status(study_id=study.pk)
    page.reload()
    assert page.locator('.study-step[aria-current="step"]').inner_text() == "Ready"
    page.get_by_role("button", name="Open", exact=True).click()
    page.wait_for_load_state("load")
    assert page.locator('.study-step[aria-current="step"]').inner_text() == "Open"
    assert Study.objects.get(pk=study.pk).status == Study.Status.OPEN
    page.get_by_role("button", name="Close", exact=True).click()
    page.wait_for_load_state("load")
    assert page.locator('.study-step[aria-current="step"]').inner_text() == "Closed"
    assert [step.get_attribute("class") for step in page.locator(".study-step").all()][:4] == [
        "study-step study-step-done"
    ] * 4
    no_problems(page)


def test_the_state_follows_the_generation_without_a_reload(live_server, browser_page, researcher):
    page = browser_page
    study = own_study(researcher, prompts=2)
    services.queue_study_generation(study=study)
    first, second = (pair.job for pair in study.pairs.order_by("prompt__position").select_related("job"))
    open_page(page, live_server, study)
    page.evaluate("window.notReloaded = true")
    progress = page.locator(".study-progress")
    assert progress.inner_text().startswith("0 of 2 pairs generated, 0 running, 2 waiting")
    fake_generate(first)
    expect(progress).to_have_text(re.compile(r"^1 of 2 pairs generated"), timeout=15000)  # no eval: the CSP forbids
    visible_box(progress)
    fake_generate(second)
    services.studies.refresh_study_status(study_id=study.pk)
    expect(page.locator('.study-step[aria-current="step"]')).to_have_text("Ready", timeout=15000)
    assert page.evaluate("window.notReloaded") is True  # the section changed in place
    assert page.locator("section.study-state").get_attribute("data-refresh-url") is None  # and stopped looking
    open_button = page.get_by_role("button", name="Open", exact=True)
    assert open_button.is_enabled()
    visible_box(open_button)
    open_button.click()
    page.wait_for_load_state("load")
    assert page.locator('.study-step[aria-current="step"]').inner_text() == "Open"
    no_problems(page)


# 4. A form that guides ------------------------------------------------------------------------------------------


def test_the_add_form_guides(live_server, browser_page, researcher):
    page = browser_page
    make_model("stabilityai/stable-diffusion-2-1-base", name="SD-2.1-base", train_width=512, train_height=512)
    tiny = make_model("tiny", name="Tiny SD", train_width=64, train_height=64)
    response = page.goto(live_server.url + reverse("admin:annotations_study_add"))
    assert response.status == 200
    headings = page.locator("fieldset h2").all_inner_texts()
    assert headings == ["What is studied", "Images", "Annotators and quotas", "Prolific", "Advanced"]
    assert page.locator(".inline-group").count() == 0  # no table of prompt rows on the add page
    page.fill("#id_title", "Tiny at 512x288")
    page.select_option("#id_model", label="SD-2.1-base")
    assert (page.input_value("#id_width"), page.input_value("#id_height")) == ("512", "512")
    page.select_option("#id_model", label="Tiny SD")
    assert (page.input_value("#id_width"), page.input_value("#id_height")) == ("64", "64")
    page.select_option("#id_preset", "sd21-512x288")
    values = [page.input_value(f"#id_{name}") for name in ("width", "height", "steps", "guidance_scale")]
    assert values == ["512", "288", "50", "7.5"]
    page.select_option("#id_model", label="SD-2.1-base")  # a preset's size stays when the model changes
    assert page.input_value("#id_height") == "288"
    page.select_option("#id_model", str(tiny.pk))
    page.fill("#id_prompt_lines", "A red bicycle\nTwo cats on a sofa\n\n  A red   bicycle\nA lighthouse")
    summary = page.locator(".study-prompt-summary")
    assert summary.inner_text() == "4 prompts; 1 duplicate: line 4 repeats line 1. Remove them before saving."
    summary_box, field_box = visible_box(summary), visible_box(page.locator("#id_prompt_lines"))
    assert summary_box["y"] >= field_box["y"] + field_box["height"]  # under the box, not beside it
    picture(page.locator(".field-prompt_lines"), "study-form-prompts")
    picture(page.locator("fieldset", has=page.get_by_role("heading", name="Images")), "study-form-images")
    page.locator('input[name="_save"]').click()
    page.wait_for_load_state("load")
    errors = page.locator(".field-prompt_lines .errorlist")
    assert "line 4: duplicate of the prompt on line 1" in errors.inner_text()
    visible_box(errors)
    assert not Study.objects.exists()
    page.fill("#id_prompt_lines", "A red bicycle\nTwo cats on a sofa\n\nA lighthouse")
    assert summary.inner_text() == "3 prompts"
    designs = page.locator("#id_design_preset option").all_inner_texts()
    assert designs[0] == "Baseline vs ours, 1–10 consistency (the seed's study)" and len(designs) == 6
    assert page.input_value("#id_design_preset") == "seed"
    visible_box(page.locator("#id_design_preset"))
    page.select_option("#id_design_preset", "quality")
    page.locator('input[name="_save"]').click()
    page.wait_for_load_state("load")
    study = Study.objects.get()
    assert page.url == live_server.url + reverse("admin:annotations_study_change", args=[study.pk])
    assert list(study.prompts.values_list("position", "text")) == [
        (0, "A red bicycle"),
        (1, "Two cats on a sofa"),
        (2, "A lighthouse"),
    ]
    assert (study.width, study.height, study.steps, study.owner) == (512, 288, 50, researcher)
    assert list(study.criteria.values_list("key", flat=True)) == ["consistency", "quality"]
    no_problems(page)
