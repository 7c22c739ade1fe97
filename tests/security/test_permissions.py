"""Staff pages and admin actions need their model permission, and a researcher sees only the studies they own or
that are shared with them; superusers see every study."""

import io
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from analysis.models import AnalysisSettings
from annotations import services
from annotations.models import Annotator, Assignment, ImagePair, Rating, Study
from generation.models import PairJob
from tests.annotations.test_staff_pages import change_form
from tests.factories import make_open_study, make_researchers, pair_ratings

pytestmark = pytest.mark.django_db

RESEARCHER_PERMISSIONS = {
    "annotations.add_study",
    "annotations.change_study",
    "annotations.view_study",
    "annotations.run_study",
    "annotations.export_study",
    "annotations.add_prompt",
    "annotations.change_prompt",
    "annotations.delete_prompt",
    "annotations.view_prompt",
    "annotations.view_condition",
    "annotations.change_condition",
    "annotations.view_criterion",
    "annotations.change_criterion",
    "annotations.add_criterion",
    "annotations.delete_criterion",
    "annotations.add_condition",
    "annotations.delete_condition",
    "annotations.view_imagepair",
    "annotations.add_annotator",
    "annotations.change_annotator",
    "annotations.view_annotator",
    "annotations.view_assignment",
    "annotations.view_rating",
    "analysis.add_analysissettings",
    "analysis.change_analysissettings",
    "analysis.view_analysissettings",
    "generation.view_diffusionmodel",
}
STUDY_ACTIONS = ("queue_generation", "open_selected", "close_selected", "add_ten_annotators")


def offered_actions(client: Client, model) -> set[str]:
    form = client.get(changelist(model)).context["action_form"]  # None when no action is offered
    return {name for name, _ in form.fields["action"].choices if name} if form else set()


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def rate_first(study: Study) -> None:
    annotator = study.annotators.order_by("pk").first()
    services.give_consent(annotator=annotator)
    assignment = annotator.assignments.filter(check_pair__isnull=True).order_by("order").first()
    services.submit_rating(annotator_id=annotator.pk, assignment_id=assignment.pk, scores={"left": 3, "right": 8})


@pytest.fixture
def users():
    model = get_user_model()
    ada, grace = make_researchers("ada", "grace")
    bare = model.objects.create_user("bare", password="not-used-here", is_staff=True)
    root = model.objects.create_superuser("root", password="not-used-here")
    return SimpleNamespace(ada=ada, grace=grace, bare=bare, root=root)


@pytest.fixture
def studies(users):
    """Ada's own study, Grace's study shared with Ada, and Grace's own; each open, rated once, with settings."""
    made = {}
    for slug, owner in (("mine", users.ada), ("shared", users.grace), ("theirs", users.grace)):
        study, _ = make_open_study(slug=slug, prompts=2, annotators=2)
        Study.objects.filter(pk=study.pk).update(owner=owner)
        rate_first(study)
        AnalysisSettings.objects.create(study=study)
        made[slug] = Study.objects.get(pk=study.pk)
    made["shared"].shared_with.add(users.ada)
    return SimpleNamespace(**made)


def staff_pages(study: Study) -> dict[str, str]:
    pair = study.pairs.order_by("pk").first()
    return {
        "monitor": reverse("annotations:monitor", args=[study.slug]),
        "preview": reverse("annotations:preview", args=[study.slug]),
        "pair image": reverse("annotations:pair_image", args=[pair.pk, "ours"]),
        "results": reverse("analysis:results", args=[study.slug]),
        "invites": reverse("admin:annotations_study_invites", args=[study.pk]),
        "invites csv": reverse("admin:annotations_study_invites_csv", args=[study.pk]),
        "upload prompts": reverse("admin:annotations_study_upload_prompts", args=[study.pk]),
    }


def changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


SCOPED = {  # admin list -> the path from its model to the study
    Study: "",
    ImagePair: "study",
    Annotator: "study",
    Assignment: "annotator__study",
    Rating: "assignment__annotator__study",
    AnalysisSettings: "study",
}


def listed_studies(client: Client, model) -> set[str]:
    response = client.get(changelist(model))
    assert response.status_code == 200, model
    path = SCOPED[model]
    rows = response.context["cl"].queryset
    return set(rows.values_list(f"{path}__slug" if path else "slug", flat=True))


# The group ------------------------------------------------------------------------------------------------------


def test_the_researcher_group_holds_exactly_the_listed_permissions():
    group = Group.objects.get(name="Researcher")
    held = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}
    assert held == RESEARCHER_PERMISSIONS


def test_the_researcher_permissions_are_those_the_guide_lists():
    guide = (Path(__file__).resolve().parents[2] / "docs" / "researcher-guide.md").read_text(encoding="utf-8")
    section = guide[guide.index("## 10. Accounts and permissions") :]
    assert set(re.findall(r"`((?:annotations|analysis|generation)\.\w+)`", section)) >= RESEARCHER_PERMISSIONS


# Staff without the permission -----------------------------------------------------------------------------------


def test_staff_without_permissions_get_403_on_every_staff_page(users, studies):
    client = signed_in(users.bare)
    for name, url in staff_pages(studies.mine).items():
        response = client.get(url)
        assert response.status_code == 403, name
        assert "Permission needed" in response.content.decode(), name
    for name in ("invites", "upload prompts"):
        assert client.post(staff_pages(studies.mine)[name], {"count": 3}).status_code == 403, name
    assert studies.mine.annotators.count() == 2


def test_the_403_page_names_the_missing_permission(users, studies):
    html = signed_in(users.bare).get(staff_pages(studies.mine)["results"]).content.decode()
    assert "annotations.export_study" in html and "Researcher group" in html


def test_staff_without_permissions_get_403_on_every_admin_list_and_action(users, studies):
    client = signed_in(users.bare)
    for model in (*SCOPED, PairJob):
        assert client.get(changelist(model)).status_code == 403, model
    for action in STUDY_ACTIONS:
        response = client.post(changelist(Study), {"action": action, "_selected_action": [studies.mine.pk]})
        assert response.status_code == 403, action
    job = PairJob.objects.filter(status=PairJob.Status.DONE).first()
    response = client.post(changelist(PairJob), {"action": "queue_selected", "_selected_action": [job.pk]})
    assert response.status_code == 403


def test_a_study_viewer_without_run_permission_gets_no_actions_and_changes_nothing(users, studies):
    viewer = users.bare
    viewer.user_permissions.add(*Permission.objects.filter(codename__in=["view_study", "view_pairjob"]))
    studies.mine.shared_with.add(viewer)
    client = signed_in(viewer)
    assert not offered_actions(client, Study) & set(STUDY_ACTIONS)
    for action in ("close_selected", "add_ten_annotators"):  # posted anyway: the list is shown again, unchanged
        response = client.post(changelist(Study), {"action": action, "_selected_action": [studies.mine.pk]})
        assert response.status_code == 200, action
    assert Study.objects.get(pk=studies.mine.pk).status == Study.Status.OPEN
    assert studies.mine.annotators.count() == 2
    assert not offered_actions(client, PairJob) & {"queue_selected", "requeue_running_selected"}
    assert signed_in(viewer).get(staff_pages(studies.mine)["monitor"]).status_code == 200
    assert signed_in(viewer).get(staff_pages(studies.mine)["results"]).status_code == 403


def test_researchers_get_no_pair_job_actions(users, studies):
    assert signed_in(users.ada).get(changelist(PairJob)).status_code == 403


# Ownership and sharing ------------------------------------------------------------------------------------------


def test_a_researcher_sees_only_own_and_shared_studies_in_every_list(users, studies):
    client = signed_in(users.ada)
    for model in SCOPED:
        assert listed_studies(client, model) == {"mine", "shared"}, model
        html = client.get(changelist(model)).content.decode()
        assert "Theirs" not in html and "theirs" not in html, model  # nor among the list filter's choices


def test_a_superuser_sees_every_study_in_every_list_and_page(users, studies):
    client = signed_in(users.root)
    for model in SCOPED:
        assert listed_studies(client, model) == {"mine", "shared", "theirs"}, model
    for name, url in staff_pages(studies.theirs).items():
        assert client.get(url).status_code == 200, name


def test_a_researcher_opens_every_page_of_own_and_shared_studies(users, studies):
    client = signed_in(users.ada)
    for study in (studies.mine, studies.shared):
        for name, url in staff_pages(study).items():
            response = client.get(url)
            assert response.status_code == 200, (study.slug, name)
        assert client.get(reverse("admin:annotations_study_change", args=[study.pk])).status_code == 200


def test_someone_elses_study_is_not_found_on_every_page(users, studies):
    client = signed_in(users.ada)
    for name, url in staff_pages(studies.theirs).items():
        assert client.get(url).status_code == 404, name
    assert client.post(staff_pages(studies.theirs)["invites"], {"count": 3}).status_code == 404
    assert studies.theirs.annotators.count() == 2
    pages = [
        reverse("admin:annotations_study_change", args=[studies.theirs.pk]),
        reverse("admin:annotations_annotator_change", args=[studies.theirs.annotators.first().pk]),
        reverse(
            "admin:annotations_rating_change", args=[pair_ratings().get(assignment__pair__study=studies.theirs).pk]
        ),
        reverse("admin:analysis_analysissettings_change", args=[studies.theirs.analysis_settings.pk]),
    ]
    for url in pages:  # the admin's answer for an object that does not exist: back to the index, saying so
        response = client.get(url, follow=True)
        assert response.redirect_chain[-1][0] == reverse("admin:index"), url
        assert "doesn’t exist" in response.content.decode(), url


def test_actions_reach_only_visible_studies(users, studies):
    client = signed_in(users.ada)
    selected = [studies.mine.pk, studies.shared.pk, studies.theirs.pk]
    response = client.post(changelist(Study), {"action": "close_selected", "_selected_action": selected})
    assert response.status_code == 302
    status = dict(Study.objects.values_list("slug", "status"))
    assert status == {"mine": Study.Status.CLOSED, "shared": Study.Status.CLOSED, "theirs": Study.Status.OPEN}
    annotators = [
        studies.mine.annotators.order_by("pk").first().pk,
        studies.theirs.annotators.order_by("pk").first().pk,
    ]
    response = client.post(changelist(Annotator), {"action": "mark_returned", "_selected_action": annotators})
    assert response.status_code == 302
    released = set(Annotator.objects.filter(released_at__isnull=False).values_list("study__slug", flat=True))
    assert released == {"mine"}


def test_a_researcher_runs_and_exports_own_studies(users, studies):
    client = signed_in(users.ada)
    response = client.post(staff_pages(studies.mine)["invites"], {"count": 3})
    assert response.status_code == 302 and studies.mine.annotators.count() == 5
    response = client.post(changelist(Study), {"action": "add_ten_annotators", "_selected_action": [studies.mine.pk]})
    assert studies.mine.annotators.count() == 15
    csv_text = client.get(staff_pages(studies.mine)["invites csv"]).content.decode()
    assert len(csv_text.splitlines()) == 16
    assert "<svg" in client.get(staff_pages(studies.mine)["results"]).content.decode()


def test_the_creator_owns_a_new_study(users):
    client = signed_in(users.ada)
    template = Study(slug="new", title="New", width=64, height=64, steps=2)
    response = client.post(
        reverse("admin:annotations_study_add"),
        change_form(template, shared_with=[users.grace.pk], owner=users.grace.pk),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    study = Study.objects.get(slug="new")
    assert study.owner == users.ada  # the owner field is not the creator's to choose
    assert list(study.shared_with.all()) == [users.grace]


def test_only_the_owner_or_a_superuser_changes_sharing_and_only_a_superuser_the_owner(users, studies):
    def fields(user, study) -> set[str]:
        response = signed_in(user).get(reverse("admin:annotations_study_change", args=[study.pk]))
        return set(response.context["adminform"].form.fields)

    assert "shared_with" in fields(users.ada, studies.mine) and "owner" not in fields(users.ada, studies.mine)
    assert not {"shared_with", "owner"} & fields(users.ada, studies.shared)
    assert {"shared_with", "owner"} <= fields(users.root, studies.theirs)
    # a shared user's save leaves the sharing as it was
    url = reverse("admin:annotations_study_change", args=[studies.shared.pk])
    response = signed_in(users.ada).post(
        url, change_form(studies.shared, title="Renamed", shared_with=[users.bare.pk], owner=users.ada.pk)
    )
    assert response.status_code == 302
    shared = Study.objects.get(pk=studies.shared.pk)
    assert shared.title == "Renamed" and shared.owner == users.grace
    assert list(shared.shared_with.all()) == [users.ada]


def test_study_choices_in_admin_forms_are_the_visible_studies(users, studies):
    client = signed_in(users.ada)
    for url in (reverse("admin:annotations_annotator_add"), reverse("admin:analysis_analysissettings_add")):
        choices = client.get(url).context["adminform"].form.fields["study"].queryset
        assert set(choices.values_list("slug", flat=True)) == {"mine", "shared"}, url
    response = client.post(reverse("admin:annotations_annotator_add"), {"study": studies.theirs.pk, "external_id": "x"})
    assert response.status_code == 200 and not studies.theirs.annotators.filter(external_id="x").exists()


def test_management_commands_still_see_every_study(users, studies):
    out = io.StringIO()
    call_command("export_results", "theirs", "--format", "markdown", stdout=out)
    assert "theirs" in out.getvalue()
