import math

import pytest
import torch
from diffusers import UNet2DConditionModel
from diffusers.models.attention_processor import Attention, AttnProcessor2_0

from generation.scaling import (
    EntropyScaledAttnProcessor,
    apply_entropy_scaling,
    entropy_scale,
    is_entropy_scaling_applied,
    remove_entropy_scaling,
    scaling_is_identity,
    use_interleaved_scaling,
)
from generation.tiny import build_tiny_pipeline


def three_level_unet() -> UNet2DConditionModel:
    torch.manual_seed(0)
    return UNet2DConditionModel(
        sample_size=7,
        block_out_channels=(8, 16, 16),
        layers_per_block=1,
        norm_num_groups=8,
        down_block_types=("CrossAttnDownBlock2D",) * 3,
        up_block_types=("CrossAttnUpBlock2D",) * 3,
        cross_attention_dim=16,
        attention_head_dim=2,
    )


def tiny_unet() -> UNet2DConditionModel:
    return build_tiny_pipeline(seed=0).unet.eval()


def observed_self_attention_tokens(unet: UNet2DConditionModel, height: int, width: int) -> dict[str, int]:
    """Token count each self-attention layer actually sees for a latent of the given size."""
    seen, handles = {}, []
    for name, module in unet.named_modules():
        if isinstance(module, Attention) and not module.is_cross_attention:

            def hook(module, args, kwargs, name=name):
                hidden_states = args[0] if args else kwargs["hidden_states"]
                seen[f"{name}.processor"] = hidden_states.shape[1]

            handles.append(module.register_forward_pre_hook(hook, with_kwargs=True))
    try:
        run_unet(unet, height, width)
    finally:
        for handle in handles:
            handle.remove()
    return seen


def self_attention_train_tokens(unet: UNet2DConditionModel) -> dict[str, int]:
    processors = unet.attn_processors.items()
    return {name: p.train_tokens for name, p in processors if name.endswith("attn1.processor")}


def run_unet(unet: UNet2DConditionModel, height: int, width: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    channels = unet.config.in_channels
    sample = torch.randn(2, channels, height, width, generator=generator)
    context = torch.randn(2, 5, unet.config.cross_attention_dim, generator=generator)
    with torch.no_grad():
        return unet(sample, torch.tensor([10, 500]), encoder_hidden_states=context).sample


@pytest.mark.parametrize(
    ("latent", "expected"),
    [(28, 0.895), (96, 1.048), (128, 1.080)],  # SD 2.1 base at 224², 768², 1024² px
)
def test_entropy_scale_sd21_base_examples(latent, expected):
    assert round(entropy_scale(latent * latent, 64 * 64), 3) == expected


def test_entropy_scale_is_exactly_one_at_training_size_and_monotonic():
    for tokens in (2, 16, 64, 4096, 9216):
        assert entropy_scale(tokens, tokens) == 1.0
    assert entropy_scale(63, 64) < 1.0 < entropy_scale(65, 64)
    assert entropy_scale(1, 64) == 0.0
    assert entropy_scale(1000, 64) == pytest.approx(math.sqrt(math.log(1000) / math.log(64)))


@pytest.mark.parametrize(("n_tokens", "n_train_tokens"), [(0, 64), (-3, 64), (64, 1), (64, 0)])
def test_entropy_scale_rejects_bad_token_counts(n_tokens, n_train_tokens):
    with pytest.raises(ValueError):
        entropy_scale(n_tokens, n_train_tokens)


@pytest.mark.parametrize(
    ("train_sample_size", "level_tokens"),
    [
        (None, (49, 16, 4)),  # config sample_size 7: 7 -> 4 -> 2
        (7, (49, 16, 4)),
        ((6, 9), (54, 15, 6)),  # 6x9 -> 3x5 -> 2x3
        ([16, 8], (128, 32, 8)),
    ],
)
def test_apply_sets_train_tokens_per_level(train_sample_size, level_tokens):
    unet = apply_entropy_scaling(three_level_unet(), train_sample_size)
    expected_by_block = {
        "down_blocks.0.": level_tokens[0],
        "down_blocks.1.": level_tokens[1],
        "down_blocks.2.": level_tokens[2],
        "mid_block.": level_tokens[2],
        "up_blocks.0.": level_tokens[2],
        "up_blocks.1.": level_tokens[1],
        "up_blocks.2.": level_tokens[0],
    }
    processors = unet.attn_processors
    self_attention = {name: p for name, p in processors.items() if name.endswith("attn1.processor")}
    assert len(self_attention) == len(processors) // 2 == 10

    for name, processor in processors.items():
        if name.endswith("attn2.processor"):
            assert type(processor) is AttnProcessor2_0, name
            continue
        assert isinstance(processor, EntropyScaledAttnProcessor), name
        (expected,) = [tokens for prefix, tokens in expected_by_block.items() if name.startswith(prefix)]
        assert processor.train_tokens == expected, name


@pytest.mark.parametrize(("height", "width"), [(7, 7), (6, 9), (5, 3)])
def test_train_tokens_match_the_tokens_seen_at_that_size(height, width):
    unet = three_level_unet()
    seen = observed_self_attention_tokens(unet, height, width)
    apply_entropy_scaling(unet, (height, width))
    train_tokens = self_attention_train_tokens(unet)
    assert train_tokens == seen


def test_apply_on_tiny_unet_uses_its_config_sample_size():
    unet = apply_entropy_scaling(tiny_unet())
    train_tokens = self_attention_train_tokens(unet)
    assert train_tokens == {
        "down_blocks.0.attentions.0.transformer_blocks.0.attn1.processor": 64,
        "up_blocks.1.attentions.0.transformer_blocks.0.attn1.processor": 64,
        "up_blocks.1.attentions.1.transformer_blocks.0.attn1.processor": 64,
        "mid_block.attentions.0.transformer_blocks.0.attn1.processor": 16,
    }


def test_bit_identical_at_training_size_and_different_elsewhere():
    unet = tiny_unet()
    baseline = {size: run_unet(unet, *size) for size in [(8, 8), (12, 12), (5, 7)]}

    apply_entropy_scaling(unet)
    assert is_entropy_scaling_applied(unet)
    assert torch.equal(run_unet(unet, 8, 8), baseline[(8, 8)])
    for size in [(12, 12), (5, 7)]:
        scaled = run_unet(unet, *size)
        assert scaled.shape == baseline[size].shape
        assert (scaled - baseline[size]).abs().max() > 1e-4, size

    remove_entropy_scaling(unet)
    assert not is_entropy_scaling_applied(unet)
    assert all(type(p) is AttnProcessor2_0 for p in unet.attn_processors.values())
    for size, expected in baseline.items():
        assert torch.equal(run_unet(unet, *size), expected), size


@pytest.mark.parametrize(
    ("size", "train_size", "identical"),
    [
        ((8, 8), None, True),
        ((16, 4), None, True),  # 64 tokens at 16×4 and 16 at 8×2: the training counts at every level
        ((8, 9), None, False),
        ((7, 7), None, False),  # 49 tokens at level 0, though ceil(7 / 2) = 4 gives 16 at level 1 as in training
        ((12, 12), 12, True),
        ((12, 12), (12, 13), False),
    ],
)
def test_scaling_is_identity_where_every_layer_sees_its_training_tokens(size, train_size, identical):
    unet = tiny_unet()
    assert scaling_is_identity(unet, size, train_size) is identical
    reference = run_unet(unet, *size)
    apply_entropy_scaling(unet, train_size)
    assert torch.equal(run_unet(unet, *size), reference) is identical


def test_interleaved_scaling_is_installed_once_per_training_size():
    unet = tiny_unet()
    use_interleaved_scaling(unet)
    installed = unet.attn_processors
    assert {type(p) for p in installed.values()} == {EntropyScaledAttnProcessor, AttnProcessor2_0}
    assert all(p.interleaved for p in installed.values() if isinstance(p, EntropyScaledAttnProcessor))
    use_interleaved_scaling(unet, 8)  # the same training size: the same objects stay
    assert all(unet.attn_processors[name] is p for name, p in installed.items())
    use_interleaved_scaling(unet, 12)
    assert {p.train_tokens for p in unet.attn_processors.values() if isinstance(p, EntropyScaledAttnProcessor)} == {
        144,
        36,
    }
    apply_entropy_scaling(unet, 12)  # not interleaved: replaced by the next use
    use_interleaved_scaling(unet, 12)
    assert all(p.interleaved for p in unet.attn_processors.values() if isinstance(p, EntropyScaledAttnProcessor))


def test_apply_twice_replaces_previous_train_size():
    unet = apply_entropy_scaling(tiny_unet())
    reference = run_unet(tiny_unet(), 12, 12)
    assert not torch.equal(run_unet(unet, 12, 12), reference)
    apply_entropy_scaling(unet, 12)
    assert torch.equal(run_unet(unet, 12, 12), reference)


def reference_attention(attn: Attention, hidden_states: torch.Tensor, train_tokens: int) -> torch.Tensor:
    batch, n_tokens, _ = hidden_states.shape
    heads = attn.heads

    def split_heads(x):
        return x.view(batch, n_tokens, heads, -1).transpose(1, 2)

    query, key, value = (split_heads(proj(hidden_states)) for proj in (attn.to_q, attn.to_k, attn.to_v))
    head_dim = query.shape[-1]
    lam = math.sqrt(math.log(n_tokens) / math.log(train_tokens)) / math.sqrt(head_dim)
    weights = torch.softmax(lam * query @ key.transpose(-1, -2), dim=-1)
    out = (weights @ value).transpose(1, 2).reshape(batch, n_tokens, heads * head_dim)
    return attn.to_out[0](out)


@pytest.mark.parametrize("fold_into_query", [False, True])
@pytest.mark.parametrize("n_tokens", [100, 30])
def test_processor_matches_reference_attention(fold_into_query, n_tokens):
    torch.manual_seed(0)
    attn = Attention(query_dim=16, heads=2, dim_head=8).eval()
    attn.set_processor(EntropyScaledAttnProcessor(train_tokens=64, fold_into_query=fold_into_query))
    hidden_states = 3 * torch.randn(2, n_tokens, 16)

    with torch.no_grad():
        expected = reference_attention(attn, hidden_states, train_tokens=64)
        actual = attn(hidden_states)
        unscaled = AttnProcessor2_0()(attn, hidden_states)

    torch.testing.assert_close(actual, expected, atol=1e-5, rtol=1e-5)
    assert (actual - unscaled).abs().max() > 1e-3


def test_processor_factor_and_refusals():
    processor = EntropyScaledAttnProcessor(train_tokens=4096)
    assert processor.factor_for(4096) == 1.0
    assert processor.factor_for(784) == entropy_scale(784, 4096)

    attn = Attention(query_dim=16, heads=2, dim_head=8, cross_attention_dim=8)
    with pytest.raises(ValueError, match="self-attention"):
        processor(attn, torch.randn(1, 4, 16), encoder_hidden_states=torch.randn(1, 3, 8))
    with pytest.raises(ValueError):
        EntropyScaledAttnProcessor(train_tokens=1)


@pytest.mark.parametrize("train_sample_size", [(8,), (8, 0), 0, "8", (8.0, 8)])
def test_apply_rejects_bad_train_sample_size(train_sample_size):
    with pytest.raises(ValueError):
        apply_entropy_scaling(tiny_unet(), train_sample_size)


def test_apply_rejects_attention_it_cannot_place():
    unet = tiny_unet()
    unet.extra_attention = Attention(query_dim=16, heads=2, dim_head=8)
    with pytest.raises(ValueError, match="extra_attention"):
        apply_entropy_scaling(unet)
    assert not is_entropy_scaling_applied(unet)


def test_pipeline_with_scaling_at_training_size_and_above():
    pipe = build_tiny_pipeline(seed=0)

    def generate(height, width):
        generator = torch.Generator().manual_seed(0)
        kwargs = dict(height=height, width=width, num_inference_steps=2, output_type="np", generator=generator)
        return pipe("a photo of a cat", **kwargs).images

    default = {size: generate(*size) for size in [(64, 64), (96, 64)]}
    apply_entropy_scaling(pipe.unet)
    assert (generate(64, 64) == default[(64, 64)]).all()
    scaled = generate(96, 64)
    assert scaled.shape == default[(96, 64)].shape == (1, 96, 64, 3)
    assert not (scaled == default[(96, 64)]).all()
