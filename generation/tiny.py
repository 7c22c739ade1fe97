"""Tiny, randomly initialised text-to-image pipelines that build offline in about a second.

The default has the structure of Stable Diffusion (8x VAE, cross-attention UNet with self-attention at two levels,
CLIP text encoder and byte-level BPE tokenizer padding to 77 tokens) at a training size of 64 px (latent 8x8), so
code written for a real checkpoint can be exercised end to end without downloading one. The "sdxl", "ldm" and
"pixart" families give the same for `StableDiffusionXLPipeline` (two text encoders, added time conditions),
`LDMTextToImagePipeline` (the layout of CompVis/ldm-text2im-large-256, with a CLIP text encoder standing in for
its BERT) and `PixArtAlphaPipeline` (a patch-2 diffusion transformer with a T5 encoder and a Unigram tokenizer).
"""

import json
import os
import shutil
import tempfile
from pathlib import Path

import torch
from diffusers import (
    AutoencoderKL,
    DDIMScheduler,
    DiffusionPipeline,
    LDMTextToImagePipeline,
    PixArtAlphaPipeline,
    PixArtTransformer2DModel,
    StableDiffusionPipeline,
    StableDiffusionXLPipeline,
    UNet2DConditionModel,
)
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
from transformers import (
    CLIPTextConfig,
    CLIPTextModel,
    CLIPTextModelWithProjection,
    CLIPTokenizer,
    T5Config,
    T5EncoderModel,
    T5TokenizerFast,
)

BOS_TOKEN = "<|startoftext|>"
EOS_TOKEN = "<|endoftext|>"
MAX_LENGTH = 77
FAMILIES = ("sd", "sdxl", "ldm", "pixart")
#: Words the T5 tokenizer knows whole; any other printable ASCII text is spelled out character by character.
_T5_WORDS = ("a", "an", "the", "of", "and", "on", "in", "with", "at", "photo", "cat", "dog", "red", "blue", "sunset")

# A few frequent English merges, applied in order; each side must already be a token.
_MERGES = (
    ("t", "h"),
    ("i", "n"),
    ("a", "n"),
    ("e", "r"),
    ("o", "n"),
    ("r", "e"),
    ("a", "t"),
    ("e", "n"),
    ("o", "r"),
    ("s", "t"),
    ("th", "e</w>"),
    ("o", "f</w>"),
    ("an", "d</w>"),
    ("in", "g</w>"),
    ("e", "d</w>"),
    ("t", "o</w>"),
    ("i", "s</w>"),
    ("o", "n</w>"),
    ("i", "n</w>"),
    ("a", "t</w>"),
    ("e", "s</w>"),
    ("e", "r</w>"),
    ("o", "u"),
    ("a", "r"),
    ("a", "l</w>"),
    ("t", "h</w>"),
    ("w", "i"),
    ("wi", "th</w>"),
    ("p", "h"),
    ("ph", "o"),
    ("pho", "to</w>"),
)


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP byte-level alphabet: every byte mapped to a printable unicode character."""
    printable = (
        list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    )
    byte_values, code_points = printable[:], printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            byte_values.append(byte)
            code_points.append(256 + extra)
            extra += 1
    return dict(zip(byte_values, map(chr, code_points), strict=True))


def _write_tokenizer_files(directory: Path) -> None:
    """Writes a CLIP-style `vocab.json` and `merges.txt` into `directory`."""
    alphabet = list(_bytes_to_unicode().values())
    tokens = alphabet + [char + "</w>" for char in alphabet]
    known = set(tokens)
    for left, right in _MERGES:
        if left not in known or right not in known:
            raise ValueError(f"Merge {left!r} + {right!r} uses a token that is not in the vocabulary yet.")
        tokens.append(left + right)
        known.add(left + right)
    tokens += [BOS_TOKEN, EOS_TOKEN]

    vocab = {token: index for index, token in enumerate(tokens)}
    if len(vocab) != len(tokens):
        raise ValueError("The tiny tokenizer vocabulary contains duplicate tokens.")
    (directory / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    merges = "\n".join(f"{left} {right}" for left, right in _MERGES)
    (directory / "merges.txt").write_text(f"#version: 0.2\n{merges}\n", encoding="utf-8")


def _build_tokenizer() -> CLIPTokenizer:
    """Byte-level BPE CLIP tokenizer with a tiny vocabulary, padding and truncating to 77 tokens."""
    with tempfile.TemporaryDirectory() as directory:
        _write_tokenizer_files(Path(directory))
        return CLIPTokenizer.from_pretrained(directory, model_max_length=MAX_LENGTH)


def _build_t5_tokenizer() -> T5TokenizerFast:
    """A T5 (SentencePiece-style Unigram) tokenizer with a tiny vocabulary, ending every text with `</s>`."""
    characters = [chr(code) for code in range(33, 127)]
    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -3.0)]
    pieces += [("▁" + word, -2.0) for word in _T5_WORDS]
    pieces += [(piece, -4.0) for char in characters for piece in (char, "▁" + char)]
    tokenizer = Tokenizer(models.Unigram(pieces, unk_id=2, byte_fallback=False))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    tokenizer.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return T5TokenizerFast(
        tokenizer_object=tokenizer,
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        extra_ids=0,
        model_max_length=MAX_LENGTH,
    )


def _build_vae(seed: int) -> AutoencoderKL:
    """The 8x autoencoder every family shares (4 latent channels)."""
    torch.manual_seed(seed)
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(8, 8, 8, 8),
        layers_per_block=1,
        norm_num_groups=4,
        latent_channels=4,
        sample_size=64,
    )


def _build_scheduler() -> DDIMScheduler:
    """Stable Diffusion's DDIM schedule."""
    return DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )


def _build_tiny_pixart(seed: int, vae: AutoencoderKL, scheduler: DDIMScheduler) -> PixArtAlphaPipeline:
    """PixArt-α's layout: a patch-2 transformer over the 8x8 training latent (16 tokens), T5 text encoder."""
    tokenizer = _build_t5_tokenizer()
    torch.manual_seed(seed)
    text_encoder = T5EncoderModel(
        T5Config(
            vocab_size=len(tokenizer),
            d_model=32,
            d_kv=8,
            d_ff=37,
            num_layers=2,
            num_heads=4,
            relative_attention_num_buckets=8,
            dropout_rate=0.0,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
    )
    torch.manual_seed(seed)
    transformer = PixArtTransformer2DModel(
        sample_size=8,
        patch_size=2,
        in_channels=4,
        out_channels=8,
        num_layers=2,
        num_attention_heads=2,
        attention_head_dim=8,
        cross_attention_dim=16,
        caption_channels=32,
        attention_bias=True,
        activation_fn="gelu-approximate",
        num_embeds_ada_norm=1000,
        norm_type="ada_norm_single",
        norm_elementwise_affine=False,
        norm_eps=1e-6,
    )
    return PixArtAlphaPipeline(
        tokenizer=tokenizer, text_encoder=text_encoder, vae=vae, transformer=transformer, scheduler=scheduler
    )


def build_tiny_pipeline(seed: int = 0, family: str = "sd") -> DiffusionPipeline:
    """
    Builds a tiny pipeline of `family` ("sd", "sdxl", "ldm" or "pixart"); the weights depend only on `seed`.

    The training latent is 8x8 (64 px images). In the UNet, self-attention runs on 8x8 tokens in `down_blocks.0` /
    `up_blocks.1` and on 4x4 tokens in `mid_block`; in PixArt's transformer, on 4x4 patches of 2x2.
    """
    if family not in FAMILIES:
        raise ValueError(f"Unknown family {family!r}; choose one of {', '.join(FAMILIES)}.")
    vae, scheduler = _build_vae(seed), _build_scheduler()
    if family == "pixart":
        return _build_tiny_pixart(seed, vae, scheduler)
    tokenizer = _build_tokenizer()
    sdxl = family == "sdxl"

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        sample_size=8,
        in_channels=4,
        out_channels=4,
        block_out_channels=(16, 32),
        layers_per_block=1,
        norm_num_groups=8,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=64 if sdxl else 32,
        attention_head_dim=(2, 4),  # number of heads per block
        **(
            {
                "addition_embed_type": "text_time",
                "addition_time_embed_dim": 8,
                # six time ids of 8 dims each, plus the pooled projection of the second text encoder
                "projection_class_embeddings_input_dim": 6 * 8 + 32,
                "use_linear_projection": True,
            }
            if sdxl
            else {}
        ),
    )

    text_config = CLIPTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=MAX_LENGTH,
        projection_dim=32,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    text_encoder = CLIPTextModel(text_config)

    if family == "ldm":
        return LDMTextToImagePipeline(vqvae=vae, bert=text_encoder, tokenizer=tokenizer, unet=unet, scheduler=scheduler)
    if sdxl:
        torch.manual_seed(seed + 1)
        text_encoder_2 = CLIPTextModelWithProjection(text_config)
        return StableDiffusionXLPipeline(
            vae=vae,
            text_encoder=text_encoder,
            text_encoder_2=text_encoder_2,
            tokenizer=tokenizer,
            tokenizer_2=_build_tokenizer(),
            unet=unet,
            scheduler=scheduler,
            force_zeros_for_empty_prompt=False,
        )
    return StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def save_tiny_pipeline(path: str | os.PathLike, seed: int = 0, family: str = "sd") -> Path:
    """
    Saves the tiny pipeline of `family` to `path` for `DiffusionPipeline.from_pretrained(path)`; returns `path`.

    Does nothing if `path/model_index.json` already exists. The pipeline is written to a sibling temporary directory
    and moved into place, so an interrupted save never leaves a half-written pipeline behind.
    """
    path = Path(path)
    if (path / "model_index.json").is_file():
        return path
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise FileExistsError(f"{path} exists and is not a saved pipeline; refusing to overwrite it.")

    path.parent.mkdir(parents=True, exist_ok=True)
    # A folder, not a file: evalsite.files.atomic_path stages a single file, so the folder is staged and renamed here.
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=path.parent))
    try:
        build_tiny_pipeline(seed, family).save_pretrained(staging)
        try:
            # replaces `path` only if it is missing or an empty directory
            os.replace(staging, path)
        except OSError:
            if not (path / "model_index.json").is_file():
                raise
            # saved concurrently by another process
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path
