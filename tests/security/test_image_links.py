"""Annotators' image links: HEAD answers as GET does, without the body."""

import pytest
from django.test import Client
from django.urls import reverse

from annotations import services
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
