"""API tokens: made from the admin by a staff user for themselves (shown once, only a digest stored) or with
create_api_token; each user sees and revokes their own."""

import io
import re

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from api.models import ApiToken
from api.services import TOKEN_PREFIX, digest_of
from tests.api.helpers import get, make_studies, make_users, token_of

pytestmark = pytest.mark.django_db

TOKEN = re.compile(re.escape(TOKEN_PREFIX) + r"[A-Za-z0-9_-]{43}")


@pytest.fixture
def users():
    return make_users()


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_staff_user_makes_a_token_in_the_admin_and_sees_it_once(users):
    make_studies(users)
    client = signed_in(users.ada)
    response = client.post("/admin/api/apitoken/add/", {"name": "notebook"})
    assert response.status_code == 200
    (token,) = set(TOKEN.findall(response.content.decode()))
    row = ApiToken.objects.get()
    assert (row.user, row.name, row.digest, row.prefix) == (users.ada, "notebook", digest_of(token), token[:12])
    assert token not in {row.digest, row.prefix}  # only its digest is kept
    assert get("/api/studies", token).status_code == 200
    for path in ("/admin/api/apitoken/", f"/admin/api/apitoken/{row.pk}/change/"):
        page = client.get(path)
        assert page.status_code == 200 and token not in page.content.decode()


def test_a_user_without_study_permissions_may_still_make_their_own_token(users):
    client = signed_in(users.bare)
    assert client.get("/admin/api/apitoken/add/").status_code == 200
    client.post("/admin/api/apitoken/add/", {"name": "mine"})
    assert ApiToken.objects.get().user == users.bare


def test_each_user_sees_and_revokes_only_their_own_tokens(users):
    token_of(users.ada)
    theirs = ApiToken.objects.get(user=users.ada)
    token_of(users.grace)
    own = ApiToken.objects.get(user=users.grace)
    client = signed_in(users.grace)
    listed = client.get("/admin/api/apitoken/").context["cl"].result_list
    assert list(listed) == [own]
    assert client.get(f"/admin/api/apitoken/{theirs.pk}/change/").status_code == 302  # "does not exist"
    client.post("/admin/api/apitoken/", {"action": "revoke", "_selected_action": [own.pk, theirs.pk]})
    own.refresh_from_db()
    theirs.refresh_from_db()
    assert own.revoked_at is not None and theirs.revoked_at is None


def test_the_revoke_action_stops_a_token(users):
    token = token_of(users.ada)
    assert get("/api/studies", token).status_code == 200
    row = ApiToken.objects.get()
    signed_in(users.ada).post("/admin/api/apitoken/", {"action": "revoke", "_selected_action": [row.pk]})
    assert get("/api/studies", token).status_code == 401


def test_create_api_token_prints_a_working_token_once(users):
    out = io.StringIO()
    call_command("create_api_token", "ada", "--name", "cluster", stdout=out)
    (token,) = TOKEN.findall(out.getvalue())
    row = ApiToken.objects.get()
    assert (row.user, row.name, row.digest) == (users.ada, "cluster", digest_of(token))
    assert get("/api/studies", token).status_code == 200
    quiet = io.StringIO()
    call_command("create_api_token", "ada", verbosity=0, stdout=quiet)
    assert TOKEN.fullmatch(quiet.getvalue().strip())


def test_create_api_token_names_what_was_wrong(users):
    with pytest.raises(CommandError, match="There is no user 'nobody'"):
        call_command("create_api_token", "nobody")
    users.bare.is_staff = False
    users.bare.save()
    with pytest.raises(CommandError, match="'bare' is not an active staff user"):
        call_command("create_api_token", "bare")
    with pytest.raises(CommandError, match="name"):
        call_command("create_api_token", "ada", "--name", "  ")
    assert not ApiToken.objects.exists()
