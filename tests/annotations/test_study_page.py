"""The study's admin page: the links to hand out, duplicating a study (and reusing its images), and the state with
its next step; each with the permission it needs and a study the user may not see."""

from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse

from annotations import services
from annotations.admin.study_page import PROLIFIC_QUERY, generation_progress
from annotations.models import Study
from annotations.services.duplication import duplicate_study
from annotations.services.rating_import import import_ratings
from generation.models import PairJob
from tests.annotations.test_staff_pages import change_form
from tests.factories import fake_generate, make_researchers, make_study

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def users():
    model = get_user_model()
    ada, grace = make_researchers("ada", "grace")
    viewer = model.objects.create_user("viewer", password="not-used-here", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_study"))
    return SimpleNamespace(ada=ada, grace=grace, viewer=viewer)


def owned(slug: str, owner, prompts: int = 3, **fields) -> Study:
    study = make_study(slug=slug, prompts=prompts, **fields)
    Study.objects.filter(pk=study.pk).update(owner=owner)
    return Study.objects.get(pk=study.pk)


def generated(study: Study) -> Study:
    services.queue_study_generation(study=study)
    for pair in study.pairs.select_related("job"):
        if pair.job.status != PairJob.Status.DONE:
            fake_generate(pair.job)
    services.studies.refresh_study_status(study_id=study.pk)
    return Study.objects.get(pk=study.pk)


def page(client: Client, study: Study):
    response = client.get(reverse("admin:annotations_study_change", args=[study.pk]))
    assert response.status_code == 200
    return response


def panel_text(response) -> str:
    html = response.content.decode()
    return html[html.index('class="study-panel') :]


# 1. Links ready to hand out ------------------------------------------------------------------------------------


def test_the_links_are_absolute_on_site_url_with_prolifics_placeholders(settings, users):
    settings.SITE_URL = "https://eval.example.org"
    study = owned("links", users.ada, completion_code="C0DE42", completion_url="https://app.prolific.com/x")
    links = {link.key: link for link in page(signed_in(users.ada), study).context["study_panel"]["handout"]}
    token = study.enrolment_token
    assert links["enrol"].url == f"https://eval.example.org/join/{token}/"
    assert links["prolific"].url == (
        f"https://eval.example.org/prolific/{token}/"
        "?PROLIFIC_PID={{%PROLIFIC_PID%}}&STUDY_ID={{%STUDY_ID%}}&SESSION_ID={{%SESSION_ID%}}"
    )
    assert PROLIFIC_QUERY == "?PROLIFIC_PID={{%PROLIFIC_PID%}}&STUDY_ID={{%STUDY_ID%}}&SESSION_ID={{%SESSION_ID%}}"
    assert links["invites"].url == f"https://eval.example.org/admin/annotations/study/{study.pk}/invites/"
    assert links["invites-csv"].url == f"https://eval.example.org/admin/annotations/study/{study.pk}/invites.csv"
    assert links["completion-url"].url == "https://app.prolific.com/x?cc=C0DE42"
    assert links["completion-code"].url == "C0DE42"
    html = page(signed_in(users.ada), study).content.decode()
    assert "SITE_URL is not set" not in html
    assert "STUDY_ID={{%STUDY_ID%}}&amp;SESSION_ID={{%SESSION_ID%}}" in html
    assert html.count('data-copy-target="study-link-') == 6
    assert "/static/annotations/admin/study.js" in html


def test_without_site_url_the_page_warns_and_builds_links_from_the_request(settings, users):
    settings.SITE_URL = ""
    study = owned("links", users.ada)
    response = page(signed_in(users.ada), study)
    links = {link.key: link.url for link in response.context["study_panel"]["handout"]}
    assert links["enrol"] == f"http://testserver/join/{study.enrolment_token}/"
    text = panel_text(response)
    assert "SITE_URL is not set, so these links are built from the address this page was opened at" in text
    assert "http://testserver" in text
    # no code and no URL: the page says what Prolific needs instead of a link
    assert links["completion-url"] == "" and links["completion-code"] == ""
    assert "Prolific gives one code for everyone: set it below." in text


def test_a_new_study_opens_on_its_page_with_its_links(users):
    template = Study(slug="fresh", title="Fresh", width=64, height=64, steps=2)
    response = signed_in(users.ada).post(reverse("admin:annotations_study_add"), change_form(template))
    study = Study.objects.get(slug="fresh")
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:annotations_study_change", args=[study.pk])


# 2. Duplicating a study -----------------------------------------------------------------------------------------


def test_duplicate_copies_settings_and_prompts_as_a_draft_of_the_user(users):
    source = generated(
        owned("orig", users.grace, prompts=3, attention_checks=1, completion_code="ABC", negative_prompt="blurry")
    )
    source.shared_with.add(users.ada)
    services.create_annotators(study=source, count=2)
    copy = duplicate_study(study=source, user=users.ada)
    assert (copy.slug, copy.title, copy.status, copy.owner) == (
        "orig-copy",
        "Orig (copy)",
        Study.Status.DRAFT,
        users.ada,
    )
    assert copy.enrolment_token != source.enrolment_token
    for name in ("model_id", "width", "height", "steps", "negative_prompt", "attention_checks", "completion_code"):
        assert getattr(copy, name) == getattr(source, name), name
    assert (copy.instructions, copy.consent_text) == (source.instructions, source.consent_text)
    assert list(copy.criteria.values_list("question", "label")) == list(
        source.criteria.values_list("question", "label")
    )
    assert list(copy.prompts.values_list("position", "text")) == list(source.prompts.values_list("position", "text"))
    assert not copy.pairs.exists() and not copy.annotators.exists() and not copy.shared_with.exists()
    assert duplicate_study(study=source, user=users.ada).slug == "orig-copy-2"


def test_the_copy_reuses_finished_images_when_the_settings_are_equal(users):
    source = generated(owned("orig", users.ada, prompts=3))
    failed = source.pairs.order_by("prompt__position").last().job
    PairJob.objects.filter(pk=failed.pk).update(status=PairJob.Status.FAILED)
    copy = duplicate_study(study=source, user=users.ada)
    services.queue_study_generation(study=copy)
    source_jobs = dict(source.pairs.values_list("prompt__position", "job_id"))
    copy_jobs = dict(copy.pairs.values_list("prompt__position", "job_id"))
    assert copy_jobs[0] == source_jobs[0] and copy_jobs[1] == source_jobs[1]  # done: reused
    assert copy_jobs[2] != source_jobs[2]  # failed: made anew
    assert PairJob.objects.get(pk=copy_jobs[2]).status == PairJob.Status.PENDING
    # another size makes other images: nothing is reused
    other = duplicate_study(study=source, user=users.ada)
    Study.objects.filter(pk=other.pk).update(width=128)
    services.queue_study_generation(study=Study.objects.get(pk=other.pk))
    assert not set(other.pairs.values_list("job_id", flat=True)) & set(source_jobs.values())


def test_a_copy_of_a_finished_study_is_ready_at_once(users, django_capture_on_commit_callbacks):
    source = generated(owned("orig", users.ada, prompts=2))
    copy = duplicate_study(study=source, user=users.ada)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.queue_study_generation(study=copy) == 0
    assert Study.objects.get(pk=copy.pk).status == Study.Status.READY
    assert str(generation_progress(copy)) == "2/2 done"


def test_images_are_not_reused_from_a_study_the_owner_may_not_see(users):
    theirs = generated(owned("theirs", users.grace, prompts=2))
    mine = owned("mine", users.ada, prompts=2)
    services.queue_study_generation(study=mine)
    assert not set(mine.pairs.values_list("job_id", flat=True)) & set(theirs.pairs.values_list("job_id", flat=True))


def test_duplicating_needs_add_study_and_a_visible_source(users):
    theirs = owned("theirs", users.grace)
    mine = owned("mine", users.ada)
    with pytest.raises(PermissionDenied):
        duplicate_study(study=theirs, user=users.ada)
    with pytest.raises(PermissionDenied):
        duplicate_study(study=mine, user=users.viewer)
    url = reverse("admin:annotations_study_duplicate", args=[theirs.pk])
    assert signed_in(users.ada).post(url).status_code == 404
    mine.shared_with.add(users.viewer)
    assert signed_in(users.viewer).post(reverse("admin:annotations_study_duplicate", args=[mine.pk])).status_code == 403
    assert signed_in(users.ada).get(reverse("admin:annotations_study_duplicate", args=[mine.pk])).status_code == 405
    assert Study.objects.count() == 2
    response = signed_in(users.ada).post(reverse("admin:annotations_study_duplicate", args=[mine.pk]))
    copy = Study.objects.get(slug="mine-copy")
    assert response["Location"] == reverse("admin:annotations_study_change", args=[copy.pk])
    duplicate_url = reverse("admin:annotations_study_duplicate", args=[mine.pk])
    assert f'action="{duplicate_url}"' in page(signed_in(users.ada), mine).content.decode()
    assert duplicate_url not in page(signed_in(users.viewer), mine).content.decode()


def test_the_duplicate_action_copies_only_visible_studies(users):
    mine, theirs = owned("mine", users.ada), owned("theirs", users.grace)
    response = signed_in(users.ada).post(
        reverse("admin:annotations_study_changelist"),
        {"action": "duplicate_selected", "_selected_action": [mine.pk, theirs.pk]},
    )
    assert response.status_code == 302
    assert set(Study.objects.values_list("slug", flat=True)) == {"mine", "theirs", "mine-copy"}


# 3. State you can see -------------------------------------------------------------------------------------------


def step_url(study: Study, step: str) -> str:
    return reverse("admin:annotations_study_step", args=[study.pk, step])


def actions_of(response) -> list[tuple[str, str]]:
    return [(action.label, action.reason) for action in response.context["study_panel"]["state"].actions]


def test_the_steps_move_the_study_through_the_services(users):
    study = owned("s", users.ada, prompts=2)
    client = signed_in(users.ada)
    response = page(client, study)
    assert actions_of(response) == [("Generate", "")]
    assert 'aria-current="step">Draft</li>' in response.content.decode()
    assert client.post(step_url(study, "generate")).status_code == 302
    study.refresh_from_db()
    assert study.status == Study.Status.GENERATING
    first = study.pairs.order_by("prompt__position").first().job
    fake_generate(first)
    response = page(client, study)
    assert actions_of(response) == [("Open", "Open needs every pair generated: 1 of 2 done.")]
    assert response.context["study_panel"]["state"].progress_text.startswith("1 of 2 pairs generated")
    assert "Open needs every pair generated: 1 of 2 done." in panel_text(response)
    response = client.post(step_url(study, "open"), follow=True)
    assert "cannot open: 1 of 2 pairs are not generated" in response.content.decode()
    generated(study)
    assert actions_of(page(client, study)) == [("Open", "")]
    client.post(step_url(study, "open"))
    assert Study.objects.get(pk=study.pk).status == Study.Status.OPEN
    assert actions_of(page(client, study)) == [("Close", "")]
    client.post(step_url(study, "close"))
    assert Study.objects.get(pk=study.pk).status == Study.Status.CLOSED
    assert actions_of(page(client, study)) == [("Open again", "")]


def test_a_draft_without_prompts_or_model_says_what_generate_needs(users):
    client = signed_in(users.ada)
    assert actions_of(page(client, owned("np", users.ada, prompts=0))) == [
        ("Generate", "Generate needs prompts: add them below, or upload a file with Upload prompts.")
    ]
    assert actions_of(page(client, owned("nm", users.ada, prompts=1, model=None))) == [
        ("Generate", "Generate needs a model: choose one under Images and save.")
    ]


def test_failed_pairs_offer_to_generate_them_again(users):
    study = owned("f", users.ada, prompts=2)
    services.queue_study_generation(study=study)
    jobs = list(study.pairs.order_by("prompt__position").values_list("job_id", flat=True))
    fake_generate(PairJob.objects.get(pk=jobs[0]))
    PairJob.objects.filter(pk=jobs[1]).update(status=PairJob.Status.FAILED)
    assert actions_of(page(signed_in(users.ada), study)) == [
        ("Generate the failed pairs again", ""),
        ("Open", "Open needs every pair generated: 1 of 2 done, 1 failed (Generate queues the failed ones again)."),
    ]


def test_an_imported_ratings_study_has_no_next_step(users):
    text = "study,annotator,item,condition,score,position,seconds\nimp,a0,item0,baseline,3,left,1\n"
    text += "imp,a0,item0,ours,7,right,1\n"
    study = import_ratings(slug="imp", text=text).study
    Study.objects.filter(pk=study.pk).update(owner=users.ada)
    response = page(signed_in(users.ada), study)
    assert actions_of(response) == []
    assert "holds imported ratings" in panel_text(response)


def test_steps_need_run_study_and_a_visible_study(users):
    mine = owned("mine", users.ada, prompts=2)
    theirs = owned("theirs", users.grace, prompts=2)
    assert signed_in(users.ada).post(step_url(theirs, "generate")).status_code == 404
    mine.shared_with.add(users.viewer)
    viewer = signed_in(users.viewer)
    assert viewer.post(step_url(mine, "generate")).status_code == 403
    assert actions_of(page(viewer, mine)) == [
        ("Generate", "Generate needs the permission annotations.run_study, which your account does not have.")
    ]
    assert signed_in(users.ada).get(step_url(mine, "generate")).status_code == 405
    assert signed_in(users.ada).post(step_url(mine, "explode")).status_code == 404
    assert Study.objects.filter(status=Study.Status.DRAFT).count() == 2


def state_url(study: Study) -> str:
    return reverse("admin:annotations_study_state", args=[study.pk])


def test_the_state_section_is_served_alone_and_refreshes_only_while_pairs_are_made(users):
    study = owned("mine", users.ada, prompts=2)
    ada = signed_in(users.ada)
    assert "data-refresh-url" not in page(ada, study).content.decode()  # a draft changes only when someone acts
    services.queue_study_generation(study=study)
    first, second = (pair.job for pair in study.pairs.order_by("prompt__position").select_related("job"))
    fake_generate(first)
    response = ada.get(state_url(study))
    html = response.content.decode()
    assert response.status_code == 200 and response["Cache-Control"].startswith("max-age=0")
    assert html.count("<section") == 1 and f'data-refresh-url="{state_url(study)}"' in html
    assert "1 of 2 pairs generated, 0 running, 1 waiting" in html
    assert f'data-refresh-url="{state_url(study)}"' in page(ada, study).content.decode()
    fake_generate(second)
    services.studies.refresh_study_status(study_id=study.pk)
    html = ada.get(state_url(study)).content.decode()
    assert "data-refresh-url" not in html and 'data-status="ready"' in html
    assert 'aria-current="step">Ready</li>' in html


def test_the_state_section_needs_a_visible_study(users):
    theirs = owned("theirs", users.grace, prompts=2)
    assert signed_in(users.ada).get(state_url(theirs)).status_code == 404
    assert Client().get(state_url(theirs)).status_code == 302  # to the sign-in page
    theirs.shared_with.add(users.viewer)
    assert signed_in(users.viewer).get(state_url(theirs)).status_code == 200
    assert signed_in(users.grace).post(state_url(theirs)).status_code == 405


def test_the_eta_counts_only_the_jobs_made_for_the_study(users):
    source = generated(owned("orig", users.ada, prompts=3))
    PairJob.objects.update(started_at="2020-01-01T00:00:00Z", finished_at="2020-01-01T00:00:10Z")
    copy = duplicate_study(study=source, user=users.ada)
    copy.prompts.create(position=3, text="A new prompt for the copy")
    copy.prompts.create(position=4, text="Another new prompt for the copy")
    services.queue_study_generation(study=copy)
    new = list(copy.pairs.filter(prompt__position__gte=3).order_by("pk").values_list("job_id", flat=True))
    PairJob.objects.filter(pk=new[0]).update(
        status=PairJob.Status.DONE, started_at="2024-01-01T00:00:00Z", finished_at="2024-01-01T00:00:30Z"
    )
    progress = generation_progress(copy)
    assert (progress.done, progress.pending, progress.total) == (4, 1, 5)
    assert progress.eta.total_seconds() == 30


# 4. A form that guides ------------------------------------------------------------------------------------------


def editable_fields() -> set[str]:
    return {field.name for field in [*Study._meta.fields, *Study._meta.many_to_many] if field.editable} - {"id"}


def shown_fields(adminform) -> set[str]:
    """The names of the fields the form's fieldsets show, editable or read-only."""
    names = set()
    for fieldset in adminform:
        for line in fieldset:
            for field in line:
                names.add(field.field["name"] if isinstance(field.field, dict) else field.field.name)
    return names


def test_every_setting_is_in_a_fieldset_on_both_pages(users, admin_client):
    study = owned("f", users.ada)
    for client, url in (
        (admin_client, reverse("admin:annotations_study_add")),
        (admin_client, reverse("admin:annotations_study_change", args=[study.pk])),
        (signed_in(users.ada), reverse("admin:annotations_study_change", args=[study.pk])),
    ):
        response = client.get(url)
        shown = shown_fields(response.context["adminform"])
        assert editable_fields() <= shown, editable_fields() - shown
        names = [fieldset.name for fieldset in response.context["adminform"]]
        assert names == ["What is studied", "Images", "Annotators and quotas", "Prolific", "Advanced"]
    # the researcher sees the owner but cannot change it (test_permissions holds the rules)
    form = signed_in(users.ada).get(reverse("admin:annotations_study_change", args=[study.pk])).context["adminform"]
    assert "owner" not in form.form.fields and "shared_with" in form.form.fields


def test_the_presets_and_the_models_training_sizes_reach_the_form(admin_client):
    model = make_study(slug="m", prompts=0).model
    html = admin_client.get(reverse("admin:annotations_study_add")).content.decode()
    assert 'data-presets="{&quot;sd21-224&quot;: {&quot;width&quot;: 224, &quot;height&quot;: 224' in html
    for label in ("SD-2.1-base at 224×224", "SD-2.1-base at 512×288", "SD-2.1-base at 768×768"):
        assert label in html
    assert "LDM text2im at 128×128" in html and "LDM text2im at 512×512" in html
    assert f'data-train-sizes="{{&quot;{model.pk}&quot;: [64, 64]}}"' in html
    assert "/static/annotations/admin/study_form.js" in html


def test_prompts_pasted_on_the_add_page_are_added_in_order(users):
    data = change_form(Study(slug="pasted", title="Pasted", width=64, height=64, steps=2))
    data["prompt_lines"] = "A red bicycle\r\n\r\n  Two   cats\r\nA lighthouse\r\n"
    response = signed_in(users.ada).post(reverse("admin:annotations_study_add"), data)
    assert response.status_code == 302
    study = Study.objects.get(slug="pasted")
    assert list(study.prompts.values_list("position", "text")) == [
        (0, "A red bicycle"),
        (1, "Two cats"),
        (2, "A lighthouse"),
    ]


def test_pasted_prompts_are_checked_as_a_prompt_file_naming_lines(users):
    data = change_form(Study(slug="pasted", title="Pasted", width=64, height=64, steps=2))
    data["prompt_lines"] = "a cat\n\n  a   cat\n" + "x" * 1001 + "\n"
    response = signed_in(users.ada).post(reverse("admin:annotations_study_add"), data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["prompt_lines"] == [
        "line 3: duplicate of the prompt on line 1",
        "line 4: the prompt is 1001 characters long; at most 1000 are allowed",
    ]
    assert not Study.objects.exists()
