"""The model registry reads a model's configs, infers family and training size, and refuses bad entries."""

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse

from generation.models import DiffusionModel
from generation.registry import ensure_registered, inspect_model, register_model
from generation.tiny import save_tiny_pipeline

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def ldm_model(tmp_path_factory) -> str:
    return str(save_tiny_pipeline(tmp_path_factory.mktemp("ldm") / "model", family="ldm"))


def test_inspect_reads_family_and_training_size(tiny_model, ldm_model, tmp_path):
    sd = inspect_model(tiny_model)
    assert (sd.family, sd.pipeline, sd.train_width, sd.train_height) == ("sd", "StableDiffusionPipeline", 64, 64)
    assert inspect_model(ldm_model).family == "ldm"
    pixart = inspect_model(str(save_tiny_pipeline(tmp_path / "pixart", family="pixart")))
    assert (pixart.family, pixart.pipeline, pixart.train_width, pixart.train_height) == (
        "pixart",
        "PixArtAlphaPipeline",
        64,
        64,
    )


def test_register_infers_what_is_not_given(tiny_model):
    model = register_model(name="tiny", source=tiny_model)
    assert (model.family, model.train_width, model.train_height, model.dtype) == ("sd", 64, 64, "")
    wide = register_model(name="tiny-wide", source=tiny_model, train_width=96, train_height=64, dtype="float32")
    assert (wide.train_width, wide.train_height, wide.dtype) == (96, 64, "float32")


def test_register_refuses_a_wrong_family_or_an_unreadable_source(tiny_model, tmp_path):
    with pytest.raises(ValidationError) as error:
        register_model(name="x", source=tiny_model, family="ldm")
    assert "family" in error.value.message_dict
    assert "StableDiffusionPipeline" in error.value.message_dict["family"][0]
    with pytest.raises(ValidationError) as error:
        register_model(name="y", source=str(tmp_path / "missing"))
    assert error.value.message_dict["source"][0].startswith("Could not load model")
    with pytest.raises(ValidationError, match="multiple of 8"):
        register_model(name="z", source=tiny_model, train_width=100, train_height=64)
    assert DiffusionModel.objects.count() == 0


def test_a_config_without_the_training_size_is_refused_by_name(tiny_model, tmp_path, admin_client):
    import json
    import shutil

    broken = tmp_path / "no-sample-size"
    shutil.copytree(tiny_model, broken)
    config = json.loads((broken / "unet" / "config.json").read_text())
    del config["sample_size"]
    (broken / "unet" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValidationError) as error:
        register_model(name="x", source=str(broken))
    assert error.value.message_dict["source"] == [f"The unet config of {str(broken)!r} has no usable 'sample_size'."]
    with pytest.raises(CommandError, match="no usable 'sample_size'"):
        call_command("register_model", "x", str(broken))
    form = {
        "name": "x",
        "source": str(broken),
        "family": "sd",
        "revision": "",
        "train_width": 512,
        "train_height": 512,
        "dtype": "",
    }
    response = admin_client.post(reverse("admin:generation_diffusionmodel_add"), form)
    assert response.status_code == 200 and "no usable" in response.content.decode()
    assert not DiffusionModel.objects.exists()


def test_a_training_size_of_zero_is_refused_not_replaced(tiny_model):
    with pytest.raises(ValidationError, match="multiple of 8"):
        register_model(name="zero", source=tiny_model, train_width=0, train_height=0)
    with pytest.raises(CommandError, match="multiple of 8"):
        call_command("register_model", "zero", tiny_model, "--train-size", "0", "0")
    assert not DiffusionModel.objects.exists()


def test_ensure_registered_reuses_the_entry(tiny_model):
    first = ensure_registered(source=tiny_model)
    assert first.name == "tiny-sd"
    assert ensure_registered(source=tiny_model) == first
    assert DiffusionModel.objects.count() == 1


def test_register_model_command(tiny_model, tmp_path, capsys):
    call_command("register_model", "tiny", tiny_model, "--train-size", "128", "128")
    assert "trained at 128×128" in capsys.readouterr().out
    with pytest.raises(CommandError, match="Could not load model"):
        call_command("register_model", "gone", str(tmp_path / "gone"))
    assert list(DiffusionModel.objects.values_list("name", flat=True)) == ["tiny"]


def test_admin_form_checks_the_source(admin_client, tiny_model, tmp_path):
    url = reverse("admin:generation_diffusionmodel_add")
    form = {
        "name": "bad",
        "source": str(tmp_path / "nope"),
        "family": "sd",
        "revision": "",
        "train_width": 512,
        "train_height": 512,
        "dtype": "",
    }
    response = admin_client.post(url, form)
    assert response.status_code == 200 and "Could not load model" in response.content.decode()
    assert not DiffusionModel.objects.exists()
    response = admin_client.post(url, {**form, "name": "good", "source": tiny_model, "family": "sdxl"})
    assert "not &#x27;sdxl&#x27;" in response.content.decode() or "not 'sdxl'" in response.content.decode()
    response = admin_client.post(url, {**form, "name": "good", "source": tiny_model})
    assert response.status_code == 302
    assert DiffusionModel.objects.get().name == "good"
