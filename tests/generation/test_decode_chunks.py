"""The fused batch's VAE decode in chunks: no activation of a decode call past 2**31 elements, the same images."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from generation import pairs
from generation.pairs import decode_batch_limit, decode_elements_per_pixel, generate_pairs
from generation.pipelines import LoadedModel
from generation.tiny import build_tiny_pipeline


def test_the_limit_keeps_the_largest_activation_within_2_to_the_31_elements():
    # SD 2.1's and PixArt-α's VAE: its largest activation is 256 channels at the image's size
    sd = SimpleNamespace(vae=SimpleNamespace(config=SimpleNamespace(block_out_channels=(128, 256, 512, 512))))
    assert decode_elements_per_pixel(sd.vae) == 256
    # 32 samples at 768² (16 pairs) would hold 9 GiB in one fp16 activation; 14 stay within 2**31 elements
    assert decode_batch_limit(sd, width=768, height=768) == 14
    assert decode_batch_limit(sd, width=512, height=512) == 32  # diffusers' own 32 prompts decode so too
    assert decode_batch_limit(sd, width=224, height=224) == 167
    assert decode_batch_limit(sd, width=8192, height=8192) == 1


@pytest.mark.parametrize("family", ["sd", "ldm", "pixart"])
def test_chunked_decode_makes_the_same_pairs(family, monkeypatch):
    pipe = build_tiny_pipeline(family=family)
    pipe.set_progress_bar_config(disable=True)
    loaded = LoadedModel(pipe, pipe.scheduler, torch.device("cpu"), torch.float32)
    arguments = {
        "prompts": ["A red bicycle", "Two cats on a sofa", "A snowy village"],
        "seeds": [3, 4, 5],
        "width": 96,
        "height": 64,
        "steps": 2,
        "guidance_scale": 5.0,
        "scheduler": "default",
    }
    whole = generate_pairs(loaded, **arguments)
    vae = pipe.vae if hasattr(pipe, "vae") else pipe.vqvae
    sizes = []
    original = type(vae).decode

    def counted(self, latents, *args, **kwargs):
        sizes.append(latents.shape[0])
        return original(self, latents, *args, **kwargs)

    monkeypatch.setattr(type(vae), "decode", counted)
    # at most 2 samples per decode call: the 6 samples of 3 pairs in 3 calls
    monkeypatch.setattr(pairs, "DECODE_ELEMENTS", 2 * decode_elements_per_pixel(vae) * 96 * 64 + 1)
    chunked = generate_pairs(loaded, **arguments)
    assert sizes == [2, 2, 2]
    assert "decode" not in vae.__dict__  # the VAE's own method again
    for first, second in zip(whole.pairs, chunked.pairs, strict=True):
        for a, b in ((first.baseline, second.baseline), (first.ours, second.ours)):
            difference = np.abs(np.asarray(a).astype(int) - np.asarray(b).astype(int)).max()
            assert difference <= 2
