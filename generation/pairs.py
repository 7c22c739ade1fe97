"""Generating one baseline/ours pair: same seed, initial latents and prompt embedding; only the scale differs."""
import time
from dataclasses import dataclass

import torch
from diffusers.utils.torch_utils import randn_tensor
from PIL import Image

from .pipelines import LoadedModel, use_scheduler
from .scaling import apply_entropy_scaling, remove_entropy_scaling


@dataclass
class PairImages:
    baseline: Image.Image
    ours: Image.Image
    seconds: dict[str, float]


def initial_latents(loaded: LoadedModel, *, width: int, height: int, seed: int) -> torch.Tensor:
    """The initial noise, drawn exactly as diffusers' pipelines draw it from a CPU generator seeded with ``seed``."""
    pipe = loaded.pipeline
    scale = pipe.vae_scale_factor
    # (1, C, H / 8, W / 8)
    shape = (1, pipe.unet.config.in_channels, height // scale, width // scale)
    generator = torch.Generator(device="cpu").manual_seed(seed)
    return randn_tensor(shape, generator=generator, device=loaded.device, dtype=loaded.dtype)


@torch.inference_mode()
def generate_pair(
    loaded: LoadedModel,
    *,
    prompt: str,
    negative_prompt: str,
    width: int,
    height: int,
    steps: int,
    guidance_scale: float,
    scheduler: str,
    seed: int,
) -> PairImages:
    """Generate the baseline image (scale 1/√d) and the ours image (entropy-aware scale) for one prompt."""
    pipe = loaded.pipeline
    use_scheduler(loaded, scheduler)
    prompt_embeds, negative_embeds = pipe.encode_prompt(
        prompt,
        loaded.device,
        num_images_per_prompt=1,
        do_classifier_free_guidance=guidance_scale > 1.0,
        negative_prompt=negative_prompt or None,
    )
    latents = initial_latents(loaded, width=width, height=height, seed=seed)
    images: dict[str, Image.Image] = {}
    seconds: dict[str, float] = {}
    for arm in ("baseline", "ours"):
        if arm == "ours":
            apply_entropy_scaling(pipe.unet)
        try:
            started = time.perf_counter()
            result = pipe(
                prompt_embeds=prompt_embeds,
                negative_prompt_embeds=negative_embeds,
                latents=latents.clone(),
                width=width,
                height=height,
                num_inference_steps=steps,
                guidance_scale=guidance_scale,
                generator=torch.Generator(device="cpu").manual_seed(seed),
                output_type="pil",
            )
            seconds[arm] = time.perf_counter() - started
        finally:
            remove_entropy_scaling(pipe.unet)
        images[arm] = result.images[0]
    return PairImages(baseline=images["baseline"], ours=images["ours"], seconds=seconds)
