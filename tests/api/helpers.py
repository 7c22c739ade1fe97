"""Users, studies and requests for the API tests."""

from types import SimpleNamespace

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.test import Client

from annotations.models import Study
from api.services import create_token
from tests.analysis.test_exports import rate_all
from tests.factories import make_open_study


def make_users() -> SimpleNamespace:
    """ada and grace: researchers; viewer: staff who may only view studies; bare: staff without permissions."""
    model = get_user_model()
    researchers = Group.objects.get(name="Researcher")
    users = {
        name: model.objects.create_user(name, password="not-used-here", is_staff=True)
        for name in ("ada", "grace", "viewer", "bare")
    }
    for name in ("ada", "grace"):
        users[name].groups.add(researchers)
    users["viewer"].user_permissions.add(Permission.objects.get(codename="view_study"))
    return SimpleNamespace(**users)


def make_studies(users) -> SimpleNamespace:
    """ada's rated study "mine", grace's study "shared" (shared with ada and viewer) and grace's "theirs"."""
    mine, annotators = make_open_study(slug="mine", prompts=3, annotators=2, base_seed=40, steps=4)
    rate_all(mine, annotators)
    shared, _ = make_open_study(slug="shared", prompts=2, annotators=1)
    theirs, _ = make_open_study(slug="theirs", prompts=2, annotators=1)
    Study.objects.filter(pk=mine.pk).update(owner=users.ada)
    Study.objects.filter(pk__in=[shared.pk, theirs.pk]).update(owner=users.grace)
    shared.shared_with.add(users.ada, users.viewer)
    return SimpleNamespace(mine=mine, shared=shared, theirs=theirs)


def token_of(user) -> str:
    return create_token(user=user, name="tests")[1]


def get(path: str, token: str | None = None, **headers):
    if token is not None:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return Client().get(path, **headers)
