import json

import pytest
import torch
from diffusers import DDIMScheduler, StableDiffusionPipeline

import generation.tiny
from generation.tiny import build_tiny_pipeline, save_tiny_pipeline


def state_dicts_equal(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_build_is_deterministic_per_seed():
    first, second, other = build_tiny_pipeline(0), build_tiny_pipeline(0), build_tiny_pipeline(1)
    for component in ("unet", "vae", "text_encoder"):
        assert state_dicts_equal(getattr(first, component), getattr(second, component)), component
        assert not state_dicts_equal(getattr(first, component), getattr(other, component)), component


def test_structure_is_stable_diffusion_like():
    pipe = build_tiny_pipeline()
    assert pipe.vae_scale_factor == 8
    assert pipe.unet.config.sample_size == 8
    assert pipe.safety_checker is None and pipe.feature_extractor is None
    assert isinstance(pipe.scheduler, DDIMScheduler)
    assert pipe.scheduler.config.beta_schedule == "scaled_linear"
    assert pipe.scheduler.config.steps_offset == 1
    assert pipe.text_encoder.config.vocab_size == len(pipe.tokenizer)
    self_attention = sorted(name for name in pipe.unet.attn_processors if name.endswith("attn1.processor"))
    assert [name.split(".")[0] for name in self_attention] == ["down_blocks", "mid_block", "up_blocks", "up_blocks"]


def test_tokenizer_handles_real_captions():
    tokenizer = build_tiny_pipeline().tokenizer
    assert tokenizer.model_max_length == 77
    caption = "A close-up photo of the old Café with two dogs, standing in the rain at night! 🌧"
    ids = tokenizer(caption, padding="max_length", max_length=77, truncation=True).input_ids
    assert len(ids) == 77
    assert ids[0] == tokenizer.bos_token_id
    content = ids[1 : ids.index(tokenizer.eos_token_id)]
    assert len(content) > 20  # byte-level fallback, no unknown tokens swallowed
    assert tokenizer.convert_ids_to_tokens(content[:3]) == ["a</w>", "c", "l"]
    assert all(i == tokenizer.pad_token_id for i in ids[ids.index(tokenizer.eos_token_id) :])

    plain = "a photo of the cat with glasses standing on wooden chairs"
    assert tokenizer.decode(tokenizer(plain).input_ids, skip_special_tokens=True) == plain
    assert "photo</w>" in tokenizer.tokenize(plain)

    long_ids = tokenizer(" ".join(["word"] * 200), padding="max_length", truncation=True).input_ids
    assert len(long_ids) == 77 and long_ids[-1] == tokenizer.eos_token_id


def test_save_load_and_generate(tmp_path):
    path = save_tiny_pipeline(tmp_path / "tiny")
    assert path == tmp_path / "tiny"
    index = json.loads((path / "model_index.json").read_text())
    assert index["safety_checker"] == [None, None]
    assert [p.name for p in tmp_path.iterdir()] == ["tiny"]  # no staging leftovers

    pipe = StableDiffusionPipeline.from_pretrained(path)
    built = build_tiny_pipeline(0)
    for component in ("unet", "vae", "text_encoder"):
        assert state_dicts_equal(getattr(pipe, component), getattr(built, component)), component
    caption = "a red bicycle leaning on a wall"
    assert pipe.tokenizer(caption).input_ids == built.tokenizer(caption).input_ids

    for height, width in [(64, 64), (96, 64)]:
        generator = torch.Generator().manual_seed(0)
        image = pipe(caption, height=height, width=width, num_inference_steps=2, generator=generator).images[0]
        assert image.size == (width, height)


def test_save_is_idempotent(tmp_path, monkeypatch):
    path = save_tiny_pipeline(tmp_path / "tiny", seed=0)
    before = {p: p.stat().st_mtime_ns for p in path.rglob("*")}

    def fail(seed=0):
        raise AssertionError("must not rebuild an existing pipeline")

    monkeypatch.setattr(generation.tiny, "build_tiny_pipeline", fail)
    assert save_tiny_pipeline(path, seed=1) == path
    assert {p: p.stat().st_mtime_ns for p in path.rglob("*")} == before


def test_save_into_empty_directory_and_refuse_foreign_one(tmp_path):
    (tmp_path / "empty").mkdir()
    assert (save_tiny_pipeline(tmp_path / "empty") / "unet" / "config.json").is_file()

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError):
        save_tiny_pipeline(foreign)
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]
