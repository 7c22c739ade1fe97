"""Annotators' image links: HEAD answers as GET does, without the body, and a link opens only while its study is
open, at the cost of one query."""

import pytest
from django.test import Client
from django.urls import reverse

from annotations import services
from annotations.models import Study
from tests.factories import image_link, make_open_study

pytestmark = pytest.mark.django_db


@pytest.fixture
def link():
    study, (annotator,) = make_open_study(slug="links", prompts=2, annotators=1)
    services.give_consent(annotator=annotator)
    return study, annotator, image_link(annotator, 0, "left")


def test_head_answers_like_get_without_a_body(link):
    study, annotator, url = link
    got, head = Client().get(url), Client().head(url)
    assert got.status_code == head.status_code == 200
    assert dict(head.headers) == dict(got.headers)
    assert head["Content-Length"] == str(len(got.content)) and head.content == b""
    assert got.content.startswith(b"\x89PNG")
    forged = reverse("annotations:image", kwargs={"token": annotator.token, "link": "A" * 40})
    assert Client().get(forged).status_code == Client().head(forged).status_code == 404


@pytest.mark.parametrize("status", [Study.Status.CLOSED, Study.Status.READY, Study.Status.GENERATING])
def test_a_link_opens_only_while_its_study_is_open(link, status, django_assert_max_num_queries):
    study, annotator, url = link
    with django_assert_max_num_queries(1):
        assert Client().get(url).status_code == 200
    if status == Study.Status.CLOSED:
        services.close_study(study=study)
    else:
        Study.objects.filter(pk=study.pk).update(status=status)
    with django_assert_max_num_queries(1):
        assert Client().get(url).status_code == 404
    assert Client().head(url).status_code == 404
    if status == Study.Status.CLOSED:
        services.open_study(study=study)  # reopened: the same link works again
        assert Client().get(url).status_code == 200


def test_an_open_answer_is_trusted_for_the_recheck_window_only(link, settings, monkeypatch, django_assert_num_queries):
    """Served at a few images a second per annotator, the study check is remembered for a few seconds in the process:
    within the window no query, after it the closed study's link stops working."""
    from annotations import image_links

    study, annotator, url = link
    settings.EVALSITE_IMAGE_LINK_RECHECK_SECONDS = 10
    clock = [1000.0]
    monkeypatch.setattr(image_links.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(image_links, "_seen_open", {})
    with django_assert_num_queries(1):
        assert Client().get(url).status_code == 200
    services.close_study(study=study)
    clock[0] += 9.9
    with django_assert_num_queries(0):
        assert Client().get(url).status_code == 200  # still within the window
    clock[0] += 0.2
    with django_assert_num_queries(1):
        assert Client().get(url).status_code == 404
    with django_assert_num_queries(1):
        assert Client().get(url).status_code == 404  # a "no" is never remembered
