"""The pair-generation task, run in-process with the tiny model through from_pretrained."""
import os

import numpy as np
import pytest
import torch
from diffusers import StableDiffusionPipeline
from django.core.files.storage import default_storage
from PIL import Image

from generation.models import PairJob
from generation.pipelines import ModelLoadError, load_model
from generation.services import create_pair_job
from generation.storage import image_name
from generation.tasks import generate_pair_job

pytestmark = pytest.mark.django_db


def make_job(model: str, **fields) -> PairJob:
    settings = {"prompt": "A red bicycle leaning against a brick wall", "seed": 7, "width": 64, "height": 64,
                "steps": 3, "guidance_scale": 7.5, "scheduler": "ddim", **fields}
    return create_pair_job(model=model, **settings)


def pixels(name: str) -> np.ndarray:
    with default_storage.open(name) as handle:
        return np.asarray(Image.open(handle).convert("RGB"))


def test_pair_is_generated_under_opaque_names(tiny_model):
    job = make_job(tiny_model, width=128, height=128)
    assert generate_pair_job(job.pk) == "done"
    job.refresh_from_db()
    assert job.status == PairJob.Status.DONE and job.error == ""
    for arm, name in (("baseline", job.baseline_image), ("ours", job.ours_image)):
        assert name == image_name(job_id=job.pk, arm=arm)
        stem = os.path.basename(name).removesuffix(".png")
        assert len(stem) == 32 and all(c in "0123456789abcdef" for c in stem)
        assert "baseline" not in name and "ours" not in name
    assert not (pixels(job.baseline_image) == pixels(job.ours_image)).all()
    with default_storage.open(job.ours_image) as handle:
        image = Image.open(handle)
        assert image.info.keys() <= {"dpi"} and not getattr(image, "text", {})
    leftovers = [n for n in os.listdir(default_storage.path("img")) if n.startswith(".tmp-")]
    assert leftovers == []


def test_training_size_gives_identical_arms(tiny_model):
    job = make_job(tiny_model, width=64, height=64)
    generate_pair_job(job.pk)
    job.refresh_from_db()
    assert (pixels(job.baseline_image) == pixels(job.ours_image)).all()


def test_baseline_matches_diffusers_pipeline_called_alone(tiny_model):
    """Same seed, same latents: the baseline arm is what diffusers' own pipeline gives."""
    job = make_job(tiny_model, width=96, height=64, scheduler="default")
    generate_pair_job(job.pk)
    job.refresh_from_db()
    pipe = StableDiffusionPipeline.from_pretrained(tiny_model, safety_checker=None)
    pipe.set_progress_bar_config(disable=True)
    expected = pipe(
        job.prompt, width=96, height=64, num_inference_steps=3, guidance_scale=7.5,
        generator=torch.Generator("cpu").manual_seed(job.seed), output_type="np",
    ).images[0]
    expected = (expected * 255).round().astype(np.uint8)
    assert np.abs(pixels(job.baseline_image).astype(int) - expected.astype(int)).max() <= 1


def test_done_job_is_not_generated_again(tiny_model):
    job = make_job(tiny_model)
    generate_pair_job(job.pk)
    job.refresh_from_db()
    stamp = os.stat(default_storage.path(job.baseline_image)).st_mtime_ns
    assert generate_pair_job(job.pk) == "done already"
    job.refresh_from_db()
    assert job.attempts == 1
    assert os.stat(default_storage.path(job.baseline_image)).st_mtime_ns == stamp


def test_missing_file_is_regenerated(tiny_model):
    job = make_job(tiny_model)
    generate_pair_job(job.pk)
    job.refresh_from_db()
    before = pixels(job.ours_image)
    default_storage.delete(job.ours_image)
    assert generate_pair_job(job.pk) == "done"
    job.refresh_from_db()
    assert job.attempts == 2
    assert (pixels(job.ours_image) == before).all()


def test_unloadable_model_fails_the_job_with_a_clear_error(tmp_path):
    missing = str(tmp_path / "no-such-model")
    job = make_job(missing)
    assert generate_pair_job(job.pk) == "failed"
    job.refresh_from_db()
    assert job.status == PairJob.Status.FAILED
    assert job.error.startswith(f"Could not load model {missing!r}")
    assert job.baseline_image == job.ours_image == ""
    with pytest.raises(ModelLoadError):
        load_model(missing)


def test_deleted_job_is_ignored():
    assert generate_pair_job(999_999) == "missing"


@pytest.mark.parametrize("scheduler", ["ddim", "euler", "dpmpp", "default"])
def test_every_scheduler_generates(tiny_model, scheduler):
    job = make_job(tiny_model, scheduler=scheduler, steps=2)
    assert generate_pair_job(job.pk) == "done"
    job.refresh_from_db()
    expected = {"ddim": "DDIMScheduler", "euler": "EulerDiscreteScheduler", "dpmpp": "DPMSolverMultistepScheduler",
                "default": "DDIMScheduler"}[scheduler]
    assert job.metadata["scheduler"] == expected


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("width", 100, "multiples of 8"), ("steps", 0, "Steps"), ("prompt", "", "prompt"), ("seed", -1, "seed")],
)
def test_bad_job_settings_are_refused(field, value, message):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as error:
        make_job("any", **{field: value})
    assert message.lower() in " ".join(error.value.messages).lower()
    assert PairJob.objects.count() == 0
