"""Generating baseline/ours pairs in one batch: the arms share seed, initial latents and prompt embedding.

The batch interleaves the arms, ``[baseline_1, ours_1, baseline_2, ours_2, ...]``, and the self-attention
processors scale the queries of the odd ("ours") samples only, so one UNet forward of 2B samples serves B pairs.
Where every layer sees its training token count (the training size, among others) the factor is exactly 1 and the
arms are bit-identical, so a batch of B samples serves B pairs, each image stored for both arms.
"""

import contextlib
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from diffusers import (
    LDMTextToImagePipeline,
    PixArtAlphaPipeline,
    StableDiffusionPipeline,
    StableDiffusionXLPipeline,
)
from diffusers.utils.torch_utils import randn_tensor
from PIL import Image

from .pipelines import LoadedModel, use_scheduler
from .scaling import denoiser_of, exact_size_arguments, patch_size, scaling_is_identity, use_interleaved_scaling

#: The most elements an activation of one VAE decode call may hold: the fused batch decodes 2B samples where diffusers
#: decodes B, and past 2**31 elements PyTorch's CUDA kernels index with 64 bits or split the batch themselves (SD's VAE
#: at 768², 32 samples, as EvalSite's 16 pairs: 36 activations past it, the largest 9 GiB; 16 samples: 5).
DECODE_ELEMENTS = 2**31


def decode_elements_per_pixel(vae) -> int:
    """The elements per image pixel of the VAE decoder's largest activation: each up block's channels at the
    resolution its upsampler leaves (the last block at the image's own)."""
    channels = list(reversed(vae.config.block_out_channels))
    last = len(channels) - 1
    return max(math.ceil(count / 4 ** max(0, last - 1 - i)) for i, count in enumerate(channels))


def decode_batch_limit(pipe, *, width: int, height: int) -> int:
    """The most samples one VAE decode call takes at ``width`` × ``height``: its largest activation stays within
    ``DECODE_ELEMENTS`` (SD's VAE: 14 at 768², 32 at 512², 167 at 224²)."""
    vae = getattr(pipe, "vae", None) or pipe.vqvae
    return max(1, DECODE_ELEMENTS // (decode_elements_per_pixel(vae) * width * height))


@contextlib.contextmanager
def decode_in_chunks(pipe, limit: int):
    """The pipeline's VAE decodes at most ``limit`` samples per call, the chunks' images concatenated; a call with
    ``limit`` samples or fewer is the VAE's own. Each sample is decoded on its own either way (no layer of the VAE
    mixes samples), so the images are those of one call, up to the kernels' own batch-size dependence."""
    vae = getattr(pipe, "vae", None) or pipe.vqvae
    own = "decode" in vae.__dict__  # a compiled decoder is an attribute of the instance
    decode = vae.decode

    def chunked(latents, *args, **kwargs):
        if latents.shape[0] <= limit:
            return decode(latents, *args, **kwargs)
        outputs = [decode(chunk, *args, **kwargs) for chunk in latents.split(limit)]
        if isinstance(outputs[0], tuple):
            return (torch.cat([output[0] for output in outputs]),) + tuple(outputs[0][1:])
        return type(outputs[0])(sample=torch.cat([output.sample for output in outputs]))

    vae.decode = chunked
    try:
        yield
    finally:
        if own:
            vae.decode = decode
        else:
            del vae.decode  # the class's method again


@dataclass
class PairImages:
    baseline: Image.Image
    ours: Image.Image


@dataclass
class PairBatch:
    pairs: list[PairImages]
    seconds: float
    #: The factor is 1 at every layer at this size: both arms are the same computation, made once.
    identical_arms: bool = False


def initial_latents(loaded: LoadedModel, *, width: int, height: int, seed: int) -> torch.Tensor:
    """One image's initial noise, drawn as diffusers' pipelines draw it from a CPU generator seeded with ``seed``."""
    pipe = loaded.pipeline
    scale = pipe.vae_scale_factor
    # (1, C, H / 8, W / 8)
    shape = (1, denoiser_of(pipe).config.in_channels, height // scale, width // scale)
    generator = torch.Generator(device="cpu").manual_seed(seed)
    return randn_tensor(shape, generator=generator, device=loaded.device, dtype=loaded.dtype)


def interleave(tensor: torch.Tensor, arms: int = 2) -> torch.Tensor:
    """(B, ...) -> (arms * B, ...): every sample ``arms`` times in a row, once per arm."""
    return tensor if arms == 1 else tensor.repeat_interleave(arms, dim=0)


def uses_guidance(pipe, guidance_scale: float) -> bool:
    """Whether the pipeline applies classifier-free guidance, and so the negative prompt, at ``guidance_scale``:
    LDM text2im at any scale but 1, the others above 1."""
    return guidance_scale != 1.0 if isinstance(pipe, LDMTextToImagePipeline) else guidance_scale > 1.0


def _embedding_arguments(
    pipe, *, prompts: list[str], negative_prompt: str, guidance_scale: float, device, arms: int
) -> dict:
    """The pipeline's text inputs for the batch of ``arms`` samples per prompt, each prompt encoded once."""
    cfg = uses_guidance(pipe, guidance_scale)
    negatives = [negative_prompt] * len(prompts) if negative_prompt else None
    if isinstance(pipe, StableDiffusionXLPipeline):
        embeds, negative_embeds, pooled, negative_pooled = pipe.encode_prompt(
            prompts,
            device=device,
            num_images_per_prompt=1,
            do_classifier_free_guidance=cfg,
            negative_prompt=negatives,
        )
        arguments = {"prompt_embeds": embeds, "pooled_prompt_embeds": pooled}
        if cfg:
            arguments |= {"negative_prompt_embeds": negative_embeds, "negative_pooled_prompt_embeds": negative_pooled}
        return {name: interleave(value, arms) for name, value in arguments.items()}
    if isinstance(pipe, StableDiffusionPipeline):
        embeds, negative_embeds = pipe.encode_prompt(
            prompts, device, num_images_per_prompt=1, do_classifier_free_guidance=cfg, negative_prompt=negatives
        )
        arguments = {"prompt_embeds": embeds}
        if cfg:
            arguments["negative_prompt_embeds"] = negative_embeds
        return {name: interleave(value, arms) for name, value in arguments.items()}
    if isinstance(pipe, PixArtAlphaPipeline):
        embeds, mask, negative_embeds, negative_mask = pipe.encode_prompt(
            prompts,
            do_classifier_free_guidance=cfg,
            negative_prompt=negative_prompt,
            num_images_per_prompt=1,
            device=device,
            clean_caption=False,
        )
        arguments = {"prompt_embeds": embeds, "prompt_attention_mask": mask}
        if cfg:
            arguments |= {"negative_prompt_embeds": negative_embeds, "negative_prompt_attention_mask": negative_mask}
        # the negative prompt is encoded above
        return {name: interleave(value, arms) for name, value in arguments.items()} | {
            "clean_caption": False,
            "negative_prompt": None,
        }
    if isinstance(pipe, LDMTextToImagePipeline):
        if negative_prompt:
            raise ValueError("LDMTextToImagePipeline does not take a negative prompt.")
        return {"prompt": [prompt for prompt in prompts for _ in range(arms)]}
    raise ValueError(f"{type(pipe).__name__} is not a supported text-to-image pipeline.")


@torch.inference_mode()
def generate_pairs(
    loaded: LoadedModel,
    *,
    prompts: Sequence[str],
    seeds: Sequence[int],
    negative_prompt: str = "",
    width: int,
    height: int,
    steps: int,
    guidance_scale: float,
    scheduler: str,
    train_sample_size: int | tuple[int, int] | None = None,
) -> PairBatch:
    """Generate one pair per prompt, all in one batch of 2B samples (B where the arms are identical)."""
    if len(prompts) != len(seeds) or not prompts:
        raise ValueError(f"Need one seed per prompt, got {len(prompts)} prompts and {len(seeds)} seeds.")
    pipe = loaded.pipeline
    use_scheduler(loaded, scheduler)
    started = time.perf_counter()
    denoiser = denoiser_of(pipe)
    latent_size = (height // pipe.vae_scale_factor, width // pipe.vae_scale_factor)
    patch = patch_size(denoiser)
    if latent_size[0] % patch or latent_size[1] % patch:
        raise ValueError(
            f"{type(pipe).__name__} needs a width and height that are multiples of {patch * pipe.vae_scale_factor} "
            f"pixels (its transformer's {patch}×{patch} patches of the latent), got {width}×{height}."
        )
    identical = scaling_is_identity(denoiser, latent_size, train_sample_size)
    arms = 1 if identical else 2
    arguments = _embedding_arguments(
        pipe,
        prompts=list(prompts),
        negative_prompt=negative_prompt,
        guidance_scale=guidance_scale,
        device=loaded.device,
        arms=arms,
    )
    # (B, C, h, w) -> (arms * B, C, h, w)
    latents = interleave(
        torch.cat([initial_latents(loaded, width=width, height=height, seed=seed) for seed in seeds]), arms
    )
    # The processors stay installed for the next batch; where the arms are identical they change nothing.
    use_interleaved_scaling(denoiser, train_sample_size)
    with decode_in_chunks(pipe, decode_batch_limit(pipe, width=width, height=height)):
        images = pipe(
            **arguments,
            latents=latents,
            width=width,
            height=height,
            num_inference_steps=steps,
            guidance_scale=guidance_scale,
            output_type="pil",
            **exact_size_arguments(pipe),
        ).images
    if identical:
        pairs = [PairImages(baseline=image, ours=image.copy()) for image in images]
    else:
        pairs = [PairImages(baseline=images[i], ours=images[i + 1]) for i in range(0, len(images), 2)]
    return PairBatch(pairs=pairs, seconds=time.perf_counter() - started, identical_arms=identical)
