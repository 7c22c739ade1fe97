"""The protocol reports what made a study's images as its pair jobs recorded it, not the registry entry as now."""

import pytest

from analysis.protocol import study_protocol
from generation.models import DiffusionModel
from tests.factories import make_model, make_open_study, make_study

pytestmark = pytest.mark.django_db

MADE_WITH = ("model", "revision", "train_resolution")


def test_editing_the_registry_entry_does_not_rewrite_a_generated_studys_protocol():
    make_model("org/model", revision="rev1", train_width=64, train_height=64)
    study, _ = make_open_study(slug="gen", prompts=2, model="org/model")
    before = {key: study_protocol(study=study)[key] for key in MADE_WITH}
    assert before == {"model": "org/model", "revision": "rev1", "train_resolution": [64, 64]}
    DiffusionModel.objects.filter(pk=study.model_id).update(
        source="other/source", revision="abc123", train_width=512, train_height=256
    )
    study.refresh_from_db()
    assert {key: study_protocol(study=study)[key] for key in MADE_WITH} == before


def test_a_study_without_jobs_reports_its_registry_entry():
    make_model("org/draft", revision="r2", train_width=128, train_height=64)
    study = make_study(slug="draft", prompts=1, model="org/draft")
    protocol = study_protocol(study=study)
    assert {key: protocol[key] for key in MADE_WITH} == {
        "model": "org/draft",
        "revision": "r2",
        "train_resolution": [128, 64],
    }
    assert study_protocol(study=make_study(slug="none", prompts=1, model=None))["train_resolution"] is None
