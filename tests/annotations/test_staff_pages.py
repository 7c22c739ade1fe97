"""The researcher's side: locked settings, fixed prompts, preview, monitoring, invite links, deploy checks."""

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from annotations import sequence, services
from annotations.models import DEFAULT_QUESTION, Annotator, Study
from annotations.services import studies
from tests.factories import make_model, make_open_study, make_study

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def change_form(study: Study, **changes) -> dict:
    """The admin change form's POST data for ``study`` (its inlines' management forms included, with no rows, so
    that rows are left as they are), with ``changes``; ``question`` is read on the add page only."""
    fields = {
        "slug": study.slug,
        "title": study.title,
        "question": DEFAULT_QUESTION,
        "consent_text": study.consent_text,
        "instructions": study.instructions,
        "example_prompt": "",
        "model": study.model_id or "",
        "width": study.width,
        "height": study.height,
        "steps": study.steps,
        "guidance_scale": study.guidance_scale,
        "scheduler": study.scheduler,
        "negative_prompt": study.negative_prompt,
        "base_seed": study.base_seed,
        "pairs_per_annotator": "",
        "ratings_per_pair": "",
        "attention_checks": 0,
        "screen_out_after": "",
        "enrolment_cap": "",
        "completion_code": "",
        "completion_url": "",
        **({"allow_ties": "on"} if study.allow_ties else {}),  # a ticked box posts its field; an unticked one none
        **{
            f"{prefix}-{name}": value
            for prefix in ("conditions", "criteria", "prompts")
            for name, value in (("TOTAL_FORMS", 0), ("INITIAL_FORMS", 0), ("MIN_NUM_FORMS", 0), ("MAX_NUM_FORMS", 1000))
        },
    }
    return {**fields, **changes}


def test_changing_the_model_of_a_study_with_ratings_is_refused(admin_client):
    study, (annotator, _) = make_open_study(slug="locked", prompts=2)
    services.give_consent(annotator=annotator)
    first = annotator.assignments.first()
    services.submit_rating(annotator_id=annotator.pk, assignment_id=first.pk, scores={"left": 3, "right": 4})
    other = make_model("other/model")
    url = reverse("admin:annotations_study_change", args=[study.pk])
    response = admin_client.post(url, change_form(study, model=other.pk, steps=50))
    html = response.content.decode()
    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors() == [
        "Study 'locked': its model, steps can no longer change: its 2 pairs were generated with them (the study is "
        "open). Create a new study for other settings."
    ]
    assert "its model, steps can no longer change" in html
    study.refresh_from_db()
    assert study.model.source == "unused" and study.steps == 2
    # the title is not locked
    response = admin_client.post(url, change_form(study, title="Renamed"))
    assert response.status_code == 302 and Study.objects.get(pk=study.pk).title == "Renamed"


def test_a_pixart_study_needs_sizes_its_patches_tile(admin_client):
    study = make_study(slug="pix", prompts=1)
    pixart = make_model("tiny/pixart", family="pixart")
    url = reverse("admin:annotations_study_change", args=[study.pk])
    html = admin_client.post(url, change_form(study, model=pixart.pk, width=520, height=512)).content.decode()
    assert "tiny/pixart: A PixArt-α model needs a width that is a multiple of 16 pixels." in html
    study.refresh_from_db()
    assert study.model.source == "unused" and study.width != 520
    response = admin_client.post(url, change_form(study, model=pixart.pk, width=528, height=512))
    assert response.status_code == 302 and Study.objects.get(pk=study.pk).model_id == pixart.pk


def test_an_ldm_study_refuses_euler_and_a_negative_prompt(admin_client):
    study = make_study(slug="ldm", prompts=1)
    ldm = make_model("tiny/ldm", family="ldm")
    url = reverse("admin:annotations_study_change", args=[study.pk])
    response = admin_client.post(url, change_form(study, model=ldm.pk, scheduler="euler", negative_prompt="blurry"))
    errors = response.context["adminform"].form.errors
    assert errors["scheduler"] == [
        "tiny/ldm: A Latent Diffusion text2im pipeline cannot sample with Euler: it does not scale the noise for that "
        "scheduler. Use DDIM or DPM-Solver++."
    ]
    assert errors["negative_prompt"] == ["tiny/ldm: A Latent Diffusion text2im pipeline takes no negative prompt."]
    assert Study.objects.get(pk=study.pk).model.source == "unused"
    response = admin_client.post(url, change_form(study, model=ldm.pk, scheduler="dpmpp", negative_prompt=""))
    assert response.status_code == 302 and Study.objects.get(pk=study.pk).model_id == ldm.pk


def test_a_study_made_before_a_family_rule_keeps_its_other_fields_editable(admin_client):
    """An LDM study generated with Euler before that was refused: its title and enrolment still change."""
    ldm = make_model("tiny/ldm", family="ldm")
    study, _ = make_open_study(slug="old-ldm", prompts=2)
    Study.objects.filter(pk=study.pk).update(model=ldm, scheduler="euler")
    study.refresh_from_db()
    url = reverse("admin:annotations_study_change", args=[study.pk])
    response = admin_client.post(url, change_form(study, title="Renamed", enrolment_open="on"))
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Study.objects.get(pk=study.pk).title == "Renamed"


def test_attention_checks_need_two_pairs_in_a_generated_study(admin_client):
    study, _ = make_open_study(slug="one", prompts=1)
    url = reverse("admin:annotations_study_change", args=[study.pk])
    response = admin_client.post(url, change_form(study, attention_checks=1))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["attention_checks"] == [
        "Study 'one' has 1 pair, too few for attention checks (1): a check shows an image of another prompt, so "
        "it needs at least 2 pairs. Add prompts or set attention checks to 0."
    ]
    assert Study.objects.get(pk=study.pk).attention_checks == 0
    two, _ = make_open_study(slug="two", prompts=2)
    url = reverse("admin:annotations_study_change", args=[two.pk])
    response = admin_client.post(url, change_form(two, attention_checks=1))
    assert response.status_code == 302 and Study.objects.get(pk=two.pk).attention_checks == 1


def test_quotas_lock_once_an_annotator_started():
    study, (annotator, _) = make_open_study(slug="q", prompts=2)
    studies.check_settings_change(study=study, changed=["ratings_per_pair"])  # nobody started: allowed
    services.give_consent(annotator=annotator)
    with pytest.raises(Exception, match="ratings per pair can no longer change"):
        studies.check_settings_change(study=study, changed=["ratings_per_pair"])


def test_prompts_are_fixed_after_draft(admin_client):
    draft = make_study(slug="draft", prompts=2)
    study, _ = make_open_study(slug="open", prompts=2)
    assert (
        'name="prompts-0-text"'
        in admin_client.get(reverse("admin:annotations_study_change", args=[draft.pk])).content.decode()
    )
    html = admin_client.get(reverse("admin:annotations_study_change", args=[study.pk])).content.decode()
    assert 'name="prompts-0-text"' not in html and study.prompts.first().text in html


def test_preview_shows_every_pair_labelled_to_staff_only(admin_client, client):
    study, _ = make_open_study(slug="pv", prompts=3)
    url = reverse("annotations:preview", args=[study.slug])
    assert client.get(url).status_code == 302  # to the admin login
    html = admin_client.get(url).content.decode()
    for pair in study.pairs.select_related("prompt"):
        assert pair.prompt.text in html
        for arm in ("baseline", "ours"):
            image_url = reverse("annotations:pair_image", args=[pair.pk, arm])
            assert image_url in html
            assert admin_client.get(image_url)["Content-Type"] == "image/png"
            assert client.get(image_url).status_code == 302
    assert html.count(">Ours</figcaption>") == 3


def test_monitoring_page_counts_and_flags(admin_client, client):
    study, annotators = make_open_study(slug="mon", prompts=3, annotators=3, attention_checks=1)
    straight, careful, _idle = annotators
    for annotator in (straight, careful):
        services.give_consent(annotator=annotator)
        for assignment in annotator.assignments.order_by("order"):
            sequence.mark_shown(assignment_id=assignment.pk, annotator_id=annotator.pk)
            if assignment.check_pair_id:
                # a low score for the mismatched image passes; ``ours_on_left`` says where it is
                passing = (1, 9) if assignment.ours_on_left else (9, 1)
                left, right = passing if annotator is careful else passing[::-1]
            else:
                left, right = (5, 5) if annotator is straight else (7, 4)
            services.submit_rating(
                annotator_id=annotator.pk, assignment_id=assignment.pk, scores={"left": left, "right": right}
            )
    url = reverse("annotations:monitor", args=[study.slug])
    assert client.get(url).status_code == 302
    response = admin_client.get(url)
    monitor = response.context["monitor"]
    assert (monitor.invited, monitor.consented, monitor.started, monitor.finished) == (3, 2, 2, 2)
    assert monitor.ratings == 6 and all(pair.ratings == 2 for pair in monitor.pairs)
    assert monitor.median_seconds is not None
    assert monitor.straight_liners == [straight.label]
    assert monitor.check_failures == {straight.label: (1, 1)}
    assert straight.label in response.content.decode()


def test_monitor_sides_count_ratings_not_assignments(admin_client):
    study, annotators = make_open_study(slug="sides", prompts=2, annotators=4)
    for annotator in annotators:
        services.give_consent(annotator=annotator)
    rater = annotators[0]
    rated = rater.assignments.order_by("order").first()
    services.submit_rating(annotator_id=rater.pk, assignment_id=rated.pk, scores={"left": 3, "right": 8})
    response = admin_client.get(reverse("annotations:monitor", args=[study.slug]))
    loads = {pair.prompt: pair for pair in response.context["monitor"].pairs}
    load = loads[rated.pair.prompt.text]
    assert (load.assigned, load.ratings) == (4, 1)
    assert (load.ours_left, load.ours_right) == ((1, 0) if rated.ours_on_left else (0, 1))
    other = next(pair for text, pair in loads.items() if text != rated.pair.prompt.text)
    assert (other.assigned, other.ratings, other.ours_left, other.ours_right) == (4, 0, 0, 0)
    html = response.content.decode()
    assert "<th>Assigned</th><th>Ratings</th><th>Rated with ours left</th><th>Rated with ours right</th>" in html


def test_invite_links_are_created_and_downloaded(admin_client):
    study = make_study(slug="inv", prompts=2)
    response = admin_client.post(reverse("admin:annotations_study_invites", args=[study.pk]), {"count": 3})
    assert response.status_code == 302 and study.annotators.count() == 3
    bad = admin_client.post(reverse("admin:annotations_study_invites", args=[study.pk]), {"count": 0})
    assert bad.status_code == 200 and study.annotators.count() == 3
    download = admin_client.get(reverse("admin:annotations_study_invites_csv", args=[study.pk]))
    assert download["Content-Disposition"] == 'attachment; filename="inv-invites.csv"'
    rows = list(csv.DictReader(io.StringIO(download.content.decode())))
    tokens = set(Annotator.objects.values_list("token", flat=True))
    assert len(rows) == 3 and {row["invite_url"].rstrip("/").rsplit("/", 1)[-1] for row in rows} == tokens
    assert all(row["invite_url"].startswith("http://testserver/a/") for row in rows)


@pytest.mark.parametrize("object_id", ["abc", "999999", "1.5", "%00"])
def test_invite_pages_of_an_id_that_names_no_study_are_404(admin_client, object_id):
    make_study(slug="inv", prompts=1)
    for suffix in ("invites/", "invites.csv"):
        assert admin_client.get(f"/admin/annotations/study/{object_id}/{suffix}").status_code == 404, suffix
    assert admin_client.post(f"/admin/annotations/study/{object_id}/invites/", {"count": 3}).status_code == 404
    assert not Annotator.objects.exists()


def test_study_page_links_the_researcher_pages(admin_client):
    study = make_study(slug="links", prompts=1)
    html = admin_client.get(reverse("admin:annotations_study_change", args=[study.pk])).content.decode()
    for name, args in (
        ("annotations:monitor", [study.slug]),
        ("annotations:preview", [study.slug]),
        ("admin:annotations_study_upload_prompts", [study.pk]),
        ("admin:annotations_study_invites", [study.pk]),
    ):
        assert reverse(name, args=args) in html
    assert study.enrolment_token in html


def test_staff_pages_refuse_non_staff(client):
    study = make_study(slug="s", prompts=1)
    user = get_user_model().objects.create_user("plain", password="pw-12345-long")
    plain = Client()
    plain.force_login(user)
    for url in (
        reverse("annotations:monitor", args=[study.slug]),
        reverse("annotations:preview", args=[study.slug]),
        reverse("admin:annotations_study_invites_csv", args=[study.pk]),
    ):
        assert plain.get(url).status_code == 302


def test_check_deploy_passes_with_production_settings(tmp_path):
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "x" * 20 + "-Production-Secret-Key-0123456789-abcdefghij",
        "ALLOWED_HOSTS": "eval.example.org",
        "EVALSITE_VAR_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    env = {**os.environ, "DEBUG": "0", "EVALSITE_VAR_DIR": str(tmp_path)}
    env.pop("SECRET_KEY", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0 and "SECRET_KEY must be set when DEBUG is off" in result.stderr
