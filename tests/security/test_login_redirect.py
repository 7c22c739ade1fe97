"""After signing in, ``next=`` leads only to this site, and no ``next`` lands on a page that exists."""

from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import reverse

from tests.factories import make_study

PASSWORD = "a-long-and-correct-password"
OFF_SITE = [
    "https://evil.example/",
    "http://evil.example/admin/",
    "//evil.example/",
    "///evil.example/",
    "/\\evil.example/",
    "\\\\evil.example/",
    "https:evil.example",
    "javascript:alert(1)",
    " https://evil.example/",
]

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_and_user():
    user = get_user_model().objects.create_superuser("ada", password=PASSWORD)
    return Client(), user


def sign_in(client: Client, **extra):
    return client.post(reverse("admin:login"), {"username": "ada", "password": PASSWORD, **extra})


@pytest.mark.parametrize("target", OFF_SITE)
def test_next_off_site_lands_on_the_admin_index(client_and_user, target):
    client, _ = client_and_user
    response = sign_in(client, next=target)
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:index")
    assert client.get(response["Location"]).status_code == 200


@pytest.mark.parametrize("target", OFF_SITE)
def test_next_off_site_in_the_login_pages_address_does_not_lead_off_site(client_and_user, target):
    """The login page carries ``next`` from its address into its form; the form's POST is checked again."""
    client, _ = client_and_user
    page = client.get(reverse("admin:login"), {"next": target})
    assert page.status_code == 200
    response = client.post(
        f"{reverse('admin:login')}?{urlencode({'next': target})}",
        {"username": "ada", "password": PASSWORD, "next": page.context["next"]},
    )
    assert response.status_code == 302 and response["Location"] == reverse("admin:index")


def test_signing_in_without_next_lands_on_a_page_that_exists(client_and_user):
    client, _ = client_and_user
    response = sign_in(client)
    assert response.status_code == 302 and response["Location"] == reverse("admin:index")
    assert client.get(response["Location"]).status_code == 200
    assert resolve_url(settings.LOGIN_REDIRECT_URL) == reverse("admin:index")


def test_next_on_this_site_is_followed(client_and_user):
    client, _ = client_and_user
    study = make_study(slug="s", prompts=1)
    monitor = reverse("annotations:monitor", args=[study.slug])
    response = sign_in(client, next=monitor)
    assert response.status_code == 302 and response["Location"] == monitor
    assert client.get(monitor).status_code == 200


def test_a_staff_page_sends_the_anonymous_to_the_login_with_a_local_next(client):
    study = make_study(slug="s", prompts=1)
    monitor = reverse("annotations:monitor", args=[study.slug])
    response = client.get(monitor)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('admin:login')}?next={monitor}"
