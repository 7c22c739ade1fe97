"""Pair generation speed: EvalSite's fused batch against diffusers' own pipeline, in the same run.

    python bench/generation.py                                  # CPU, the tiny model, 64 and 128 px
    python bench/generation.py --model sd21-shaped --device cuda --dtype float16 --sizes 224 512 768 --steps 20

Each measurement runs in its own process, so that its peak memory (RSS on the CPU, allocated CUDA memory on a GPU)
is its own. Reported for each size:
- diffusers, one prompt per call (images/s);
- diffusers, one call with --batch prompts (images/s);
- EvalSite, one fused call with --batch pairs: 2 x batch images, both arms (images/s);
- the "ours" arm's cost: the fused call's time against diffusers' call with the same 2 x batch samples, all baseline.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROMPTS = [
    "A lighthouse on a rocky coast at sunset", "Two cats sleeping on a blue sofa",
    "A red bicycle leaning against a brick wall", "A bowl of fresh strawberries on a wooden table",
    "An astronaut riding a horse in the desert", "A snowy mountain village at night",
    "A vintage car parked on a cobblestone street", "A golden retriever playing in autumn leaves",
]
MODES = ("diffusers-single", "diffusers-batched", "diffusers-batched-2x", "evalsite-fused")


def sd21_shaped_pipeline(dtype):
    """A Stable Diffusion 2.1-base-shaped pipeline with random weights (the real model's configs, no download)."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from generation.tiny import build_tiny_pipeline

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=64, cross_attention_dim=1024, attention_head_dim=(5, 10, 20, 20), use_linear_projection=True,
        block_out_channels=(320, 640, 1280, 1280),
    )
    vae = AutoencoderKL(
        block_out_channels=(128, 256, 512, 512), down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4, layers_per_block=2, latent_channels=4, sample_size=512,
    )
    tokenizer = build_tiny_pipeline().tokenizer
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=1024, intermediate_size=4096, num_hidden_layers=23,
        num_attention_heads=16, hidden_act="gelu", projection_dim=512, max_position_embeddings=77,
    ))
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                              clip_sample=False, set_alpha_to_one=False, steps_offset=1)
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                   scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    return pipe.to(dtype=dtype)


def measure(args) -> dict:
    """One measurement (in this process): median seconds per call over --repeats after one warm-up call."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evalsite.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    import torch

    from generation.pairs import generate_pairs
    from generation.pipelines import LoadedModel, pick_dtype
    from generation.tiny import build_tiny_pipeline

    device = torch.device(args.device)
    dtype = pick_dtype(device, args.dtype)
    pipe = sd21_shaped_pipeline(dtype) if args.model == "sd21-shaped" else build_tiny_pipeline().to(dtype=dtype)
    pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    loaded = LoadedModel(pipe, pipe.scheduler, device, dtype)
    prompts = [PROMPTS[i % len(PROMPTS)] for i in range(args.batch)]
    common = {"width": args.size, "height": args.size, "num_inference_steps": args.steps,
              "guidance_scale": 7.5, "output_type": "pil"}

    def call():
        if args.mode == "diffusers-single":
            for i, prompt in enumerate(prompts):
                pipe(prompt, generator=torch.Generator("cpu").manual_seed(i), **common)
            return len(prompts)
        if args.mode in ("diffusers-batched", "diffusers-batched-2x"):
            batch = prompts if args.mode == "diffusers-batched" else [p for p in prompts for _ in range(2)]
            generators = [torch.Generator("cpu").manual_seed(i) for i in range(len(batch))]
            pipe(batch, generator=generators, **common)
            return len(batch)
        generate_pairs(loaded, prompts=prompts, seeds=list(range(len(prompts))), width=args.size, height=args.size,
                       steps=args.steps, guidance_scale=7.5, scheduler="default")
        return 2 * len(prompts)

    def timed():
        if device.type == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        images = call()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - started, images

    timed()  # warm-up
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    runs = [timed() for _ in range(args.repeats)]
    seconds = statistics.median(run[0] for run in runs)
    result = {"seconds": seconds, "images": runs[0][1], "images_per_s": runs[0][1] / seconds}
    if device.type == "cuda":
        result["peak_gib"] = torch.cuda.max_memory_allocated() / 2**30
    return result


def run_isolated(args, mode: str, size: int) -> dict:
    """Run one measurement in a child process; add its peak RSS when on the CPU."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        command = [sys.executable, __file__, "--measure", mode, "--size", str(size), "--out", out.name,
                   "--model", args.model, "--device", args.device, "--dtype", args.dtype, "--steps", str(args.steps),
                   "--batch", str(args.batch), "--repeats", str(args.repeats)]
        process = subprocess.Popen(command, cwd=ROOT)
        _pid, status, usage = os.wait4(process.pid, 0)
        if status != 0:
            raise SystemExit(f"measurement {mode} at {size} px failed with status {status}")
        result = json.loads(Path(out.name).read_text())
    result.setdefault("peak_gib", usage.ru_maxrss / 2**20)  # ru_maxrss is in KiB on Linux
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=["tiny", "sd21-shaped"], default="tiny")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="", help="float32, float16 or bfloat16 (default: by device)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=8, help="prompts (pairs) per batched call")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--measure", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        args.mode = args.measure
        Path(args.out).write_text(json.dumps(measure(args)))
        return

    print(f"model={args.model} device={args.device} dtype={args.dtype or 'auto'} steps={args.steps} "
          f"batch={args.batch} repeats={args.repeats}")
    print("| size | diffusers 1/call img/s | diffusers batched img/s | EvalSite fused img/s | vs batched | vs 1/call "
          "| ours-arm cost | peak (GiB) diffusers batched / EvalSite |")
    print("|---|---|---|---|---|---|---|---|")
    for size in args.sizes:
        r = {mode: run_isolated(args, mode, size) for mode in MODES}
        fused, batched, single = r["evalsite-fused"], r["diffusers-batched"], r["diffusers-single"]
        cost = fused["seconds"] / r["diffusers-batched-2x"]["seconds"] - 1
        print(f"| {size}² | {single['images_per_s']:.2f} | {batched['images_per_s']:.2f} | "
              f"{fused['images_per_s']:.2f} | {fused['images_per_s'] / batched['images_per_s']:.2f}× | "
              f"{fused['images_per_s'] / single['images_per_s']:.2f}× | {cost * 100:+.1f}% | "
              f"{batched['peak_gib']:.2f} / {fused['peak_gib']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
