"""Entropy-invariant attention scaling for running a diffusion UNet at an untrained resolution.

Self-attention normally scales the logits by `1 / sqrt(d)`. When a model trained on `T` tokens per layer is run on
`N != T` tokens, the entropy of the attention distribution drifts with `log N`. Replacing the scale by
`sqrt(log_T N / d) = (1 / sqrt(d)) * sqrt(log N / log T)` keeps it approximately at its training value.

Only self-attention is rescaled: cross-attention attends over the text tokens, whose count does not depend on the
resolution. At the training resolution the factor is exactly `1.0` and the processor calls
`F.scaled_dot_product_attention` exactly as diffusers' `AttnProcessor2_0` does, so outputs are bit-identical.

Example:

```py
>>> pipe = StableDiffusionPipeline.from_pretrained("stabilityai/stable-diffusion-2-1-base")
>>> apply_entropy_scaling(pipe.unet)  # T per layer from `unet.config.sample_size`
>>> image = pipe("a photo of a cat", height=1024, width=1024).images[0]
>>> remove_entropy_scaling(pipe.unet)
```
"""

import math
import re

import torch
import torch.nn.functional as F
from diffusers import PixArtAlphaPipeline, PixArtTransformer2DModel, UNet2DConditionModel
from diffusers.models.attention_processor import Attention, AttnProcessor2_0
from diffusers.utils import deprecate

_BLOCK_NAME_PATTERN = re.compile(r"^(down_blocks|up_blocks)\.(\d+)\.")

#: The denoisers whose self-attention layers this module places: UNets (SD, SDXL, LDM) and PixArt's transformer.
Denoiser = UNet2DConditionModel | PixArtTransformer2DModel


def denoiser_of(pipeline) -> Denoiser:
    """A pipeline's denoising network: its UNet, or its transformer (PixArt)."""
    return pipeline.unet if hasattr(pipeline, "unet") else pipeline.transformer


def patch_size(denoiser: Denoiser) -> int:
    """The side, in latent pixels, of the patches a patch transformer (PixArt) cuts the latent into; 1 for a UNet.
    An image's sides must be multiples of this times the VAE's factor."""
    return getattr(denoiser.config, "patch_size", None) or 1


def exact_size_arguments(pipeline) -> dict:
    """Call arguments for images of exactly the size asked for: PixArt otherwise generates at the nearest of its
    trained aspect ratios and resizes the result."""
    return {"use_resolution_binning": False} if isinstance(pipeline, PixArtAlphaPipeline) else {}


def entropy_scale(n_tokens: int, n_train_tokens: int) -> float:
    r"""
    Multiplier `sqrt(log N / log T)` applied on top of the usual `1 / sqrt(d)` attention scale.

    Args:
        n_tokens (`int`):
            Number of key tokens `N` at inference. Must be >= 1; `N == 1` gives `0.0`, which is harmless because
            softmax over a single key is `1` whatever the scale.
        n_train_tokens (`int`):
            Number of key tokens `T` the layer saw during training. Must be >= 2 so that `log T > 0`.

    Returns:
        `float`: The multiplier; exactly `1.0` when `n_tokens == n_train_tokens`.
    """
    if n_tokens < 1:
        raise ValueError(f"`n_tokens` must be >= 1, got {n_tokens}.")
    if n_train_tokens < 2:
        raise ValueError(f"`n_train_tokens` must be >= 2 so that log(n_train_tokens) > 0, got {n_train_tokens}.")
    if n_tokens == n_train_tokens:
        return 1.0
    return math.sqrt(math.log(n_tokens) / math.log(n_train_tokens))


class EntropyScaledAttnProcessor:
    r"""
    Self-attention processor using the scale `sqrt(log N / log T) / sqrt(d)`, with `N` the number of keys at call
    time. Otherwise identical to [`AttnProcessor2_0`].

    Args:
        train_tokens (`int`):
            Number of tokens `T` this layer attends over at the training resolution.
        fold_into_query (`bool`, *optional*, defaults to `False`):
            If `True`, the factor multiplies the queries and SDPA keeps its default scale, instead of passing
            `scale=` to SDPA. Mathematically equivalent; useful for attention backends without a `scale` argument.
        interleaved (`bool`, *optional*, defaults to `False`):
            If `True`, the batch holds baseline/ours pairs interleaved (`[b_1, o_1, b_2, o_2, ...]`, also after
            classifier-free guidance concatenates two such halves): only the odd samples get the factor, folded into
            their queries, so one forward pass serves both arms.
    """

    def __init__(self, train_tokens: int, fold_into_query: bool = False, interleaved: bool = False):
        if not hasattr(F, "scaled_dot_product_attention"):
            raise ImportError("EntropyScaledAttnProcessor requires PyTorch 2.0, please upgrade PyTorch.")
        if train_tokens < 2:
            raise ValueError(f"`train_tokens` must be >= 2, got {train_tokens}.")
        self.train_tokens = train_tokens
        self.fold_into_query = fold_into_query
        self.interleaved = interleaved

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(train_tokens={self.train_tokens}, fold_into_query={self.fold_into_query}, "
            f"interleaved={self.interleaved})"
        )

    def factor_for(self, n_tokens: int) -> float:
        """Multiplier on `1 / sqrt(d)` used when attending over `n_tokens` keys."""
        return entropy_scale(n_tokens, self.train_tokens)

    def __call__(
        self,
        attn: Attention,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        temb: torch.Tensor | None = None,
        *args,
        **kwargs,
    ) -> torch.Tensor:
        self._check_arguments(encoder_hidden_states, args, kwargs)
        residual = hidden_states
        hidden_states, spatial_shape = _to_token_sequence(attn, hidden_states, temb)
        batch_size, sequence_length, _ = hidden_states.shape
        attention_mask = _per_head_mask(attn, attention_mask, sequence_length, batch_size)
        query, key, value, head_dim = _project_to_heads(attn, hidden_states, batch_size)
        hidden_states = self._attend(query, key, value, attention_mask, head_dim)
        return _to_output(attn, hidden_states, query.dtype, residual, spatial_shape, head_dim)

    def _check_arguments(self, encoder_hidden_states: torch.Tensor | None, args: tuple, kwargs: dict) -> None:
        """Refuse cross-attention; warn, as diffusers does, of the deprecated `scale` argument."""
        if encoder_hidden_states is not None:
            raise ValueError(
                f"{self.__class__.__name__} only supports self-attention, but `encoder_hidden_states` was passed. "
                "Keep `AttnProcessor2_0` on cross-attention layers."
            )
        if len(args) > 0 or kwargs.get("scale", None) is not None:
            deprecation_message = (
                "The `scale` argument is deprecated and will be ignored. Please remove it, as passing it will raise an"
                " error in the future. `scale` should directly be passed while calling the underlying pipeline"
                " component i.e., via `cross_attention_kwargs`."
            )
            deprecate("scale", "1.0.0", deprecation_message)

    def _attend(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        attention_mask: torch.Tensor | None,
        head_dim: int,
    ) -> torch.Tensor:
        """SDPA over (batch, heads, seq_len, head_dim) with this layer's factor; the output has the same layout."""
        factor = self.factor_for(key.shape[-2])
        if factor == 1.0:
            # exactly the call of `AttnProcessor2_0`, so the training resolution is bit-identical
            return F.scaled_dot_product_attention(
                query, key, value, attn_mask=attention_mask, dropout_p=0.0, is_causal=False
            )
        if self.interleaved:
            batch_size = query.shape[0]
            if batch_size % 2:
                raise ValueError(f"An interleaved baseline/ours batch must be even, got {batch_size} samples.")
            # (batch, heads, seq_len, head_dim): scale the queries of the odd ("ours") samples only
            # the projection's output is this processor's own tensor, so it is scaled in place
            query[1::2] *= factor
            return F.scaled_dot_product_attention(
                query, key, value, attn_mask=attention_mask, dropout_p=0.0, is_causal=False
            )
        if self.fold_into_query:
            return F.scaled_dot_product_attention(
                query * factor, key, value, attn_mask=attention_mask, dropout_p=0.0, is_causal=False
            )
        return F.scaled_dot_product_attention(
            query,
            key,
            value,
            attn_mask=attention_mask,
            dropout_p=0.0,
            is_causal=False,
            scale=factor / math.sqrt(head_dim),
        )


# The steps of `EntropyScaledAttnProcessor.__call__` around the attention itself, each as `AttnProcessor2_0` does it.


def _to_token_sequence(
    attn: Attention, hidden_states: torch.Tensor, temb: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Size | None]:
    """Apply the spatial norm, if any, and flatten a feature map to tokens; the map's shape, or None for tokens."""
    if attn.spatial_norm is not None:
        hidden_states = attn.spatial_norm(hidden_states, temb)
    if hidden_states.ndim != 4:
        return hidden_states, None
    spatial_shape = hidden_states.shape
    batch_size, channel, height, width = spatial_shape
    # (batch, channel, height, width) -> (batch, height * width, channel)
    return hidden_states.view(batch_size, channel, height * width).transpose(1, 2), spatial_shape


def _per_head_mask(
    attn: Attention, attention_mask: torch.Tensor | None, sequence_length: int, batch_size: int
) -> torch.Tensor | None:
    if attention_mask is None:
        return None
    attention_mask = attn.prepare_attention_mask(attention_mask, sequence_length, batch_size)
    # (batch * heads, 1 or target_length, source_length) -> (batch, heads, 1 or target_length, source_length)
    return attention_mask.view(batch_size, attn.heads, -1, attention_mask.shape[-1])


def _project_to_heads(
    attn: Attention, hidden_states: torch.Tensor, batch_size: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """Group norm, the query, key and value projections split into heads, and their norms; and the head size."""
    if attn.group_norm is not None:
        hidden_states = attn.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)

    if getattr(attn, "fused_projections", False) and getattr(attn, "to_qkv", None) is not None:
        # one GEMM for all three (`Attention.fuse_projections`), split as `FusedAttnProcessor2_0` splits it
        qkv = attn.to_qkv(hidden_states)
        query, key, value = torch.split(qkv, qkv.shape[-1] // 3, dim=-1)
    else:
        query = attn.to_q(hidden_states)
        key = attn.to_k(hidden_states)
        value = attn.to_v(hidden_states)

    inner_dim = key.shape[-1]
    head_dim = inner_dim // attn.heads

    # (batch, seq_len, heads * head_dim) -> (batch, heads, seq_len, head_dim)
    query = query.view(batch_size, -1, attn.heads, head_dim).transpose(1, 2)
    key = key.view(batch_size, -1, attn.heads, head_dim).transpose(1, 2)
    value = value.view(batch_size, -1, attn.heads, head_dim).transpose(1, 2)

    if attn.norm_q is not None:
        query = attn.norm_q(query)
    if attn.norm_k is not None:
        key = attn.norm_k(key)
    return query, key, value, head_dim


def _to_output(
    attn: Attention,
    hidden_states: torch.Tensor,
    dtype: torch.dtype,
    residual: torch.Tensor,
    spatial_shape: torch.Size | None,
    head_dim: int,
) -> torch.Tensor:
    """Merge the heads, project out, restore a feature map's shape, add the residual and rescale."""
    batch_size = hidden_states.shape[0]
    # (batch, heads, seq_len, head_dim) -> (batch, seq_len, heads * head_dim)
    hidden_states = hidden_states.transpose(1, 2).reshape(batch_size, -1, attn.heads * head_dim)
    hidden_states = hidden_states.to(dtype)

    # linear proj
    hidden_states = attn.to_out[0](hidden_states)
    # dropout
    hidden_states = attn.to_out[1](hidden_states)

    if spatial_shape is not None:
        # (batch, height * width, channel) -> (batch, channel, height, width)
        hidden_states = hidden_states.transpose(-1, -2).reshape(spatial_shape)

    if attn.residual_connection:
        hidden_states = hidden_states + residual

    return hidden_states / attn.rescale_output_factor


def _as_height_width(sample_size: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    """`(height, width)` of a latent sample size given as an int or a pair."""
    if isinstance(sample_size, int):
        height, width = sample_size, sample_size
    elif isinstance(sample_size, (tuple, list)) and len(sample_size) == 2:
        height, width = sample_size
    else:
        raise ValueError(f"`train_sample_size` must be an int or a (height, width) pair, got {sample_size!r}.")
    if not (isinstance(height, int) and isinstance(width, int) and height >= 1 and width >= 1):
        raise ValueError(f"`train_sample_size` must hold positive ints, got {sample_size!r}.")
    return height, width


def unet_level(unet: UNet2DConditionModel, processor_name: str) -> int:
    """Resolution level (0 = full latent resolution) of the attention layer with the given processor name."""
    num_levels = len(unet.down_blocks)
    if processor_name.startswith("mid_block."):
        return num_levels - 1
    match = _BLOCK_NAME_PATTERN.match(processor_name)
    if match is None:
        raise ValueError(f"Cannot place attention layer `{processor_name}` at a UNet resolution level.")
    kind, index = match.group(1), int(match.group(2))
    if kind == "down_blocks":
        return index
    return len(unet.up_blocks) - 1 - index


def self_attention_tokens(denoiser: Denoiser, sample_size: int | tuple[int, int] | list[int]) -> dict[str, int]:
    """Maps each self-attention processor name to its token count for a latent of `sample_size`.

    In a UNet, a layer sees the latent at its level, each level a stride-2 convolution below the previous one
    (`size -> ceil(size / 2)`); in a patch transformer (PixArt), every layer sees the latent's patches.
    """
    height, width = _as_height_width(sample_size)
    if isinstance(denoiser, UNet2DConditionModel):
        level_sizes = [(height, width)]
        for _ in range(len(denoiser.down_blocks) - 1):
            height, width = -(-height // 2), -(-width // 2)
            level_sizes.append((height, width))

        def tokens_of(name: str) -> int:
            level_height, level_width = level_sizes[unet_level(denoiser, name)]
            return level_height * level_width

    else:
        patch = patch_size(denoiser)
        if height % patch or width % patch:
            raise ValueError(
                f"A {height}×{width} latent does not divide into the transformer's {patch}×{patch} patches: "
                f"use a width and height that are multiples of {patch} latent pixels."
            )
        patches = (height // patch) * (width // patch)

        def tokens_of(name: str) -> int:
            return patches

    tokens = {}
    for name in denoiser.attn_processors:
        module = denoiser.get_submodule(name.removesuffix(".processor"))
        if not isinstance(module, Attention):
            raise ValueError(f"Expected an `Attention` module at `{name}`, got {type(module).__name__}.")
        if not module.is_cross_attention:
            tokens[name] = tokens_of(name)
    return tokens


def scaling_is_identity(
    denoiser: Denoiser,
    sample_size: int | tuple[int, int] | list[int],
    train_sample_size: int | tuple[int, int] | list[int] | None = None,
) -> bool:
    """Whether every self-attention layer attends over its training token count at latent size `sample_size`.

    Then every factor is exactly `1.0` and the scaled model computes bit for bit what the baseline computes.
    """
    if train_sample_size is None:
        train_sample_size = denoiser.config.sample_size
    return self_attention_tokens(denoiser, sample_size) == self_attention_tokens(denoiser, train_sample_size)


def apply_entropy_scaling(
    denoiser: Denoiser,
    train_sample_size: int | tuple[int, int] | list[int] | None = None,
    *,
    interleaved: bool = False,
) -> Denoiser:
    r"""
    Installs an [`EntropyScaledAttnProcessor`] on every self-attention layer of `denoiser` and [`AttnProcessor2_0`] on
    every other attention layer.

    Args:
        denoiser ([`UNet2DConditionModel`] or [`PixArtTransformer2DModel`]):
            The denoiser to modify in place.
        train_sample_size (`int` or `(int, int)`, *optional*):
            Training latent size, as an int or `(height, width)`. Defaults to `denoiser.config.sample_size`. The token
            count `T` of a layer is that of the training latent as the layer sees it (see
            [`self_attention_tokens`]).
        interleaved (`bool`, *optional*, defaults to `False`):
            Scale only the odd samples of every batch, for interleaved baseline/ours pairs (see
            [`EntropyScaledAttnProcessor`]).

    Returns:
        The denoiser, for chaining.
    """
    if train_sample_size is None:
        train_sample_size = denoiser.config.sample_size
    train_tokens = self_attention_tokens(denoiser, train_sample_size)
    if not train_tokens:
        raise ValueError("The model has no self-attention layer to rescale.")

    # `set_attn_processor` pops entries from the dict it is given, so build a fresh one
    processors = {
        name: EntropyScaledAttnProcessor(train_tokens[name], interleaved=interleaved)
        if name in train_tokens
        else AttnProcessor2_0()
        for name in denoiser.attn_processors
    }
    denoiser.set_attn_processor(processors)
    return denoiser


def use_interleaved_scaling(
    denoiser: Denoiser, train_sample_size: int | tuple[int, int] | list[int] | None = None
) -> Denoiser:
    """Interleaved baseline/ours processors for `train_sample_size` on `denoiser`, installed only where they are not
    already: processors that stay the same objects from batch to batch keep a compiled denoiser from recompiling.

    They can stay installed: at a size where every layer sees its training token count they compute exactly what
    the default processors do, for any batch.
    """
    if train_sample_size is None:
        train_sample_size = denoiser.config.sample_size
    train_tokens = self_attention_tokens(denoiser, train_sample_size)
    installed = denoiser.attn_processors
    if all(
        isinstance(processor, EntropyScaledAttnProcessor)
        and processor.interleaved
        and processor.train_tokens == train_tokens[name]
        if name in train_tokens
        else type(processor) is AttnProcessor2_0
        for name, processor in installed.items()
    ):
        return denoiser
    return apply_entropy_scaling(denoiser, train_sample_size, interleaved=True)


def remove_entropy_scaling(denoiser: Denoiser) -> Denoiser:
    """Restores [`AttnProcessor2_0`] on every attention layer of `denoiser` and returns it."""
    denoiser.set_attn_processor({name: AttnProcessor2_0() for name in denoiser.attn_processors})
    return denoiser


def is_entropy_scaling_applied(denoiser: Denoiser) -> bool:
    """Whether any attention layer of `denoiser` uses an [`EntropyScaledAttnProcessor`]."""
    return any(isinstance(processor, EntropyScaledAttnProcessor) for processor in denoiser.attn_processors.values())
