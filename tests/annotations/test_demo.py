"""``seed_demo``, the set-up step of ``make run``: once, and never twice."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from annotations.models import Annotator, Prompt, Study
from generation.models import DiffusionModel, PairJob

pytestmark = pytest.mark.django_db


def test_seed_demo_creates_the_study_once(settings, tiny_model, tmp_path, capsys, monkeypatch):
    settings.EVALSITE_MODEL = tiny_model
    settings.VAR_DIR = tmp_path
    monkeypatch.delenv("DJANGO_SUPERUSER_PASSWORD", raising=False)
    call_command("seed_demo", "--base-url", "http://example.test")
    first = capsys.readouterr().out
    study = Study.objects.get(slug="demo")
    assert study.status == Study.Status.GENERATING and study.open_when_ready
    assert study.prompts.count() == 50 and PairJob.objects.count() == 50
    assert study.model.source == tiny_model and study.model.family == "sd"
    links = [line.strip() for line in first.splitlines() if line.strip().startswith("http://example.test/a/")]
    assert len(links) == 5 and all(Annotator.objects.filter(token=link.split("/")[-2]).exists() for link in links)
    password = (tmp_path / "admin-password.txt").read_text().strip()
    assert f"password {password}" in first
    assert get_user_model().objects.get(username="admin").check_password(password)

    call_command("seed_demo", "--base-url", "http://example.test")
    second = capsys.readouterr().out
    assert "already there" in second and f"password {password}" in second
    assert (Study.objects.count(), Prompt.objects.count(), PairJob.objects.count()) == (1, 50, 50)
    assert (Annotator.objects.count(), DiffusionModel.objects.count()) == (5, 1)
    assert get_user_model().objects.count() == 1
    assert "Note:" not in second

    call_command("seed_demo", "--base-url", "http://example.test", "--size", "256", "--steps", "50")
    third = capsys.readouterr().out
    assert "Note: the demo study was made at 128×128, 20 steps, with " + tiny_model in third
    assert "--size, --steps and EVALSITE_MODEL apply when it is created" in third
    assert Study.objects.values_list("width", "steps").get() == (128, 20)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--size", "100"], "--size 100: Width and height must be multiples of 8 between 8 and 4096."),
        (["--size", "0"], "--size 0: Width and height must be multiples of 8 between 8 and 4096."),
        (["--steps", "0"], "--steps 0: Steps must be between 1 and 1000."),
    ],
)
def test_seed_demo_refuses_a_bad_size_before_writing_anything(settings, tmp_path, monkeypatch, args, expected):
    settings.EVALSITE_MODEL = str(tmp_path / "never-read")
    settings.VAR_DIR = tmp_path
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "pw-123456-long")
    with pytest.raises(CommandError) as info:
        call_command("seed_demo", *args)
    assert str(info.value) == f"Nothing was set up: {expected}"
    assert get_user_model().objects.count() == 0
    assert (Study.objects.count(), DiffusionModel.objects.count(), PairJob.objects.count()) == (0, 0, 0)
    assert list(tmp_path.iterdir()) == []


def test_seed_demo_refuses_a_size_the_model_family_cannot_take(settings, tmp_path, monkeypatch):
    """The demo study is made through ``create_study``, which keeps the model family's rules."""
    from annotations.management.commands import seed_demo
    from tests.factories import make_model

    settings.EVALSITE_MODEL = "tiny/pixart"
    settings.VAR_DIR = tmp_path
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "pw-123456-long")
    monkeypatch.setattr(seed_demo, "ensure_registered", lambda source: make_model(source, family="pixart"))
    with pytest.raises(CommandError) as info:
        call_command("seed_demo", "--size", "120")
    assert str(info.value) == (
        "The demo study was not created: tiny/pixart: A PixArt-α model needs a width that is a multiple of 16 "
        "pixels. tiny/pixart: A PixArt-α model needs a height that is a multiple of 16 pixels."
    )
    assert (Study.objects.count(), PairJob.objects.count(), get_user_model().objects.count()) == (0, 0, 0)
