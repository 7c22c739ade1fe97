"""Finishers are sent to the study's completion URL with their completion code: it must be https. A javascript: or
data: URL would run in or replace the site's page, and plain http sends the code in clear; http is allowed only for
this machine while DEBUG is on (local development). ``check_study_settings`` holds the rule, for create_study and
the admin's study form alike.
"""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from annotations import services
from annotations.models import Study
from tests.annotations.test_staff_pages import change_form
from tests.factories import make_model, make_study

pytestmark = pytest.mark.django_db

PROLIFIC = "https://app.prolific.com/submissions/complete"


def create(url: str) -> Study:
    return services.create_study(slug="s", title="T", prompts=["a cat"], completion_url=url)


@pytest.mark.parametrize(
    "url, message",
    [
        ("javascript:alert(1)", "has javascript:; it must be an https:// address (such as Prolific's)"),
        ("JavaScript:alert(document.cookie)", "has javascript:; it must be an https:// address"),
        ("data:text/html,<script>alert(1)</script>", "has data:; it must be an https:// address"),
        ("ftp://files.example.org/done", "has ftp:; it must be an https:// address"),
        ("app.prolific.com/submissions/complete", "has no scheme; it must be an https:// address"),
        ("http://app.prolific.com/submissions/complete", "uses plain http: use https"),
        ("https:///complete", "names no host"),
        ("http://[::1", "is not a URL"),
    ],
)
def test_create_study_refuses_a_completion_url_that_is_not_https_and_writes_nothing(url, message):
    with pytest.raises(ValidationError) as info:
        create(url)
    (found,) = info.value.message_dict["completion_url"]
    assert found.startswith(f"The completion URL {url!r} ") and message in found, found
    assert not Study.objects.exists()


def test_https_is_accepted():
    assert create(PROLIFIC + "?x=1").completion_url == PROLIFIC + "?x=1"


@pytest.mark.parametrize("url", ["http://localhost:8000/done", "http://127.0.0.1/done", "http://[::1]:8000/done"])
def test_http_to_this_machine_only_while_debug_is_on(settings, url):
    settings.DEBUG = False
    with pytest.raises(ValidationError) as info:
        create(url)
    assert info.value.message_dict["completion_url"] == [
        f"The completion URL {url!r} uses plain http: http is allowed only for localhost while DEBUG is on."
    ]
    settings.DEBUG = True
    assert create(url).completion_url == url


@pytest.mark.parametrize(
    "url, message",
    [
        ("javascript:alert(1)", "The completion URL 'javascript:alert(1)' has javascript:; it must be an https://"),
        ("http://evil.example/", "The completion URL 'http://evil.example/' uses plain http: use https"),
    ],
)
def test_the_study_form_names_the_problem_and_saves_nothing(admin_client, url, message):
    data = change_form(Study(slug="new", title="New"), model=make_model("unused").pk, completion_url=url)
    response = admin_client.post(reverse("admin:annotations_study_add"), data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["completion_url"]
    assert any(error.startswith(message) for error in errors), errors
    assert not Study.objects.filter(slug="new").exists()


def test_editing_a_study_refuses_a_new_bad_url_and_keeps_the_stored_one(admin_client):
    study = make_study(slug="s", completion_url=PROLIFIC)
    url = reverse("admin:annotations_study_change", args=[study.pk])
    response = admin_client.post(url, change_form(study, completion_url="javascript:alert(1)"))
    assert response.status_code == 200
    assert Study.objects.get(pk=study.pk).completion_url == PROLIFIC
    assert admin_client.post(url, change_form(study, completion_url=PROLIFIC + "?cc=x")).status_code == 302
    assert Study.objects.get(pk=study.pk).completion_url == PROLIFIC + "?cc=x"
