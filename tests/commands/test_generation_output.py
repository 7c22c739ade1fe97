"""attention_entropy and evaluate_metrics (tiny models, the Celery task in-process) honour --verbosity and show their
bars when forced."""

import io

import pytest
from django.core.management import call_command

from metrics.references import sample_reference
from tests.factories import make_study
from tests.metrics.conftest import metrics_settings, tiny_clip, write_folder  # noqa: F401 (fixtures, by name)
from tests.metrics.test_evaluate import eager  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def run(*args, **options) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def test_attention_entropy(tiny_model, tmp_path):
    args = ("attention_entropy", "--model", tiny_model, "--sizes", "64", "--steps", "1", "--prompts", "A fox")
    assert run(*args, "--out", str(tmp_path / "quiet"), "--progress", "on", verbosity=0) == ("", "")
    assert (tmp_path / "quiet" / "attention_entropy.csv").exists()
    out, err = run(*args, "--out", str(tmp_path / "loud"), "--progress", "on")
    assert "attention entropy: 100%" in err and "2/2" in err
    assert out.count("Wrote ") == 2


def test_evaluate_metrics(tiny_model, tmp_path, eager):  # noqa: F811
    study = make_study(slug="laion", model=tiny_model, width=64, height=64, steps=2, base_seed=100)
    sample_reference(source=write_folder(tmp_path / "laion", count=3), n=3, seed=0, name="laion-3")
    args = ("evaluate_metrics", study.slug, "--reference", "laion-3", "--poll", "0.05")
    assert run(*args, verbosity=0, progress="on") == ("", "")
    out, err = run(*args, "--progress", "on")  # resumed: everything is done, the results printed again
    assert "reference images: 100%" in err and "generated pairs: 100%" in err
    assert "FID" in out and "CLIP score" in out
