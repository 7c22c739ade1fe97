"""check --deploy refuses a SECRET_KEY that is published or weak: it keys the image names and the sealed links."""

import secrets

import pytest
from django.core import checks

from generation.checks import DEVELOPMENT_KEY, check_secret_key, published_keys, secret_key_problem


def test_the_examples_keys_are_known_as_published():
    keys = published_keys()
    assert DEVELOPMENT_KEY in keys
    assert "change-me-to-50-random-characters-and-use-the-same-on-every-host" in keys


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("change-me-to-50-random-characters-and-use-the-same-on-every-host", "published example value"),
        (DEVELOPMENT_KEY, "published example value"),
        ("x" * 49, "has 49 characters; at least 50"),
        ("abab" * 20, "uses 2 distinct characters; at least 5"),
    ],
)
def test_published_short_and_repetitive_keys_are_refused(key, problem):
    assert problem in secret_key_problem(key)


def test_a_random_key_passes():
    assert secret_key_problem(secrets.token_urlsafe(50)) is None


def test_the_check_runs_with_deploy_checks_only_when_debug_is_off(settings):
    settings.SECRET_KEY = "short"
    settings.DEBUG = True
    assert check_secret_key() == []
    settings.DEBUG = False
    [error] = check_secret_key()
    assert error.id == "evalsite.E002" and error.level == checks.ERROR
    assert "tell the arms of every image apart" in error.msg and "token_urlsafe" in error.hint
    deploy = checks.run_checks(include_deployment_checks=True, tags=[checks.Tags.security])
    assert "evalsite.E002" in [message.id for message in deploy]
    assert "evalsite.E002" not in [message.id for message in checks.run_checks(tags=[checks.Tags.security])]
