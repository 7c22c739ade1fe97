"""The model registry's admin: an entry that pair jobs were made with keeps what made them."""

import pytest
from django.urls import reverse

from annotations import services
from generation.models import DiffusionModel
from tests.factories import make_model, make_study

pytestmark = pytest.mark.django_db

LOCKED = ("source", "family", "revision", "train_width", "train_height", "dtype")


def entry_form(model: DiffusionModel, **changes) -> dict:
    fields = {
        "name": model.name,
        "source": model.source,
        "family": model.family,
        "revision": model.revision,
        "train_width": model.train_width,
        "train_height": model.train_height,
        "dtype": model.dtype,
    }
    return {**fields, **changes}


def test_an_entry_used_by_pair_jobs_keeps_its_source_revision_family_size_and_dtype(admin_client):
    model = make_model("org/used", revision="rev1")
    services.queue_study_generation(study=make_study(slug="s", prompts=2, model="org/used"))
    url = reverse("admin:generation_diffusionmodel_change", args=[model.pk])
    page = admin_client.get(url)
    assert not set(LOCKED) & set(page.context["adminform"].form.fields)
    assert "2 pair jobs were made with org/used: its source, family, revision, training size and dtype are fixed" in (
        page.content.decode()
    )
    response = admin_client.post(
        url,
        entry_form(
            model,
            name="renamed",
            source="other/source",
            family="sdxl",
            revision="abc",
            train_width=512,
            train_height=512,
            dtype="float16",
        ),
    )
    assert response.status_code == 302
    model.refresh_from_db()
    assert model.name == "renamed"  # the name is only a label
    assert (model.source, model.family, model.revision, model.train_width, model.train_height, model.dtype) == (
        "org/used",
        "sd",
        "rev1",
        64,
        64,
        "",
    )


def test_an_unused_entry_stays_editable(admin_client, monkeypatch):
    import generation.registry

    checked = []
    monkeypatch.setattr(generation.registry, "check_model", checked.append)
    model = make_model("org/unused")
    url = reverse("admin:generation_diffusionmodel_change", args=[model.pk])
    assert set(LOCKED) <= set(admin_client.get(url).context["adminform"].form.fields)
    response = admin_client.post(url, entry_form(model, revision="abc", train_width=128))
    assert response.status_code == 302 and checked
    model.refresh_from_db()
    assert (model.revision, model.train_width) == ("abc", 128)
