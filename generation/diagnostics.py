"""The method's theory, measured: self-attention entropy against the number of tokens.

The supplement's proof gives, for a query `Q_i` and Gaussian keys, `Ent(A_i) ≈ log N - σ_i² / 2` with
`σ_i² = λ² Q_i Σ Q_iᵀ`: at the usual `λ = 1/√d` the entropy drifts with `log N`, and the scale
`λ = √(log_T N / d)` turns the `σ²` term into one that grows with `log N` too, cancelling the drift to first order
when `σ² = 2 log T` at the training size. [`synthetic_entropy`] checks this on random tokens;
[`measure_attention_entropy`] measures it in a real UNet, for both arms, with a recording processor that leaves
the image path untouched.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import torch
from diffusers import UNet2DConditionModel
from diffusers.models.attention_processor import Attention, AttnProcessor2_0
from matplotlib.figure import Figure

from evalsite.files import atomic_path
from evalsite.progress import BarFactory, NoBar

from .scaling import (
    Denoiser,
    EntropyScaledAttnProcessor,
    apply_entropy_scaling,
    denoiser_of,
    exact_size_arguments,
    patch_size,
    remove_entropy_scaling,
    self_attention_tokens,
    unet_level,
)

if TYPE_CHECKING:  # the Django models behind `pipelines` are not needed to measure
    from .pipelines import LoadedModel

ARMS = ("baseline", "ours")
COLUMNS = ["size", "arm", "layer", "level", "n_tokens", "train_tokens", "entropy"]

# largest logits block (queries x keys) materialised at once; bounds memory at high resolutions
_MAX_BLOCK_ELEMENTS = 1 << 24


def attention_entropy(probs: torch.Tensor) -> torch.Tensor:
    """Mean over rows of the row entropy `-Σ_j A_ij log A_ij` of attention probabilities (last dim); `0 log 0 = 0`."""
    return -torch.special.xlogy(probs, probs).sum(dim=-1).mean()


def _scaled_entropy(query: torch.Tensor, key: torch.Tensor, *, scale: float) -> torch.Tensor:
    """Mean row entropy of `softmax(scale · query keyᵀ)` for `(..., queries, d)` and `(..., keys, d)`, in blocks."""
    # (..., queries, d) -> (rows, queries, d) with rows = product of the leading dims
    query = query.reshape(-1, *query.shape[-2:]).float()
    key = key.reshape(-1, *key.shape[-2:]).float()
    rows, n_queries, n_keys = query.shape[0], query.shape[1], key.shape[1]
    chunk = max(1, _MAX_BLOCK_ELEMENTS // n_keys)
    total = torch.zeros((), dtype=torch.float64, device=query.device)
    for row in range(rows):
        for start in range(0, n_queries, chunk):
            # (chunk, keys)
            probs = torch.softmax(scale * query[row, start : start + chunk] @ key[row].T, dim=-1)
            total += -torch.special.xlogy(probs, probs).sum(dtype=torch.float64)
    return total / (rows * n_queries)


def synthetic_entropy(n_tokens: int, dim: int, *, scale: float, seed: int, token_std: float = 1.0) -> float:
    """
    Mean attention entropy of `softmax(scale · Q Kᵀ)` for `n_tokens` queries and keys drawn i.i.d. from
    `N(0, token_std² I_dim)` with a generator seeded by `seed`.

    With `scale = c/√dim` the logits of one query are Gaussian with variance `σ² ≈ c² token_std⁴`, the quantity the
    proof's `Ent ≈ log N - σ²/2` is about.
    """
    if n_tokens < 1 or dim < 1:
        raise ValueError(f"`n_tokens` and `dim` must be >= 1, got {n_tokens} and {dim}.")
    generator = torch.Generator().manual_seed(seed)
    query = torch.randn(n_tokens, dim, generator=generator) * token_std
    key = torch.randn(n_tokens, dim, generator=generator) * token_std
    return float(_scaled_entropy(query, key, scale=scale))


@dataclass
class EntropyRecorder:
    """Self-attention entropies recorded per layer, one sample per processor call, and each layer's key count."""

    samples: dict[str, list[float]] = field(default_factory=dict)
    tokens: dict[str, int] = field(default_factory=dict)

    def record(self, layer: str, *, n_tokens: int, entropy: float) -> None:
        if self.tokens.setdefault(layer, n_tokens) != n_tokens:
            raise ValueError(f"Layer {layer} attended over {n_tokens} tokens, earlier over {self.tokens[layer]}.")
        self.samples.setdefault(layer, []).append(entropy)

    def mean_entropy(self) -> dict[str, float]:
        """Each layer's entropy averaged over its calls (denoising steps and prompts, equally weighted)."""
        return {layer: sum(values) / len(values) for layer, values in self.samples.items()}

    def install(self, denoiser: Denoiser) -> None:
        """Wraps the current processor of every self-attention layer of `denoiser` in a [`RecordingAttnProcessor`]."""
        processors = {}
        for name, processor in denoiser.attn_processors.items():
            module = denoiser.get_submodule(name.removesuffix(".processor"))
            if isinstance(module, Attention) and not module.is_cross_attention:
                processor = RecordingAttnProcessor(processor, layer=name, recorder=self)
            processors[name] = processor
        denoiser.set_attn_processor(processors)


class RecordingAttnProcessor:
    r"""
    Self-attention processor that records the entropy of `softmax(λ QKᵀ)` and returns exactly what `inner` returns.

    `λ` is the scale `inner` uses: `1/√d` for [`AttnProcessor2_0`], `factor_for(N)/√d` for
    [`EntropyScaledAttnProcessor`]. The output is `inner`'s own, so images are unchanged by recording.

    Args:
        inner: The arm's processor, which computes the output.
        layer (`str`): Name under which samples are recorded.
        recorder ([`EntropyRecorder`]): Where samples go.
    """

    def __init__(self, inner: AttnProcessor2_0 | EntropyScaledAttnProcessor, *, layer: str, recorder: EntropyRecorder):
        if not isinstance(inner, (AttnProcessor2_0, EntropyScaledAttnProcessor)):
            raise TypeError(
                f"Cannot tell the attention scale of {type(inner).__name__}; expected AttnProcessor2_0 or "
                "EntropyScaledAttnProcessor."
            )
        if getattr(inner, "interleaved", False):
            raise ValueError("An interleaved processor scales half the batch; record each arm on its own instead.")
        self.inner = inner
        self.layer = layer
        self.recorder = recorder

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.inner!r}, layer={self.layer!r})"

    def scale_for(self, *, n_tokens: int, head_dim: int) -> float:
        """The logit scale `λ` the inner processor uses over `n_tokens` keys."""
        factor = self.inner.factor_for(n_tokens) if isinstance(self.inner, EntropyScaledAttnProcessor) else 1.0
        return factor / math.sqrt(head_dim)

    @torch.no_grad()
    def entropy(
        self, attn: Attention, hidden_states: torch.Tensor, temb: torch.Tensor | None = None
    ) -> tuple[int, float]:
        """`(N, mean entropy over batch, heads and queries)` of this layer's self-attention on `hidden_states`."""
        if attn.spatial_norm is not None:
            hidden_states = attn.spatial_norm(hidden_states, temb)
        if hidden_states.ndim == 4:
            batch_size, channel, height, width = hidden_states.shape
            # (batch, channel, height, width) -> (batch, height * width, channel)
            hidden_states = hidden_states.view(batch_size, channel, height * width).transpose(1, 2)
        batch_size = hidden_states.shape[0]
        if attn.group_norm is not None:
            hidden_states = attn.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)

        query = attn.to_q(hidden_states)
        key = attn.to_k(hidden_states)
        head_dim = key.shape[-1] // attn.heads
        # (batch, seq_len, heads * head_dim) -> (batch, heads, seq_len, head_dim)
        query = query.view(batch_size, -1, attn.heads, head_dim).transpose(1, 2)
        key = key.view(batch_size, -1, attn.heads, head_dim).transpose(1, 2)
        if attn.norm_q is not None:
            query = attn.norm_q(query)
        if attn.norm_k is not None:
            key = attn.norm_k(key)

        n_tokens = key.shape[-2]
        scale = self.scale_for(n_tokens=n_tokens, head_dim=head_dim)
        return n_tokens, float(_scaled_entropy(query, key, scale=scale))

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
        if encoder_hidden_states is not None:
            raise ValueError(f"{self.__class__.__name__} records self-attention only; got `encoder_hidden_states`.")
        if attention_mask is not None:
            raise ValueError(f"{self.__class__.__name__} does not support attention masks.")
        n_tokens, entropy = self.entropy(attn, hidden_states, temb)
        self.recorder.record(self.layer, n_tokens=n_tokens, entropy=entropy)
        return self.inner(attn, hidden_states, encoder_hidden_states, attention_mask, temb, *args, **kwargs)


def _record_arm(
    loaded: "LoadedModel",
    *,
    arm: str,
    prompts: Sequence[str],
    size: int,
    steps: int,
    seed: int,
    train_sample_size: int | tuple[int, int],
) -> dict[str, tuple[int, float]]:
    """`{layer: (N, mean entropy)}` for one arm at one size, the UNet's default processors restored afterwards."""
    pipe = loaded.pipeline
    recorder = EntropyRecorder()
    denoiser = denoiser_of(pipe)
    try:
        if arm == "ours":
            apply_entropy_scaling(denoiser, train_sample_size)
        else:
            remove_entropy_scaling(denoiser)
        recorder.install(denoiser)
        for prompt in prompts:
            with torch.inference_mode():
                pipe(
                    prompt,
                    height=size,
                    width=size,
                    num_inference_steps=steps,
                    generator=torch.Generator(device="cpu").manual_seed(seed),
                    output_type="latent",
                    **exact_size_arguments(pipe),
                )
    finally:
        remove_entropy_scaling(denoiser)
    means = recorder.mean_entropy()
    return {layer: (recorder.tokens[layer], means[layer]) for layer in means}


def measure_attention_entropy(
    loaded: "LoadedModel",
    *,
    prompts: Sequence[str],
    sizes: Sequence[int],
    steps: int,
    seed: int,
    train_sample_size: int | tuple[int, int] | None = None,
    bar: BarFactory = NoBar,
) -> pd.DataFrame:
    """
    Mean self-attention entropy per layer, for each square size (pixels) and arm, averaged over heads, queries,
    denoising steps and prompts; every run starts from the same seed. `train_sample_size` (latent units, as for
    [`apply_entropy_scaling`]) defaults to the UNet's `sample_size`. `bar` shows the (size, arm) runs done
    (`evalsite.progress`).

    Returns a frame with columns `size, arm, layer, level, n_tokens, train_tokens, entropy`, one row per
    (size, arm, self-attention layer).
    """
    if not prompts:
        raise ValueError("Give at least one prompt.")
    if not sizes:
        raise ValueError("Give at least one size.")
    denoiser = denoiser_of(loaded.pipeline)
    multiple = loaded.pipeline.vae_scale_factor * patch_size(denoiser)
    if bad := [size for size in sizes if size % multiple]:
        raise ValueError(
            f"{type(loaded.pipeline).__name__} needs sizes that are multiples of {multiple} pixels; got "
            f"{', '.join(map(str, bad))}."
        )
    train_sample_size = train_sample_size or denoiser.config.sample_size
    train_tokens = self_attention_tokens(denoiser, train_sample_size)
    rows = []
    with bar(total=len(sizes) * len(ARMS), desc="attention entropy", unit="run") as progress:
        for size in sizes:
            for arm in ARMS:
                recorded = _record_arm(
                    loaded,
                    arm=arm,
                    prompts=prompts,
                    size=size,
                    steps=steps,
                    seed=seed,
                    train_sample_size=train_sample_size,
                )
                for layer, (n_tokens, entropy) in recorded.items():
                    rows.append(
                        {
                            "size": size,
                            "arm": arm,
                            "layer": layer.removesuffix(".processor"),
                            "level": unet_level(denoiser, layer) if isinstance(denoiser, UNet2DConditionModel) else 0,
                            "n_tokens": n_tokens,
                            "train_tokens": train_tokens[layer],
                            "entropy": entropy,
                        }
                    )
                progress.update(1)
    return pd.DataFrame(rows, columns=COLUMNS)


def plot_attention_entropy(frame: pd.DataFrame, path_png: str | Path) -> Path:
    """
    Entropy against image size (log scale, so linear in `log N`), one panel per UNet level: a thin line per layer,
    a thick line for the level's mean, per arm, and dotted references at the training size and its entropy.
    """
    missing = sorted(set(COLUMNS) - set(frame.columns))
    if missing or frame.empty:
        raise ValueError(f"Need a non-empty frame with columns {COLUMNS}; missing {missing}.")
    colors = {"baseline": "tab:blue", "ours": "tab:orange"}
    labels = {"baseline": "baseline (1/√d)", "ours": "ours (√(log_T N / d))"}
    levels = sorted(frame["level"].unique())
    # a bare Figure (no pyplot): no global figure registry, no interactive backend
    fig = Figure(figsize=(4.2 * len(levels), 3.6), layout="tight")
    axes = fig.subplots(1, len(levels), squeeze=False, sharex=True)
    for ax, level in zip(axes[0], levels, strict=True):
        at_level = frame[frame["level"] == level]
        for arm in ARMS:
            rows = at_level[at_level["arm"] == arm]
            for _, layer_rows in rows.groupby("layer"):
                layer_rows = layer_rows.sort_values("size")
                ax.plot(layer_rows["size"], layer_rows["entropy"], color=colors[arm], alpha=0.25, linewidth=0.8)
            mean = rows.groupby("size")["entropy"].mean()
            ax.plot(mean.index, mean.values, color=colors[arm], marker="o", linewidth=2, label=labels[arm])
        trained = at_level[at_level["n_tokens"] == at_level["train_tokens"]]
        if not trained.empty:
            ax.axhline(trained["entropy"].mean(), color="grey", linestyle=":", linewidth=1, label="training size")
            ax.axvline(trained["size"].iloc[0], color="grey", linestyle=":", linewidth=1)
        ax.set_xscale("log")
        sizes = sorted(frame["size"].unique())
        ax.set_xticks(sizes, [str(size) for size in sizes])
        ax.minorticks_off()
        ax.set_title(f"UNet level {level} (T = {at_level['train_tokens'].iloc[0]} tokens)")
        ax.set_xlabel("image size (px, log scale ∝ log N)")
        ax.set_ylabel("self-attention entropy (nats)")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize="small")
    path = Path(path_png)
    with atomic_path(path) as temp:
        fig.savefig(temp, format="png", dpi=150)
    return path
