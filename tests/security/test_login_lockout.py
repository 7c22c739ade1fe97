"""Admin sign-in throttling: a username is locked out from one address after too many failures in a row."""

import io
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import SESSION_KEY, get_user_model
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

ROOT = Path(__file__).resolve().parents[2]
LOGIN = "/admin/login/"
PASSWORD = "a-long-and-correct-password"
LIMIT = 3

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def failure_limit(settings):
    settings.AXES_FAILURE_LIMIT = LIMIT
    settings.AXES_COOLOFF_TIME = timedelta(minutes=30)
    return LIMIT


@pytest.fixture
def researcher():
    return get_user_model().objects.create_user("ada", password=PASSWORD, is_staff=True)


def sign_in(username: str, password: str, address: str = "203.0.113.7", client: Client | None = None):
    """One POST to the admin's login form, from ``address``."""
    client = client or Client()
    response = client.post(LOGIN, {"username": username, "password": password, "next": "/admin/"}, REMOTE_ADDR=address)
    response.signed_in = SESSION_KEY in client.session
    return response


def lock_out(username: str = "ada", address: str = "203.0.113.7"):
    """Fail until the lockout answers; returns that answer."""
    for _ in range(LIMIT - 1):
        response = sign_in(username, "wrong", address)
        assert response.status_code == 200 and not response.signed_in
    return sign_in(username, "wrong", address)


def test_the_limit_th_failure_locks_out_and_every_attempt_after_is_refused(researcher):
    response = lock_out()
    assert response.status_code == 429
    html = response.content.decode()
    assert "Too many failed sign-ins" in html
    assert "ada" in html and "30 minutes" in html
    for _ in range(20):  # nothing past the limit is tried against the password
        assert sign_in("ada", "wrong").status_code == 429


def test_the_correct_password_is_refused_while_locked_out(researcher):
    lock_out()
    response = sign_in("ada", PASSWORD)
    assert response.status_code == 429 and not response.signed_in


def test_other_addresses_and_other_users_are_not_locked_out(researcher):
    get_user_model().objects.create_user("grace", password=PASSWORD, is_staff=True)
    lock_out("ada", "203.0.113.7")
    other_address = sign_in("ada", PASSWORD, "198.51.100.9")
    assert other_address.status_code == 302 and other_address.signed_in
    other_user = sign_in("grace", PASSWORD, "203.0.113.7")
    assert other_user.status_code == 302 and other_user.signed_in


def test_failures_below_the_limit_are_forgotten_after_a_success(researcher):
    for _ in range(LIMIT - 1):
        sign_in("ada", "wrong")
    assert sign_in("ada", PASSWORD).signed_in
    for _ in range(LIMIT - 1):
        assert sign_in("ada", "wrong").status_code == 200
    assert sign_in("ada", PASSWORD).signed_in


def test_the_lockout_ends_after_the_cool_off(researcher):
    from axes.models import AccessAttempt

    lock_out()
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=31))
    assert sign_in("ada", PASSWORD).signed_in


def test_behind_a_proxy_the_address_it_saw_is_the_one_locked_out(researcher, settings):
    """With EVALSITE_TRUSTED_PROXIES=1 (nginx in front), the right-most X-Forwarded-For entry counts."""
    settings.EVALSITE_TRUSTED_PROXIES = 1
    client = Client()
    for _ in range(LIMIT):
        response = client.post(
            LOGIN, {"username": "ada", "password": "wrong"}, REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.7"
        )
    assert response.status_code == 429
    forged = Client().post(
        LOGIN,
        {"username": "ada", "password": PASSWORD},
        REMOTE_ADDR="127.0.0.1",
        HTTP_X_FORWARDED_FOR="10.9.9.9, 203.0.113.7",  # a client's own entry stands left and counts for nothing
    )
    assert forged.status_code == 429
    other = Client().post(
        LOGIN, {"username": "ada", "password": PASSWORD}, REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.9"
    )
    assert other.status_code == 302


def test_without_a_proxy_a_forwarded_header_is_ignored(researcher):
    for _ in range(LIMIT):
        Client().post(
            LOGIN, {"username": "ada", "password": "wrong"}, REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR="1.2.3.4"
        )
    assert sign_in("ada", PASSWORD, "203.0.113.7").status_code == 429
    assert sign_in("ada", PASSWORD, "1.2.3.4").signed_in


def test_an_administrator_with_the_permission_resets_a_lockout_in_the_admin(researcher):
    from axes.models import AccessAttempt

    lock_out()
    admin = get_user_model().objects.create_superuser("root", password="not-used-here")
    client = Client()
    client.force_login(admin)
    changelist = reverse("admin:axes_accessattempt_changelist")
    page = client.get(changelist)
    assert page.status_code == 200 and "203.0.113.7" in page.content.decode()
    attempt = AccessAttempt.objects.get(username="ada")
    response = client.post(
        changelist, {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"}, follow=True
    )
    assert response.status_code == 200 and not AccessAttempt.objects.exists()
    assert sign_in("ada", PASSWORD).signed_in


def test_staff_without_the_permission_cannot_see_or_reset_lockouts(researcher):
    lock_out()
    client = Client()
    client.force_login(researcher)
    assert client.get(reverse("admin:axes_accessattempt_changelist")).status_code == 403


def test_the_reset_commands_let_a_locked_out_user_in(researcher):
    lock_out()
    call_command("axes_reset_username", "ada", stdout=io.StringIO())
    assert sign_in("ada", PASSWORD).signed_in
    lock_out()
    call_command("axes_reset", stdout=io.StringIO())
    assert sign_in("ada", PASSWORD).signed_in


def test_force_login_and_the_admin_client_still_work(admin_client, researcher):
    assert admin_client.get("/admin/").status_code == 200
    client = Client()
    client.force_login(researcher)
    assert client.get("/admin/").status_code == 200


PRINT_SETTINGS = (
    "import django, json; django.setup(); from django.conf import settings as s; "
    "print(json.dumps([s.AXES_FAILURE_LIMIT, s.AXES_COOLOFF_TIME.total_seconds(), s.AXES_LOCKOUT_PARAMETERS]))"
)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, [5, 1800.0]),
        ({"EVALSITE_LOGIN_FAILURE_LIMIT": "10", "EVALSITE_LOGIN_COOLOFF_MINUTES": "90"}, [10, 5400.0]),
    ],
)
def test_the_limit_and_cool_off_come_from_the_environment(tmp_path, env, expected):
    environment = {key: value for key, value in os.environ.items() if not key.startswith("EVALSITE_LOGIN_")} | {
        "DJANGO_SETTINGS_MODULE": "evalsite.settings",
        "EVALSITE_VAR_DIR": str(tmp_path),
        **env,
    }
    result = subprocess.run(
        [sys.executable, "-c", PRINT_SETTINGS], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [*expected, [["username", "ip_address"]]]
