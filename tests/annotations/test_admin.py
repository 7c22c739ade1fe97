"""The researcher's admin: what it shows read-only, what it refuses, and the prompt table's checks."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from annotations import services
from annotations.models import Annotator, Assignment, ImagePair, Prompt, Study
from annotations.selectors import tidy_rows
from annotations.services.rating_import import import_ratings
from tests.annotations.test_staff_pages import change_form
from tests.factories import make_model, make_open_study, make_study, pair_ratings

pytestmark = pytest.mark.django_db


def rated_study(slug: str = "op", **fields) -> tuple[Study, Annotator, Assignment]:
    """An open study in which the first annotator has rated its first (non-check) assignment."""
    study, (annotator, _) = make_open_study(slug=slug, prompts=3, **fields)
    services.give_consent(annotator=annotator)
    assignment = annotator.assignments.filter(check_pair__isnull=True).order_by("order").first()
    services.submit_rating(annotator_id=annotator.pk, assignment_id=assignment.pk, scores={"left": 3, "right": 8})
    return study, annotator, assignment


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# Pairs, assignments and ratings are view-only -------------------------------------------------------


def test_a_pair_cannot_be_added_by_hand_to_an_open_study(admin_client):
    study, _ = make_open_study(slug="op", prompts=2)
    other = make_study(slug="other", prompts=3)
    response = admin_client.post(
        reverse("admin:annotations_imagepair_add"), {"study": study.pk, "prompt": other.prompts.last().pk, "job": ""}
    )
    assert response.status_code == 403
    assert study.pairs.count() == 2 and not ImagePair.objects.filter(job__isnull=True).exists()


def test_a_rated_pairs_job_cannot_be_swapped_nor_the_pair_deleted(admin_client):
    study, _annotator, assignment = rated_study()
    pair = assignment.pair
    job = pair.job_id
    other_job = study.pairs.exclude(pk=pair.pk).first().job_id
    url = reverse("admin:annotations_imagepair_change", args=[pair.pk])
    response = admin_client.post(url, {"study": study.pk, "prompt": pair.prompt_id, "job": other_job})
    assert response.status_code == 403
    assert ImagePair.objects.get(pk=pair.pk).job_id == job
    view = admin_client.get(url)  # still shown, read-only
    assert view.status_code == 200 and 'name="job"' not in view.content.decode()
    response = admin_client.post(reverse("admin:annotations_imagepair_delete", args=[pair.pk]), {"post": "yes"})
    assert response.status_code == 403
    assert pair_ratings().count() == 1


def test_a_rating_cannot_be_added_to_an_attention_check(admin_client):
    study, (annotator, _) = make_open_study(slug="op", prompts=3, attention_checks=1)
    services.give_consent(annotator=annotator)
    check = annotator.assignments.get(check_pair__isnull=False)
    response = admin_client.post(
        reverse("admin:annotations_rating_add"),
        {"assignment": check.pk, "condition": study.conditions.first().pk, "score": 2, "seconds": ""},
    )
    assert response.status_code == 403
    assert pair_ratings().count() == 0 and list(tidy_rows(study=study)) == []


def test_a_ratings_side_and_scores_cannot_be_changed_or_deleted(admin_client):
    study, annotator, assignment = rated_study()
    before = list(tidy_rows(study=study))
    response = admin_client.post(
        reverse("admin:annotations_assignment_change", args=[assignment.pk]),
        {
            "annotator": annotator.pk,
            "pair": assignment.pair_id,
            "order": assignment.order,
            "ours_on_left": "" if assignment.ours_on_left else "on",
            "check_pair": "",
            "check_arm": "",
            "check_other_arm": "",
            "shown_at_0": "",
            "shown_at_1": "",
        },
    )
    assert response.status_code == 403
    rating = assignment.ratings.first()
    response = admin_client.post(
        reverse("admin:annotations_rating_change", args=[rating.pk]),
        {"assignment": assignment.pk, "score": 10, "seconds": ""},
    )
    assert response.status_code == 403
    for name, pk in (("assignment", assignment.pk), ("rating", rating.pk)):
        delete = reverse(f"admin:annotations_{name}_delete", args=[pk])
        assert admin_client.post(delete, {"post": "yes"}).status_code == 403
        assert admin_client.get(reverse(f"admin:annotations_{name}_change", args=[pk])).status_code == 200
    assert list(tidy_rows(study=study)) == before


def test_view_only_lists_offer_no_add_and_no_delete_action(admin_client):
    rated_study()
    for name in ("imagepair", "assignment", "rating"):
        response = admin_client.get(reverse(f"admin:annotations_{name}_changelist"))
        assert response.status_code == 200
        assert reverse(f"admin:annotations_{name}_add") not in response.content.decode()
        action_form = response.context["action_form"]
        actions = [name for name, _ in action_form.fields["action"].choices] if action_form else []
        assert "delete_selected" not in actions


# Annotators -----------------------------------------------------------------------------------------


def test_an_annotators_study_is_read_only_once_saved(admin_client):
    study, annotator, _ = rated_study()
    other, _ = make_open_study(slug="op2", prompts=2)
    url = reverse("admin:annotations_annotator_change", args=[annotator.pk])
    assert "study" not in admin_client.get(url).context["adminform"].form.fields
    response = admin_client.post(
        url,
        {
            "study": other.pk,
            "external_id": "",
            "source": "invite",
            "entry": "{}",
            "screened_out_at_0": "",
            "screened_out_at_1": "",
        },
    )
    assert response.status_code == 302
    assert Annotator.objects.get(pk=annotator.pk).study_id == study.pk
    # adding one still names its study
    add = admin_client.get(reverse("admin:annotations_annotator_add"))
    assert "study" in add.context["adminform"].form.fields


# Deletes that would remove answers ------------------------------------------------------------------


def test_deleting_an_annotator_or_a_study_with_ratings_is_refused_naming_why(admin_client):
    study, annotator, _ = rated_study()
    for name, obj in (("annotator", annotator), ("study", study)):
        change = reverse(f"admin:annotations_{name}_change", args=[obj.pk])
        delete = reverse(f"admin:annotations_{name}_delete", args=[obj.pk])
        assert delete not in admin_client.get(change).content.decode()
        response = admin_client.post(delete, {"post": "yes"}, follow=True)
        assert response.redirect_chain[-1][0] == change
        [message] = messages_of(response)
        assert message.startswith(f"Nothing was deleted: {name} '{obj}' holds 1 rating and 0 attention-check answers")
    assert pair_ratings().count() == 1 and Study.objects.filter(pk=study.pk).exists()


def test_delete_selected_refuses_when_any_selected_study_holds_ratings(admin_client):
    rated, _, _ = rated_study(slug="rated")
    empty = make_study(slug="empty", prompts=1)
    changelist = reverse("admin:annotations_study_changelist")
    response = admin_client.post(
        changelist, {"action": "delete_selected", "_selected_action": [rated.pk, empty.pk], "post": "yes"}, follow=True
    )
    assert any("Nothing was deleted: study 'Rated' holds 1 rating" in message for message in messages_of(response))
    assert Study.objects.filter(pk__in=[rated.pk, empty.pk]).count() == 2 and pair_ratings().count() == 1
    # a study without answers is deleted as before
    response = admin_client.post(
        changelist, {"action": "delete_selected", "_selected_action": [empty.pk], "post": "yes"}
    )
    assert response.status_code == 302 and not Study.objects.filter(pk=empty.pk).exists()


def test_an_annotator_without_answers_can_still_be_deleted(admin_client):
    study, (annotator, _) = make_open_study(slug="op", prompts=2)
    response = admin_client.post(reverse("admin:annotations_annotator_delete", args=[annotator.pk]), {"post": "yes"})
    assert response.status_code == 302 and not Annotator.objects.filter(pk=annotator.pk).exists()


def test_the_prompts_of_imported_ratings_are_fixed(admin_client, tmp_path):
    text = (
        "study,annotator,item,condition,score,position,seconds\n"
        "imp,a0,item0,baseline,3,left,1\nimp,a0,item0,ours,7,right,1\n"
    )
    study = import_ratings(slug="imp", text=text).study
    (tmp_path / "more.txt").write_text("a new item\n")
    assert study.status == Study.Status.DRAFT
    html = admin_client.get(reverse("admin:annotations_study_change", args=[study.pk])).content.decode()
    assert 'name="prompts-0-text"' not in html and 'name="prompts-0-DELETE"' not in html
    # nor does a prompt file add to them, from the upload page or the command
    upload = SimpleUploadedFile("more.txt", b"a new item\n")
    response = admin_client.post(reverse("admin:annotations_study_upload_prompts", args=[study.pk]), {"file": upload})
    fixed = (
        "Study 'imp' holds imported pairs (ratings imported without images, from import_ratings): its prompts are "
        "the items of those ratings and are fixed."
    )
    assert response.status_code == 200 and response.context["form"].non_field_errors() == [fixed]
    with pytest.raises(CommandError, match=re.escape(fixed)):
        call_command("import_prompts", "imp", str(tmp_path / "more.txt"))
    assert list(study.prompts.values_list("text", flat=True)) == ["item0"]


# A study of imported ratings takes no model ----------------------------------------------------------


def test_a_model_is_refused_for_a_study_of_imported_ratings(admin_client):
    text = "study,annotator,item,condition,score,position,seconds\n" + "".join(
        f"imp,a{i},item{j},baseline,3,left,1\nimp,a{i},item{j},ours,7,right,1\n" for i in range(2) for j in range(3)
    )
    study = import_ratings(slug="imp", text=text).study
    model = make_model("unused")
    response = admin_client.post(
        reverse("admin:annotations_study_change", args=[study.pk]), change_form(study, model=model.pk)
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["model"] == [
        "Study 'imp' holds 3 imported pairs (ratings imported without images, from import_ratings): it cannot "
        "generate images or take a model. Create a new study to generate."
    ]
    assert Study.objects.get(pk=study.pk).model_id is None


# The prompt table's checks --------------------------------------------------------------------------


def prompt_rows(*texts: str, initial: int = 0) -> dict:
    data = {"prompts-TOTAL_FORMS": len(texts), "prompts-INITIAL_FORMS": initial}
    for index, text in enumerate(texts):
        data |= {f"prompts-{index}-position": index, f"prompts-{index}-text": text}
    return data


def test_the_prompt_table_refuses_whitespace_duplicates_and_long_prompts_naming_rows(admin_client):
    study = make_study(slug="new", prompts=0)  # the add page takes prompts pasted one a line, not the table
    data = change_form(study) | prompt_rows("a cat", "  a   cat\t", "x" * 1001)
    response = admin_client.post(reverse("admin:annotations_study_change", args=[study.pk]), data)
    assert response.status_code == 200
    assert response.context["inline_admin_formsets"][-1].formset.non_form_errors() == [
        "row 2: duplicate of the prompt on row 1",
        "row 3: the prompt is 1001 characters long; at most 1000 are allowed",
    ]
    assert not Prompt.objects.exists()


def test_the_prompt_table_refuses_a_nul_and_writes_nothing(admin_client):
    study = make_study(slug="d", prompts=1)
    url = reverse("admin:annotations_study_change", args=[study.pk])
    first = study.prompts.get()
    data = change_form(study) | prompt_rows(first.text, "a\x00dog", initial=1)
    data["prompts-0-id"], data["prompts-0-study"] = first.pk, study.pk
    response = admin_client.post(url, data)
    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][-1].formset
    assert formset.forms[1].errors["text"] == ["Null characters are not allowed."]
    assert list(study.prompts.values_list("text", flat=True)) == [first.text]


def test_the_prompt_table_checks_against_the_studys_other_prompts_and_saves_normalised_text(admin_client):
    study = make_study(slug="d", prompts=1)
    stored = study.prompts.get().text
    url = reverse("admin:annotations_study_change", args=[study.pk])

    def errors(*rows: tuple[int, str]) -> list[str]:
        data = change_form(study) | {"prompts-TOTAL_FORMS": len(rows), "prompts-INITIAL_FORMS": 0}
        for index, (position, text) in enumerate(rows):
            data |= {f"prompts-{index}-position": position, f"prompts-{index}-text": text}
        response = admin_client.post(url, data)
        assert response.status_code == 200
        return response.context["inline_admin_formsets"][-1].formset.non_form_errors()

    # the stored prompt is not in the table (e.g. an upload added it meanwhile): its text and position are taken
    assert errors((1, "  " + stored.replace(" ", "  \t") + " ")) == ["row 1: the study already has this prompt"]
    assert errors((0, "a new prompt")) == [f"row 1: position 0 is taken by the prompt {stored!r}"]
    assert errors((1, "one"), (1, "two")) == ["row 2: position 1 is also on row 1"]
    assert list(study.prompts.values_list("text", flat=True)) == [stored]
    response = admin_client.post(
        url,
        change_form(study)
        | {
            "prompts-TOTAL_FORMS": 1,
            "prompts-INITIAL_FORMS": 0,
            "prompts-0-position": 5,
            "prompts-0-text": "  two\tdogs \n on a   sofa ",
        },
    )
    assert response.status_code == 302
    assert list(study.prompts.values_list("text", flat=True)) == [stored, "two dogs on a sofa"]
