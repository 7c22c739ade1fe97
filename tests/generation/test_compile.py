"""EVALSITE_COMPILE: the worker's denoiser compiled with torch.compile gives the same pairs, compiled once per shape."""

import numpy as np
import pytest
import torch
from django.core.files.storage import default_storage
from PIL import Image

from generation.pipelines import load_model
from generation.services import create_pair_job
from generation.tasks import generate_pair_jobs

pytestmark = pytest.mark.django_db


@pytest.fixture
def fresh_models():
    """Workers' cached models, emptied before and after, so no other test gets a compiled one."""
    load_model.cache_clear()
    yield
    load_model.cache_clear()
    torch._dynamo.reset()


def generate(model: str, seeds: list[int]) -> list[np.ndarray]:
    jobs = [
        create_pair_job(
            prompt=f"A lighthouse at dusk {seed}",
            model=model,
            seed=seed,
            width=96,
            height=64,
            steps=2,
            guidance_scale=5.0,
            scheduler="default",
        )
        for seed in seeds
    ]
    assert generate_pair_jobs([job.pk for job in jobs])["done"] == len(jobs)
    images = []
    for job in jobs:
        job.refresh_from_db()
        for name in (job.baseline_image, job.ours_image):
            with default_storage.open(name) as handle:
                images.append(np.asarray(Image.open(handle).convert("RGB")).astype(int))
    return images


def test_compiled_denoiser_makes_the_same_pairs_and_compiles_once(tiny_model, settings, fresh_models):
    settings.EVALSITE_BATCH_SIZE = 2
    plain = generate(tiny_model, [1, 2])
    load_model.cache_clear()
    settings.EVALSITE_COMPILE = True
    compiled = generate(tiny_model, [1, 2])  # compiles
    for expected, image in zip(plain, compiled, strict=True):
        assert np.abs(expected - image).max() <= 2
    graphs = torch._dynamo.utils.counters["stats"]["unique_graphs"]
    generate(tiny_model, [3, 4])  # the same shapes and processors: nothing new to compile
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] == graphs
    assert graphs > 0


def test_the_compile_caches_go_to_the_workers_folder(tmp_path, monkeypatch):
    """PyTorch writes its /tmp default into TORCHINDUCTOR_CACHE_DIR when it first looks the folder up: the worker's
    folder replaces it, so that a restarted worker finds its compiled kernels."""
    from torch._inductor.runtime.cache_dir_utils import cache_dir

    from generation.pipelines import use_compile_cache

    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "default"))
    use_compile_cache(tmp_path / "worker")
    assert cache_dir() == str(tmp_path / "worker")
    assert torch._inductor.config.fx_graph_cache and torch._functorch.config.enable_autograd_cache
