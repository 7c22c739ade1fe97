"""The pair-generation task, run in-process with the tiny model through from_pretrained."""

import os

import numpy as np
import pytest
import torch
from diffusers import StableDiffusionPipeline
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from PIL import Image

from generation import tasks
from generation.models import PairJob
from generation.pipelines import ModelLoadError, load_model
from generation.services import create_pair_job
from generation.tasks import generate_pair_jobs

pytestmark = pytest.mark.django_db

PROMPTS = ["A red bicycle leaning against a brick wall", "Two cats sleeping on a blue sofa", "A lighthouse at dusk"]


def make_job(model: str, **fields) -> PairJob:
    settings = {
        "prompt": PROMPTS[0],
        "seed": 7,
        "width": 64,
        "height": 64,
        "steps": 3,
        "guidance_scale": 7.5,
        "scheduler": "ddim",
        **fields,
    }
    return create_pair_job(model=model, **settings)


def pixels(name: str) -> np.ndarray:
    with default_storage.open(name) as handle:
        return np.asarray(Image.open(handle).convert("RGB")).astype(int)


def test_pair_is_generated_under_opaque_names(tiny_model):
    job = make_job(tiny_model, width=128, height=128)
    drawn = (job.baseline_image, job.ours_image)
    assert generate_pair_jobs([job.pk]) == {"missing": 0, "skipped": 0, "done": 1}
    job.refresh_from_db()
    assert job.status == PairJob.Status.DONE and job.error == "" and job.attempts == 1
    assert (job.baseline_image, job.ours_image) == drawn, "written under the names drawn when the job was made"
    for name in drawn:
        stem = os.path.basename(name).removesuffix(".png")
        assert len(stem) == 32 and all(c in "0123456789abcdef" for c in stem)
        assert "baseline" not in name and "ours" not in name
    assert (pixels(job.baseline_image) != pixels(job.ours_image)).any()
    with default_storage.open(job.ours_image) as handle:
        image = Image.open(handle)
        assert set(image.info) <= {"dpi"} and not getattr(image, "text", {})
    assert [n for n in os.listdir(default_storage.path("img")) if n.endswith(".part")] == []
    assert job.metadata["arms"] == {"baseline": {"entropy_scaling": False}, "ours": {"entropy_scaling": True}}
    assert job.metadata["classifier_free_guidance"] is True


def test_metadata_says_when_guidance_and_its_negative_prompt_were_not_used(tiny_model):
    job = make_job(tiny_model, guidance_scale=1.0, negative_prompt="blurry")
    assert generate_pair_jobs([job.pk])["done"] == 1
    job.refresh_from_db()
    assert job.metadata["classifier_free_guidance"] is False and job.metadata["negative_prompt"] == "blurry"


def test_training_size_gives_identical_arms(tiny_model):
    job = make_job(tiny_model, width=64, height=64)
    generate_pair_jobs([job.pk])
    job.refresh_from_db()
    assert (pixels(job.baseline_image) == pixels(job.ours_image)).all()


def test_batched_pairs_match_pairs_generated_alone(tiny_model, settings):
    """One fused batch of three pairs gives the images of three single-pair calls."""
    settings.EVALSITE_BATCH_SIZE = 3
    batched = [make_job(tiny_model, prompt=p, seed=10 + i, width=96, height=96) for i, p in enumerate(PROMPTS)]
    generate_pair_jobs([job.pk for job in batched])
    settings.EVALSITE_BATCH_SIZE = 1
    alone = [make_job(tiny_model, prompt=p, seed=10 + i, width=96, height=96) for i, p in enumerate(PROMPTS)]
    generate_pair_jobs([job.pk for job in alone])
    for together, single in zip(batched, alone, strict=False):
        together.refresh_from_db()
        single.refresh_from_db()
        assert together.metadata["batch_size"] == 3 and single.metadata["batch_size"] == 1
        for arm in ("baseline_image", "ours_image"):
            assert np.abs(pixels(getattr(together, arm)) - pixels(getattr(single, arm))).max() <= 2


def _diffusers_image(model: str, job: PairJob, *, scaled: bool) -> np.ndarray:
    from generation.scaling import apply_entropy_scaling

    pipe = StableDiffusionPipeline.from_pretrained(model, safety_checker=None)
    pipe.set_progress_bar_config(disable=True)
    if scaled:
        apply_entropy_scaling(pipe.unet)
    image = pipe(
        job.prompt,
        width=job.width,
        height=job.height,
        num_inference_steps=job.steps,
        guidance_scale=job.guidance_scale,
        generator=torch.Generator("cpu").manual_seed(job.seed),
        output_type="np",
    ).images[0]
    return (image * 255).round().astype(int)


def test_both_arms_match_diffusers_pipeline_called_alone(tiny_model, settings):
    """Same seed, same latents: each arm is what diffusers' own pipeline gives with that arm's processors."""
    settings.EVALSITE_BATCH_SIZE = 2
    jobs = [
        make_job(tiny_model, prompt=p, seed=3 + i, width=96, height=64, scheduler="default")
        for i, p in enumerate(PROMPTS[:2])
    ]
    generate_pair_jobs([job.pk for job in jobs])
    for job in jobs:
        job.refresh_from_db()
        assert np.abs(pixels(job.baseline_image) - _diffusers_image(tiny_model, job, scaled=False)).max() <= 2
        assert np.abs(pixels(job.ours_image) - _diffusers_image(tiny_model, job, scaled=True)).max() <= 2


def test_done_job_is_not_generated_again(tiny_model):
    job = make_job(tiny_model)
    generate_pair_jobs([job.pk])
    job.refresh_from_db()
    stamp = os.stat(default_storage.path(job.baseline_image)).st_mtime_ns
    assert generate_pair_jobs([job.pk]) == {"missing": 0, "skipped": 1}
    job.refresh_from_db()
    assert job.attempts == 1
    assert os.stat(default_storage.path(job.baseline_image)).st_mtime_ns == stamp


def test_missing_file_is_regenerated_identically(tiny_model):
    job = make_job(tiny_model)
    generate_pair_jobs([job.pk])
    job.refresh_from_db()
    before = pixels(job.ours_image)
    default_storage.delete(job.ours_image)
    assert generate_pair_jobs([job.pk])["done"] == 1
    job.refresh_from_db()
    assert job.attempts == 2
    assert (pixels(job.ours_image) == before).all()


def test_unloadable_model_fails_the_job_with_a_clear_error(tiny_model, tmp_path):
    missing = str(tmp_path / "no-such-model")
    bad, good = make_job(missing), make_job(tiny_model)
    assert generate_pair_jobs([bad.pk, good.pk]) == {"missing": 0, "skipped": 0, "failed": 1, "done": 1}
    bad.refresh_from_db()
    assert bad.status == PairJob.Status.FAILED
    assert bad.error.startswith(f"Could not load model {missing!r}")
    assert not default_storage.exists(bad.baseline_image) and not default_storage.exists(bad.ours_image)
    with pytest.raises(ModelLoadError):
        load_model(missing)


def test_deleted_job_is_ignored():
    assert generate_pair_jobs([999_999]) == {"missing": 1, "skipped": 0}


def test_out_of_memory_halves_the_batch_then_fails_clearly(tiny_model, settings, monkeypatch):
    settings.EVALSITE_BATCH_SIZE = 4
    real = tasks.generate_pairs
    sizes = []

    def limited(loaded, *, prompts, **kwargs):
        sizes.append(len(prompts))
        if len(prompts) > 1:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(loaded, prompts=prompts, **kwargs)

    monkeypatch.setattr(tasks, "generate_pairs", limited)
    jobs = [make_job(tiny_model, prompt=p, seed=i) for i, p in enumerate(PROMPTS)]
    assert generate_pair_jobs([job.pk for job in jobs])["done"] == 3
    assert sizes == [3, 2, 1, 1, 1]

    def always(loaded, *, prompts, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory (simulated)")

    monkeypatch.setattr(tasks, "generate_pairs", always)
    job = make_job(tiny_model, prompt="A fox in the snow", width=128, height=128)
    assert generate_pair_jobs([job.pk])["failed"] == 1
    job.refresh_from_db()
    assert "Out of device memory generating one 128×128 pair" in job.error


@pytest.mark.parametrize(
    ("scheduler", "expected"),
    [
        ("ddim", "DDIMScheduler"),
        ("euler", "EulerDiscreteScheduler"),
        ("dpmpp", "DPMSolverMultistepScheduler"),
        ("default", "DDIMScheduler"),
    ],
)
def test_every_scheduler_generates(tiny_model, scheduler, expected):
    job = make_job(tiny_model, scheduler=scheduler, steps=2)
    assert generate_pair_jobs([job.pk])["done"] == 1
    job.refresh_from_db()
    assert job.metadata["scheduler"] == expected


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("width", 100, "width and height must be multiples of 8"),
        ("steps", 0, "steps must be"),
        ("prompt", "", "prompt:"),
        ("seed", -1, "seed must not be negative"),
    ],
)
def test_bad_job_settings_are_refused(field, value, message):
    with pytest.raises(ValidationError) as error:
        make_job("any", **{field: value})
    assert message.lower() in " ".join(error.value.messages).lower()
    assert PairJob.objects.count() == 0


@pytest.mark.parametrize(
    ("train_width", "train_height"),
    [(512, None), (None, 512), (4, 4), (100, 64), (0, 0)],
)
def test_a_training_size_must_be_whole_and_in_multiples_of_8(train_width, train_height):
    with pytest.raises(ValidationError, match="training width and height must both be given"):
        make_job("any", train_width=train_width, train_height=train_height)
    assert PairJob.objects.count() == 0


def test_a_job_held_by_another_task_is_left_to_it(tiny_model):
    job = make_job(tiny_model)
    PairJob.objects.filter(pk=job.pk).update(status=PairJob.Status.RUNNING, task_id="other-task", attempts=1)
    assert generate_pair_jobs.apply(([job.pk],), task_id="second-task").get() == {"missing": 0, "skipped": 1}
    job.refresh_from_db()
    assert (job.status, job.task_id, job.attempts) == ("running", "other-task", 1)
    assert not default_storage.exists(job.baseline_image)


def test_a_redelivered_task_takes_up_the_jobs_it_held(tiny_model):
    """A worker killed mid-task leaves its jobs running; the broker delivers the same task (same id) again."""
    job = make_job(tiny_model)
    PairJob.objects.filter(pk=job.pk).update(status=PairJob.Status.RUNNING, task_id="first-task", attempts=1)
    assert generate_pair_jobs.apply(([job.pk],), task_id="first-task").get()["done"] == 1
    job.refresh_from_db()
    assert (job.status, job.task_id, job.attempts) == ("done", "first-task", 2)


def test_a_job_sent_twice_is_generated_once(tiny_model):
    job = make_job(tiny_model)
    assert generate_pair_jobs.apply(([job.pk],), task_id="first").get()["done"] == 1
    stamp = os.stat(default_storage.path(PairJob.objects.get().baseline_image)).st_mtime_ns
    assert generate_pair_jobs.apply(([job.pk],), task_id="second").get() == {"missing": 0, "skipped": 1}
    job.refresh_from_db()
    assert (job.attempts, job.task_id) == (1, "first")
    assert os.stat(default_storage.path(job.baseline_image)).st_mtime_ns == stamp


def test_a_failed_job_waits_to_be_queued_again(tiny_model):
    job = make_job(tiny_model)
    PairJob.objects.filter(pk=job.pk).update(status=PairJob.Status.FAILED, error="Generation failed: earlier")
    assert generate_pair_jobs([job.pk]) == {"missing": 0, "skipped": 1}
    job.refresh_from_db()
    assert (job.status, job.error, job.attempts) == ("failed", "Generation failed: earlier", 0)


def test_an_unexpected_error_fails_the_jobs_it_stopped(tiny_model, monkeypatch):
    def broken(loaded, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(tasks, "generate_pairs", broken)
    jobs = [make_job(tiny_model, prompt=prompt) for prompt in PROMPTS[:2]]
    with pytest.raises(OSError):
        generate_pair_jobs([job.pk for job in jobs])
    for job in jobs:
        job.refresh_from_db()
        assert job.status == PairJob.Status.FAILED and job.finished_at is not None
        assert job.error == "Generation stopped: OSError: No space left on device"


def test_a_database_error_is_retried_by_the_same_task_then_fails_the_jobs(tiny_model, monkeypatch):
    from django.db import OperationalError

    real, calls = tasks.generate_pairs, []

    def flaky(loaded, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real(loaded, **kwargs)

    monkeypatch.setattr(tasks, "generate_pairs", flaky)
    job = make_job(tiny_model)
    assert generate_pair_jobs.apply(([job.pk],), task_id="retried").get()["done"] == 1
    job.refresh_from_db()
    assert (job.status, job.attempts, len(calls)) == ("done", 2, 2)  # the retry took the running job up again

    def down(loaded, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(tasks, "generate_pairs", down)
    monkeypatch.setattr(generate_pair_jobs, "retry_backoff", False)
    job = make_job(tiny_model, prompt=PROMPTS[1])
    result = generate_pair_jobs.apply(([job.pk],), task_id="gone")
    assert isinstance(result.result, OperationalError)
    job.refresh_from_db()
    assert job.status == PairJob.Status.FAILED
    assert job.attempts == generate_pair_jobs.max_retries + 1
    assert job.error == "Generation stopped: OperationalError: server closed the connection unexpectedly"


def test_a_job_left_running_without_a_task_id_is_taken_up(tiny_model):
    """Rows made running before tasks recorded their id (migration 0003 gives them ""): a redelivery takes them."""
    job = make_job(tiny_model)
    PairJob.objects.filter(pk=job.pk).update(status=PairJob.Status.RUNNING, task_id="", attempts=1)
    assert generate_pair_jobs.apply(([job.pk],), task_id="redelivered").get()["done"] == 1


def test_a_job_done_meanwhile_is_not_taken_again(tiny_model):
    """The task read the job pending; another task finished it before the claim: it stays done, untouched."""
    job = make_job(tiny_model)
    PairJob.objects.filter(pk=job.pk).update(
        status=PairJob.Status.DONE, task_id="other", baseline_image="img/a.png", ours_image="img/b.png"
    )
    assert tasks._claim([job], task_id="late") == []  # ``job`` still says pending
    job.refresh_from_db()
    assert (job.status, job.task_id) == ("done", "other")


def test_an_unexpected_error_fails_only_the_jobs_this_task_holds(tiny_model, monkeypatch):
    first, second = (make_job(tiny_model, prompt=prompt) for prompt in PROMPTS[:2])

    def taken_over_then_broken(loaded, **kwargs):
        # meanwhile the first job was queued again and another task holds it
        PairJob.objects.filter(pk=first.pk).update(task_id="another")
        raise OSError("No space left on device")

    monkeypatch.setattr(tasks, "generate_pairs", taken_over_then_broken)
    with pytest.raises(OSError):
        generate_pair_jobs.apply(([first.pk, second.pk],), task_id="this", throw=True)
    first.refresh_from_db(), second.refresh_from_db()
    assert (first.status, first.task_id) == ("running", "another")
    assert second.status == PairJob.Status.FAILED
