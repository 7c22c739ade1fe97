"""Open enrolment, Prolific entry and exit, attention checks and screening out, examples and preloading."""

import io
import re
from collections import Counter
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from annotations import services
from annotations.models import Annotator, CheckResponse, Study
from annotations.selectors import attention_check_results, tidy_rows
from tests.factories import image_link, make_open_study, pair_ratings, shown_images

pytestmark = pytest.mark.django_db


def url(name: str, annotator: Annotator, **kwargs) -> str:
    return reverse(f"annotations:{name}", kwargs={"token": annotator.token, **kwargs})


def prolific_url(study: Study, **params) -> str:
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return reverse("annotations:prolific", kwargs={"enrolment_token": study.enrolment_token}) + "?" + query


def answer_all(client, annotator: Annotator, left: int = 7, right: int = 3) -> None:
    for _ in range(annotator.assignments.count()):
        page = client.get(url("rate", annotator))
        if page.status_code != 200:
            return
        assignment = page.context["pair"]["assignment"]
        client.post(url("rate", annotator), {"assignment": assignment, "left": left, "right": right})


def test_prolific_entry_creates_resumes_and_redirects_with_the_code(client):
    study, _ = make_open_study(
        slug="p",
        prompts=2,
        annotators=1,
        enrolment_open=True,
        completion_url="https://app.prolific.com/submissions/complete?x=1",
        completion_code="C1234ABC",
    )
    response = client.get(prolific_url(study, PROLIFIC_PID="pid1", STUDY_ID="st", SESSION_ID="se1"))
    annotator = Annotator.objects.get(external_id="pid1")
    assert response.status_code == 302 and response["Location"] == url("invite", annotator)
    assert annotator.source == "prolific" and annotator.entry == {
        "PROLIFIC_PID": "pid1",
        "STUDY_ID": "st",
        "SESSION_ID": "se1",
    }
    client.post(url("invite", annotator), {"consent": "yes"})
    again = client.get(prolific_url(study, PROLIFIC_PID="pid1", STUDY_ID="st", SESSION_ID="se2"))
    assert again["Location"] == url("invite", annotator) and Annotator.objects.filter(external_id="pid1").count() == 1
    annotator.refresh_from_db()
    assert annotator.entry == {
        "PROLIFIC_PID": "pid1",
        "STUDY_ID": "st",
        "SESSION_ID": "se2",
        "earlier_session_ids": ["se1"],
    }
    client.get(prolific_url(study, PROLIFIC_PID="pid1", STUDY_ID="st", SESSION_ID="se2"))  # the same attempt
    client.get(prolific_url(study, PROLIFIC_PID="pid1", STUDY_ID="st", SESSION_ID="se3"))
    annotator.refresh_from_db()
    assert annotator.entry["SESSION_ID"] == "se3" and annotator.entry["earlier_session_ids"] == ["se1", "se2"]
    answer_all(client, annotator)
    done = client.get(url("done", annotator))
    target = urlsplit(done["Location"])
    assert done.status_code == 302 and target.netloc == "app.prolific.com"
    assert parse_qs(target.query) == {"x": ["1"], "cc": ["C1234ABC"]}
    assert Annotator.objects.get(pk=annotator.pk).completion_code == "C1234ABC"


def test_prolific_link_without_ids_is_refused_clearly(client):
    study, _ = make_open_study(slug="p", prompts=2, annotators=1, enrolment_open=True)
    response = client.get(prolific_url(study, PROLIFIC_PID="pid1"))
    assert response.status_code == 400 and "lacks STUDY_ID, SESSION_ID" in response.content.decode()
    assert not Annotator.objects.filter(source="prolific").exists()


def test_open_enrolment_remembers_the_annotator_and_enforces_the_cap(client):
    study, _ = make_open_study(slug="j", prompts=2, annotators=1, enrolment_open=True, enrolment_cap=1)
    join = reverse("annotations:join", kwargs={"enrolment_token": study.enrolment_token})
    assert "Join the study" in client.get(join).content.decode()
    assert Annotator.objects.filter(source="open").count() == 0
    first = client.post(join)
    annotator = Annotator.objects.get(source="open")
    assert first["Location"] == url("invite", annotator)
    assert client.get(join)["Location"] == url("invite", annotator)  # same browser: same annotator
    other = client.__class__().post(join)
    assert other.status_code == 403 and "all the participants it needs" in other.content.decode()
    assert Annotator.objects.filter(source="open").count() == 1


def test_a_join_form_posted_twice_makes_one_annotator(client):
    """Two posts of one form (a double click, the second before the session cookie is back) are one join; another
    form is another annotator, and a forged attempt value is no attempt at all."""
    study, _ = make_open_study(slug="twice", prompts=2, annotators=1, enrolment_open=True, enrolment_cap=3)
    join = reverse("annotations:join", kwargs={"enrolment_token": study.enrolment_token})
    attempt = re.search(r'name="attempt" value="([^"]+)"', client.get(join).content.decode()).group(1)
    first = client.__class__().post(join, {"attempt": attempt})
    second = client.__class__().post(join, {"attempt": attempt})
    annotator = Annotator.objects.get(source="open")
    assert first["Location"] == second["Location"] == url("invite", annotator)
    assert attempt not in annotator.external_id and annotator.external_id.startswith("open-")
    client.__class__().post(join, {"attempt": "short"})
    assert Annotator.objects.filter(source="open").count() == 2
    again = re.search(r'name="attempt" value="([^"]+)"', client.get(join).content.decode()).group(1)
    assert again != attempt


def test_unknown_enrolment_token_is_404(client):
    assert client.get(reverse("annotations:join", kwargs={"enrolment_token": "nope"})).status_code == 404
    assert client.get(reverse("annotations:prolific", kwargs={"enrolment_token": "nope"})).status_code == 404


def test_attention_check_shows_another_prompts_image_and_is_scored_apart(client):
    study, (annotator,) = make_open_study(slug="c", prompts=3, annotators=1, attention_checks=1)
    client.post(url("invite", annotator), {"consent": "yes"})
    check = annotator.assignments.get(check_pair__isnull=False)
    mismatched_side = "left" if check.ours_on_left else "right"
    matching_side = "right" if check.ours_on_left else "left"
    # the factory paints every image of an arm alike, so compare storage names instead of pixels
    image = f"{check.check_arm}_image"
    assert shown_images(check)[mismatched_side] == getattr(check.check_pair.job, f"{check.check_other_arm}_image")
    assert shown_images(check)[matching_side] == getattr(check.pair.job, image)
    assert client.get(image_link(annotator, check.order, mismatched_side)).status_code == 200
    # The matching image is also shown in its own pair's rating, under a link of its own: links do not tell that
    # two places show the same image.
    rated = annotator.assignments.get(pair=check.pair, check_pair__isnull=True)
    same_side = [side for side, name in shown_images(rated).items() if name == getattr(check.pair.job, image)]
    assert len(same_side) == 1
    assert image_link(annotator, rated.order, same_side[0]) != image_link(annotator, check.order, matching_side)
    scores = {mismatched_side: 2, matching_side: 9}
    client.post(url("rate", annotator), {"assignment": check.pk, **scores})
    response = CheckResponse.objects.get(assignment=check)
    assert (response.matching_score, response.mismatched_score, response.passed) == (9, 2, True)
    assert not pair_ratings().filter(assignment=check).exists()
    answer_all(client, annotator)
    annotator.refresh_from_db()
    assert annotator.finished_at and annotator.completion_code
    assert len(list(tidy_rows(study=study))) == 2 * 3  # the check is not a rating
    assert attention_check_results(study=study) == {annotator.label: (0, 1)}


def test_a_checks_images_come_from_arms_drawn_at_random():
    """An image an annotator rates may come back in a check; were checks always of one arm, the image seen twice
    would tell the arm of its pair. Each image of a check has its arm drawn apart."""
    study, annotators = make_open_study(slug="arms", prompts=3, annotators=30, attention_checks=2)
    arms = Counter()
    for annotator in annotators:
        services.give_consent(annotator=annotator)
        for check in annotator.assignments.filter(check_pair__isnull=False).select_related(
            "pair__job", "check_pair__job"
        ):
            arms[check.check_arm] += 1
            arms[check.check_other_arm] += 1
            assert set(shown_images(check).values()) == {
                getattr(check.pair.job, f"{check.check_arm}_image"),
                getattr(check.check_pair.job, f"{check.check_other_arm}_image"),
            }
    assert set(arms) == {"baseline", "ours"} and sum(arms.values()) == 120
    assert min(arms.values()) > 30  # 120 fair draws: fewer than 31 of one arm has a chance below 1 in 10**7


def test_failed_check_screens_out_without_a_code(client):
    study, (annotator,) = make_open_study(slug="f", prompts=3, annotators=1, attention_checks=1, screen_out_after=1)
    client.post(url("invite", annotator), {"consent": "yes"})
    check = annotator.assignments.get(check_pair__isnull=False)
    mismatched_side = "left" if check.ours_on_left else "right"
    matching_side = "right" if check.ours_on_left else "left"
    response = client.post(url("rate", annotator), {"assignment": check.pk, mismatched_side: 9, matching_side: 2})
    assert response.status_code == 302
    page = client.get(url("rate", annotator))
    assert page.status_code == 200 and "quality checks" in page.content.decode()
    annotator.refresh_from_db()
    assert annotator.screened_out_at and not annotator.finished_at and annotator.completion_code == ""
    assert "completion-code" not in client.get(url("done", annotator)).content.decode()
    assert attention_check_results(study=study) == {annotator.label: (1, 1)}


def test_examples_are_shown_on_the_consent_page(client):
    study, (annotator,) = make_open_study(slug="x", prompts=2, annotators=1)
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 200, 30)).save(buffer, format="PNG")
    study.example_prompt = "A green square"
    study.example_high_image = SimpleUploadedFile("high.png", buffer.getvalue(), content_type="image/png")
    study.save()
    html = client.get(url("invite", annotator)).content.decode()
    assert "A green square" in html and url("example", annotator, end="high") in html
    assert url("example", annotator, end="low") not in html
    image = client.get(url("example", annotator, end="high"))
    assert image.status_code == 200 and image["Content-Type"] == "image/png" and image.content == buffer.getvalue()
    assert client.get(url("example", annotator, end="low")).status_code == 404


def test_rate_page_preloads_the_next_pair(client):
    _, (annotator,) = make_open_study(slug="n", prompts=3, annotators=1)
    client.post(url("invite", annotator), {"consent": "yes"})
    html = client.get(url("rate", annotator)).content.decode()
    assert f'rel="preload" as="image" href="{image_link(annotator, 1, "left")}"' in html
    assert f'href="{image_link(annotator, 1, "right")}"' in html
    reloaded = client.get(url("rate", annotator)).content.decode()
    links = re.compile(r'(?:src|href)="(/a/[^"]+\.png)"')
    assert links.findall(reloaded) == links.findall(html) and len(links.findall(html)) == 4  # the same links again


def test_enrolment_tokens_no_token_can_be_are_404(client):
    make_open_study(slug="j", prompts=2, annotators=1, enrolment_open=True)
    for token in ("%00", "a%00b", "x" * 65):
        assert client.get(f"/join/{token}/").status_code == 404
        assert client.post(f"/join/{token}/").status_code == 404
        assert client.get(f"/prolific/{token}/?PROLIFIC_PID=p&STUDY_ID=s&SESSION_ID=x").status_code == 404
    assert not Annotator.objects.exclude(source="invite").exists()


@pytest.mark.parametrize("field", ["PROLIFIC_PID", "STUDY_ID", "SESSION_ID"])
@pytest.mark.parametrize("value", ["a%00b", "a%0Ab", "a%07"])
def test_prolific_ids_with_a_nul_or_control_character_are_refused_naming_the_field(client, field, value):
    study, _ = make_open_study(slug="p", prompts=2, annotators=1, enrolment_open=True)
    params = {"PROLIFIC_PID": "pid1", "STUDY_ID": "st", "SESSION_ID": "se1", field: value}
    response = client.get(prolific_url(study, **params))
    assert response.status_code == 400
    html = response.content.decode()
    assert f"{field} holds a character no Prolific id has" in html
    assert not Annotator.objects.filter(source="prolific").exists()
