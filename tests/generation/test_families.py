"""Every model family the method is run on: SD (1.x/2.x), SDXL, LDM text2im and PixArt-α, through from_pretrained."""

import numpy as np
import pytest
import torch
from diffusers import DiffusionPipeline
from django.core.files.storage import default_storage
from PIL import Image

from generation.models import PairJob
from generation.pipelines import ModelLoadError, load_model, read_model_index
from generation.scaling import EntropyScaledAttnProcessor, apply_entropy_scaling, denoiser_of, exact_size_arguments
from generation.services import create_pair_job
from generation.tasks import generate_pair_jobs
from generation.tiny import save_tiny_pipeline

pytestmark = pytest.mark.django_db

PROMPTS = ["A lighthouse on a rocky coast at sunset", "A bowl of fresh strawberries on a wooden table"]


@pytest.fixture(scope="module", params=["sd", "sdxl", "ldm", "pixart"])
def family_model(request, tmp_path_factory) -> tuple[str, str]:
    return request.param, str(
        save_tiny_pipeline(tmp_path_factory.mktemp(request.param) / "model", family=request.param)
    )


def pixels(name: str) -> np.ndarray:
    with default_storage.open(name) as handle:
        return np.asarray(Image.open(handle).convert("RGB")).astype(int)


def alone(model: str, job: PairJob, *, scaled: bool) -> np.ndarray:
    """The image diffusers' own pipeline makes for this job, one image per call."""
    pipe = DiffusionPipeline.from_pretrained(model)
    pipe.set_progress_bar_config(disable=True)
    if scaled:
        apply_entropy_scaling(denoiser_of(pipe))
    image = pipe(
        prompt=job.prompt,
        width=job.width,
        height=job.height,
        num_inference_steps=job.steps,
        guidance_scale=job.guidance_scale,
        generator=torch.Generator("cpu").manual_seed(job.seed),
        output_type="np",
        **exact_size_arguments(pipe),
    ).images[0]
    return (np.asarray(image) * 255).round().astype(int)


@pytest.mark.parametrize("above", [True, False], ids=["above", "below"])
def test_fused_batch_matches_each_family_called_alone(family_model, settings, above):
    """Above (96×64) and below the training size: 48×40 (latent 6×5, not divisible by the UNet's downsampling), and
    48×32 for PixArt, whose 2×2 patches must tile the latent."""
    family, model = family_model
    width, height = (96, 64) if above else (48, 32 if family == "pixart" else 40)
    settings.EVALSITE_BATCH_SIZE = 2
    jobs = [
        create_pair_job(
            prompt=p,
            model=model,
            seed=5 + i,
            width=width,
            height=height,
            steps=2,
            guidance_scale=5.0,
            scheduler="default",
        )
        for i, p in enumerate(PROMPTS)
    ]
    assert generate_pair_jobs([job.pk for job in jobs])["done"] == 2
    for job in jobs:
        job.refresh_from_db()
        assert job.metadata["batch_size"] == 2
        assert job.metadata["identical_arms"] is False
        baseline, ours = pixels(job.baseline_image), pixels(job.ours_image)
        assert baseline.shape == (height, width, 3)
        assert (baseline != ours).any(), f"{family}: the arms must differ away from the training size"
        assert np.abs(baseline - alone(model, job, scaled=False)).max() <= 2
        assert np.abs(ours - alone(model, job, scaled=True)).max() <= 2


def test_training_size_is_identical_for_each_family(family_model, settings):
    """At the training size the factor is 1 everywhere: one UNet sample per pair serves both arms."""
    family, model = family_model
    settings.EVALSITE_BATCH_SIZE = 2
    jobs = [
        create_pair_job(
            prompt=p, model=model, seed=1 + i, width=64, height=64, steps=2, guidance_scale=5.0, scheduler="default"
        )
        for i, p in enumerate(PROMPTS)
    ]
    unet = denoiser_of(load_model(jobs[0].model, jobs[0].revision, jobs[0].dtype).pipeline)  # the worker's model
    batch_sizes = []
    handle = unet.register_forward_pre_hook(lambda module, args: batch_sizes.append(args[0].shape[0]))
    try:
        assert generate_pair_jobs([job.pk for job in jobs])["done"] == 2
    finally:
        handle.remove()
    assert set(batch_sizes) == {4}, f"{family}: 2 pairs with guidance are 4 samples, not 8"
    for job in jobs:
        job.refresh_from_db()
        assert job.metadata["identical_arms"] is True
        baseline = pixels(job.baseline_image)
        assert (baseline == pixels(job.ours_image)).all(), family
        assert np.abs(baseline - alone(model, job, scaled=True)).max() <= 2


def test_scaling_covers_every_self_attention_layer(family_model):
    family, model = family_model
    denoiser = denoiser_of(DiffusionPipeline.from_pretrained(model))
    apply_entropy_scaling(denoiser)
    for name, processor in denoiser.attn_processors.items():
        is_self = name.endswith("attn1.processor")
        assert isinstance(processor, EntropyScaledAttnProcessor) == is_self, (family, name)
        if is_self and family == "pixart":
            assert processor.train_tokens == 16  # 4×4 patches of the 8×8 latent
        elif is_self:
            assert processor.train_tokens == (64 if "mid_block" not in name else 16)


def test_pixart_sizes_its_patches_do_not_tile_fail_clearly(tmp_path, settings):
    model = str(save_tiny_pipeline(tmp_path / "pixart", family="pixart"))
    job = create_pair_job(
        prompt=PROMPTS[0], model=model, seed=1, width=48, height=40, steps=2, guidance_scale=5.0, scheduler="default"
    )
    assert generate_pair_jobs([job.pk])["failed"] == 1
    job.refresh_from_db()
    assert job.error == (
        "Generation failed: PixArtAlphaPipeline needs a width and height that are multiples of 16 "
        "pixels (its transformer's 2×2 patches of the latent), got 48×40."
    )


def test_ldm_refuses_a_scheduler_its_pipeline_cannot_drive(tmp_path):
    """LDMTextToImagePipeline neither scales its initial noise nor its model input for the scheduler, so Euler
    (init_noise_sigma far above 1) would make wrong images under a "done" status; the job fails, naming why."""
    model = str(save_tiny_pipeline(tmp_path / "ldm", family="ldm"))
    euler, dpmpp = (
        create_pair_job(
            prompt=PROMPTS[0],
            model=model,
            seed=1,
            width=64,
            height=64,
            steps=2,
            guidance_scale=5.0,
            scheduler=scheduler,
        )
        for scheduler in ("euler", "dpmpp")
    )
    assert generate_pair_jobs([euler.pk, dpmpp.pk]) == {"missing": 0, "skipped": 0, "failed": 1, "done": 1}
    euler.refresh_from_db()
    assert euler.error == (
        "Generation failed: A Latent Diffusion text2im pipeline cannot sample with Euler: it does not scale the noise "
        "for that scheduler. Use DDIM or DPM-Solver++."
    )


def test_unsupported_or_missing_models_get_a_clear_error(tmp_path):
    with pytest.raises(ModelLoadError, match="Could not load model"):
        read_model_index(str(tmp_path / "nothing-here"))
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "model_index.json").write_text('{"_class_name": "DDPMPipeline"}')
    with pytest.raises(ModelLoadError, match="DDPMPipeline; supported: StableDiffusionPipeline"):
        read_model_index(str(tmp_path / "other"))
