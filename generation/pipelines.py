"""Loading a text-to-image pipeline once per process, and choosing its scheduler."""

import functools
import logging
from dataclasses import dataclass

import diffusers
import torch
from diffusers import (
    DDIMScheduler,
    DiffusionPipeline,
    DPMSolverMultistepScheduler,
    EulerDiscreteScheduler,
    SchedulerMixin,
)
from django.conf import settings

from .models import FAMILY_PIPELINES, Scheduler, family_setting_errors
from .scaling import denoiser_of

logger = logging.getLogger(__name__)

FAMILY_BY_PIPELINE = {pipeline: family for family, pipeline in FAMILY_PIPELINES.items()}
SCHEDULER_CLASSES = {
    Scheduler.DDIM: DDIMScheduler,
    Scheduler.EULER: EulerDiscreteScheduler,
    Scheduler.DPMPP: DPMSolverMultistepScheduler,
}


class ModelLoadError(Exception):
    """The model named by a job cannot be loaded (missing folder, unknown id, broken files)."""


@dataclass
class LoadedModel:
    pipeline: DiffusionPipeline
    default_scheduler: SchedulerMixin
    device: torch.device
    dtype: torch.dtype


def pick_device() -> torch.device:
    """The device from EVALSITE_DEVICE, else CUDA when available, else the CPU."""
    if settings.EVALSITE_DEVICE:
        return torch.device(settings.EVALSITE_DEVICE)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def pick_dtype(device: torch.device, name: str = "") -> torch.dtype:
    """``name``, else EVALSITE_DTYPE, else float16 on CUDA and float32 elsewhere."""
    name = name or settings.EVALSITE_DTYPE or ("float16" if device.type == "cuda" else "float32")
    dtype = getattr(torch, name, None)
    if not isinstance(dtype, torch.dtype):
        raise ModelLoadError(f"EVALSITE_DTYPE={name!r} is not a torch dtype (use float32, float16 or bfloat16).")
    return dtype


#: Text-to-image pipelines whose denoiser the scaling processor knows, by the class name in model_index.json.
SUPPORTED_PIPELINES = (
    "StableDiffusionPipeline",
    "StableDiffusionXLPipeline",
    "LDMTextToImagePipeline",
    "PixArtAlphaPipeline",
)


def read_model_index(model: str, revision: str = "") -> dict:
    """The model's model_index.json (from a local folder, or the hub's cache or the hub), checked for support."""
    try:
        config = DiffusionPipeline.load_config(model, revision=revision or None)
    except Exception as exc:  # OSError, EnvironmentError, ValueError, HTTP errors, ... depending on the source
        raise ModelLoadError(f"Could not load model {model!r}: {exc}") from exc
    class_name = config.get("_class_name", "")
    if class_name not in SUPPORTED_PIPELINES:
        raise ModelLoadError(
            f"Model {model!r} is a {class_name or 'pipeline of unknown class'}; "
            f"supported: {', '.join(SUPPORTED_PIPELINES)}."
        )
    return config


@functools.lru_cache(maxsize=2)
def load_model(model: str, revision: str = "", dtype_name: str = "") -> LoadedModel:
    """Load ``model`` (a hub id or a local folder) with ``from_pretrained``, once per process."""
    device = pick_device()
    dtype = pick_dtype(device, dtype_name)
    config = read_model_index(model, revision)
    extra = {"safety_checker": None} if "safety_checker" in config else {}
    diffusers.utils.logging.disable_progress_bar()
    logger.info("Loading %s (revision %s) on %s as %s", model, revision or "default", device, dtype)
    try:
        pipeline = DiffusionPipeline.from_pretrained(model, revision=revision or None, dtype=dtype, **extra)
    except Exception as exc:  # diffusers raises OSError, ValueError, EnvironmentError, ... for bad models
        raise ModelLoadError(f"Could not load model {model!r}: {exc}") from exc
    pipeline.to(device)
    pipeline.set_progress_bar_config(disable=True)
    if settings.EVALSITE_COMPILE:
        use_compile_cache(settings.EVALSITE_COMPILE_CACHE_DIR)
        compile_pipeline(pipeline, settings.EVALSITE_COMPILE_MODE)
    return LoadedModel(pipeline, pipeline.scheduler, device, dtype)


def use_compile_cache(directory) -> None:
    """Keep PyTorch's compile caches in ``directory``: the FX graph, AOTAutograd, Triton and autotuning caches live
    there, so a restarted worker reuses its compiled kernels instead of compiling them again. Both caches are on by
    default in PyTorch 2.13; they are turned on here all the same.

    Set, not defaulted: PyTorch writes its default folder (under /tmp, which a restarted machine empties) into
    TORCHINDUCTOR_CACHE_DIR the first time it looks for it, and reads the variable on every look."""
    import os

    from torch._functorch import config as functorch_config
    from torch._inductor import config as inductor_config

    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(directory)
    inductor_config.fx_graph_cache = True
    functorch_config.enable_autograd_cache = True


def compile_options(mode: str = "default", backend: str = "inductor") -> dict:
    """``torch.compile``'s arguments: a mode is for the inductor backend only."""
    return {"mode": mode} if backend == "inductor" else {"backend": backend}


def compile_pipeline(pipeline: DiffusionPipeline, mode: str = "default", backend: str = "inductor") -> None:
    """diffusers' speed recipe, in place: fused QKV projections (one GEMM for a self-attention layer's query, key and
    value, which the scaling processors use as well), channels-last UNet and VAE, and ``torch.compile`` of the
    denoiser and of the VAE's decoder. The denoiser keeps its class and attributes; the first call of each shape
    compiles."""
    from diffusers.models.attention_processor import Attention

    denoiser = denoiser_of(pipeline)
    for module in denoiser.modules():
        if isinstance(module, Attention) and not module.is_cross_attention:
            module.fuse_projections()
    vae = getattr(pipeline, "vae", None) or getattr(pipeline, "vqvae", None)
    for part in (denoiser, vae):
        if part is not None and any(isinstance(module, torch.nn.Conv2d) for module in part.modules()):
            part.to(memory_format=torch.channels_last)
    options = compile_options(mode, backend)
    denoiser.compile(**options)
    if vae is not None:
        vae.decode = torch.compile(vae.decode, **options)


def use_scheduler(loaded: LoadedModel, name: str) -> None:
    """Install scheduler ``name`` (a ``Scheduler`` value), built from the config of the model's own scheduler;
    a scheduler the pipeline's family cannot drive is refused (``family_setting_errors``)."""
    family = FAMILY_BY_PIPELINE.get(type(loaded.pipeline).__name__)
    if family and (
        refused := family_setting_errors(
            family=family, width=None, height=None, scheduler=name, negative_prompt=""
        ).get("scheduler")
    ):
        raise ValueError(refused)
    if name == Scheduler.DEFAULT:
        scheduler_class = type(loaded.default_scheduler)
    elif name in SCHEDULER_CLASSES:
        scheduler_class = SCHEDULER_CLASSES[name]
    else:
        raise ValueError(f"Unknown scheduler {name!r}; choose one of {', '.join(Scheduler.values)}.")
    loaded.pipeline.scheduler = scheduler_class.from_config(loaded.default_scheduler.config)
