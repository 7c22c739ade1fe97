"""Blinding and access between annotators: nothing an annotator sees names the arm, and no token, link or form
reaches another annotator's pairs or images (moved here beside the other security reproductions)."""

import io
import re

import pytest
from django.test import Client
from django.urls import reverse
from PIL import Image

from annotations import services
from annotations.models import Annotator, Assignment
from tests.annotations.test_views import consent, current, post_as_script, url
from tests.factories import image_link, make_open_study, pair_ratings

pytestmark = pytest.mark.django_db


def test_unknown_token_is_404(client):
    make_open_study(slug="s")
    token = "x" * 43
    for path in (
        reverse("annotations:invite", kwargs={"token": token}),
        reverse("annotations:rate", kwargs={"token": token}),
        reverse("annotations:done", kwargs={"token": token}),
        reverse("annotations:image", kwargs={"token": token, "link": "A" * 88}),
    ):
        assert client.get(path).status_code == 404, path
    assert client.post(reverse("annotations:invite", kwargs={"token": token}), {"consent": "yes"}).status_code == 404


def test_post_for_another_annotators_assignment_is_404(client):
    _, (annotator, other) = make_open_study(slug="s")
    services.give_consent(annotator=annotator)
    services.give_consent(annotator=other)
    theirs = current(other)
    for assignment_id in (theirs.pk, "not-a-number", "", "1" + "0" * 25, "-3"):
        response = client.post(url("rate", annotator), {"assignment": assignment_id, "left": "5", "right": "5"})
        assert response.status_code == 404
        data = {"assignment": assignment_id, "left": "5", "right": "5"}
        assert client.post(url("rate", annotator), data, HTTP_ACCEPT="application/json").status_code == 404
    assert pair_ratings().count() == 0
    assert Assignment.objects.get(pk=theirs.pk).shown_at is None


def grey(data: bytes) -> int:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    red, green, blue = image.convert("RGB").getpixel((image.width // 2, image.height // 2))
    assert red == green == blue
    return red


def test_images_follow_the_stored_sides(client):
    _, (annotator, _) = make_open_study(slug="s", prompts=4)
    consent(client, annotator)
    assignments = list(annotator.assignments.order_by("order"))
    assert {a.ours_on_left for a in assignments} == {True, False}
    for assignment in assignments:
        shades = {}
        for side in ("left", "right"):
            response = client.get(image_link(annotator, assignment.order, side))
            assert response.status_code == 200
            assert response["Content-Type"] == "image/png"
            assert response.content.startswith(b"\x89PNG\r\n\x1a\n")
            shades[side] = grey(response.content)
        ours, baseline = 215, 40
        expected = {"left": ours, "right": baseline} if assignment.ours_on_left else {"left": baseline, "right": ours}
        assert shades == expected, assignment.order


def test_altered_or_made_up_image_links_are_404(client):
    _, (annotator, _) = make_open_study(slug="s")
    consent(client, annotator)
    link = image_link(annotator, 0, "left")
    head, sealed = link.rsplit("/", 1)
    sealed = sealed.removesuffix(".png")
    flipped = sealed[:10] + ("B" if sealed[10] != "B" else "C") + sealed[11:]
    for bad in (flipped, sealed[:-4], sealed + "AAAA", "x", "A" * 88, "%2F..%2F..%2Fsettings"):
        assert client.get(f"{head}/{bad}.png").status_code == 404, bad
    assert client.get(link).status_code == 200


def test_another_annotators_images_are_404(client):
    _, (annotator, other) = make_open_study(slug="s")
    services.give_consent(annotator=annotator)
    services.give_consent(annotator=other)
    theirs = image_link(other, 0, "left")
    assert client.get(theirs).status_code == 200
    # Their link under this annotator's token opens nothing: a link opens only under the token it was made for.
    assert client.get(theirs.replace(other.token, annotator.token)).status_code == 404


def test_nothing_the_annotator_sees_names_the_arm(client):
    _, (annotator, _) = make_open_study(slug="s", prompts=2)
    consent(client, annotator)
    response = client.get(url("rate", annotator))
    html = response.content.decode()
    job = current(annotator).pair.job
    secrets = ["baseline", job.baseline_image, job.ours_image]
    secrets += [name.rsplit("/", 1)[-1].removesuffix(".png") for name in (job.baseline_image, job.ours_image)]
    for secret in secrets:
        assert secret.lower() not in html.lower(), secret
    assert not re.search(r"\bours\b", html, re.IGNORECASE)
    image_urls = re.findall(r'<img src="([^"]+)"', html)
    assert len(image_urls) == 2
    for image_url in image_urls:
        assert not re.search(r"baseline|ours|\bjob", image_url, re.IGNORECASE)
        assert re.fullmatch(rf"/a/{re.escape(annotator.token)}/image/[A-Za-z0-9_-]{{40,}}\.png", image_url)
        image_response = client.get(image_url)
        assert image_response.status_code == 200
        headers = " ".join(f"{key}: {value}" for key, value in image_response.items()).lower()
        for secret in secrets:
            assert secret.lower() not in headers, secret
        assert not re.search(r"\bours\b", headers)
        assert "content-disposition" not in headers
    # The script's answer with the next pair tells no more than the page.
    answer = post_as_script(client, annotator, current(annotator), "5", "5").content.decode()
    job = current(annotator).pair.job
    for secret in ["baseline", job.baseline_image, job.ours_image, *secrets[1:]]:
        assert secret.lower() not in answer.lower(), secret
    assert not re.search(r"\bours\b", answer, re.IGNORECASE) and '"pair"' in answer


def csrf_token(client: Client, path: str) -> str:
    response = client.get(path)
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.content.decode())
    assert match, "no CSRF token in the form"
    return match.group(1)


def test_csrf_is_enforced():
    _, (annotator, _) = make_open_study(slug="s")
    client = Client(enforce_csrf_checks=True)
    assert client.post(url("invite", annotator), {"consent": "yes"}).status_code == 403
    assert Annotator.objects.get(pk=annotator.pk).consented_at is None

    token = csrf_token(client, url("invite", annotator))
    response = client.post(url("invite", annotator), {"consent": "yes", "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assignment = current(annotator)

    response = client.post(url("rate", annotator), {"assignment": assignment.pk, "left": "5", "right": "6"})
    assert response.status_code == 403
    assert pair_ratings().count() == 0

    token = csrf_token(client, url("rate", annotator))
    data = {"assignment": assignment.pk, "left": "5", "right": "6", "csrfmiddlewaretoken": token}
    assert client.post(url("rate", annotator), data).status_code == 302
    assert pair_ratings().count() == 1


@pytest.mark.parametrize("token", ["%00", "a%00b", "x%2Fy", "%E2%98%83", "x" * 65])
def test_a_token_no_token_can_be_is_404_on_every_page(client, token):
    """A NUL would reach PostgreSQL as a string it cannot take (a 500): refused before any query."""
    make_open_study(slug="s")
    for path in (
        f"/a/{token}/",
        f"/a/{token}/rate/",
        f"/a/{token}/done/",
        f"/a/{token}/example/low/",
        f"/a/{token}/image/{'A' * 88}.png",
    ):
        assert client.get(path).status_code == 404, path
    assert client.post(f"/a/{token}/", {"consent": "yes"}).status_code == 404
    data = {"assignment": "1", "left": "1", "right": "2"}
    assert client.post(f"/a/{token}/rate/", data).status_code == 404
    assert client.post(f"/a/{token}/rate/", data, HTTP_ACCEPT="application/json").status_code == 404
    assert pair_ratings().count() == 0 and Assignment.objects.count() == 0


def test_token_lookups_answer_none_for_text_no_token_can_be():
    from annotations import selectors, sequence

    make_open_study(slug="s")
    for text in ("\x00", "a\x00b", "", "x" * 65, "a b"):
        assert selectors.annotator_by_token(text) is None
        assert selectors.study_by_enrolment_token(text) is None
        assert sequence.rater(text) is None
