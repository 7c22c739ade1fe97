"""Feature extraction speed and memory of the FID / CLIP-score path, images streamed in batches.

    python bench/metrics.py                                   # CPU: tiny-random FID network and tiny CLIP
    python bench/metrics.py --networks inception --clip PATH --device cuda --batch 64 --sizes 1000 30000
    python bench/metrics.py --clip l14-shaped --clip-images 32  # CLIP ViT-L/14's shape, random weights (CPU)

Each measurement runs in its own process, so its peak memory (RSS; and peak allocated CUDA memory on a GPU) is its
own. Images are synthetic (uniform noise, --image-size square, made batch by batch, never all at once) and go through
the code evaluate_metrics uses: ``FidFeatures.prepare`` (resize to the network's input) and ``FidFeatures.add``
(torchmetrics' update into running sums), and ``ClipScorer.add``. Reported: images/s after one warm-up batch, and
peak memory for each N in --sizes, which stays flat when features are streamed. "inception" needs torch-fidelity
and the weights file (EVALSITE_INCEPTION_WEIGHTS); where it cannot run, the reason is printed instead. On a host
without the file, --random-inception PATH writes torch-fidelity's Inception-v3 with random weights there and uses
it: the real network's speed and memory (not its features).
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evalsite.settings")
    import django

    django.setup()


def _images(count: int, size: int, seed: int):
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    for _ in range(count):
        yield Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8))


def _peaks(device) -> dict:
    import torch

    result = {"peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}
    if device.type == "cuda":
        result["peak_cuda_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
    return result


def measure_fid(network: str, n: int, batch: int, image_size: int, device_name: str) -> dict:
    _setup_django()
    import torch

    from metrics.features import FeatureSums, FidFeatures

    device = torch.device(device_name)
    fid = FidFeatures(network, device)
    sums = FeatureSums.zeros(fid.dim)
    warm = [fid.prepare(image) for image in _images(batch, image_size, seed=1)]
    fid.add(FeatureSums.zeros(fid.dim), warm)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    started = time.perf_counter()
    pending = []
    for image in _images(n, image_size, seed=0):
        pending.append(fid.prepare(image))
        if len(pending) == batch:
            fid.add(sums, pending)
            pending = []
    if pending:
        fid.add(sums, pending)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - started
    assert sums.count == n
    return {
        "metric": "fid",
        "network": network,
        "n": n,
        "images_per_s": n / seconds,
        "seconds": seconds,
        **_peaks(device),
    }


def _clip_folder(kind: str) -> Path:
    if kind not in ("tiny", "l14-shaped"):
        return Path(kind)
    folder = Path(tempfile.mkdtemp()) / f"clip-{kind}"
    if kind == "tiny":
        from metrics.tiny import save_tiny_clip

        return save_tiny_clip(folder)
    import torch
    from transformers import CLIPConfig, CLIPImageProcessorPil, CLIPModel, CLIPProcessor

    from generation.tiny import _build_tokenizer

    tokenizer = _build_tokenizer()
    text = dict(
        vocab_size=len(tokenizer),
        hidden_size=768,
        intermediate_size=3072,
        num_hidden_layers=12,
        num_attention_heads=12,
        max_position_embeddings=77,
        projection_dim=768,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    vision = dict(
        hidden_size=1024,
        intermediate_size=4096,
        num_hidden_layers=24,
        num_attention_heads=16,
        image_size=224,
        patch_size=14,
        projection_dim=768,
    )
    torch.manual_seed(0)
    CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=768)).save_pretrained(folder)
    CLIPProcessor(image_processor=CLIPImageProcessorPil(), tokenizer=tokenizer).save_pretrained(folder)
    return folder


def measure_clip(kind: str, n: int, batch: int, image_size: int, device_name: str) -> dict:
    _setup_django()
    import torch

    from metrics.features import ClipScorer, ScoreSums, to_uint8_tensor

    device = torch.device(device_name)
    scorer = ClipScorer(_clip_folder(kind), device)
    captions = ["A lighthouse on a rocky coast at sunset, a long caption as LAION has them"] * batch
    scorer.add(ScoreSums(), [to_uint8_tensor(image) for image in _images(batch, image_size, seed=1)], captions)
    sums = ScoreSums()
    started = time.perf_counter()
    pending = []
    for image in _images(n, image_size, seed=0):
        pending.append(to_uint8_tensor(image))
        if len(pending) == batch:
            scorer.add(sums, pending, captions)
            pending = []
    if pending:
        scorer.add(sums, pending, captions[: len(pending)])
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - started
    return {
        "metric": "clip",
        "network": kind,
        "n": n,
        "images_per_s": n / seconds,
        "seconds": seconds,
        **_peaks(device),
    }


def write_random_inception(path: Path) -> None:
    """torch-fidelity's Inception-v3 with random weights, saved where a weights file is read from."""
    import torch
    from torch_fidelity import feature_extractor_inceptionv3 as module

    network_class = module.FeatureExtractorInceptionV3
    saved = module.load_state_dict_from_url, network_class.load_state_dict
    module.load_state_dict_from_url = lambda *args, **kwargs: {}
    network_class.load_state_dict = lambda self, state_dict: None
    try:
        torch.manual_seed(0)
        network = network_class("inception-v3-compat", ["2048"], feature_extractor_weights_path=None)
    finally:
        module.load_state_dict_from_url, network_class.load_state_dict = saved
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(network.state_dict(), path)


def run_child(arguments: list[str]) -> dict:
    output = subprocess.run([sys.executable, __file__, "--child", *arguments], cwd=ROOT, capture_output=True, text=True)
    if output.returncode != 0:
        last = (output.stderr.strip().splitlines() or ["failed"])[-1]
        return {"error": last}
    return json.loads(output.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--networks", nargs="+", default=["tiny-random", "inception"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[1000, 3000, 10000, 30000], help="N per run")
    parser.add_argument("--clip", default="tiny", help="tiny, l14-shaped, or a CLIP folder; 'none' to skip")
    parser.add_argument("--clip-images", type=int, default=1000)
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--random-inception",
        type=Path,
        metavar="PATH",
        help="write Inception-v3 with random weights to PATH and measure with it",
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.random_inception:
        write_random_inception(args.random_inception)
        os.environ["EVALSITE_INCEPTION_WEIGHTS"] = str(args.random_inception)
    if args.child:
        kind, name, n = args.child[0], args.child[1], int(args.child[2])
        measure = measure_fid if kind == "fid" else measure_clip
        print(json.dumps(measure(name, n, args.batch, args.image_size, args.device)))
        return
    common = ["--batch", str(args.batch), "--image-size", str(args.image_size), "--device", args.device]
    rows = []
    for network in args.networks:
        for n in args.sizes:
            result = run_child(["fid", network, str(n), *common])
            label = f"{network} (random weights)" if network == "inception" and args.random_inception else network
            rows.append({"metric": "fid", "network": label, "n": n, **result})
            print(json.dumps(rows[-1]), flush=True)
            if "error" in result:
                break
    if args.clip != "none":
        result = run_child(["clip", args.clip, str(args.clip_images), *common])
        rows.append({"metric": "clip", "network": args.clip, "n": args.clip_images, **result})
        print(json.dumps(rows[-1]), flush=True)
    print("\n| metric | network | N | images/s | peak RSS (GiB) | peak CUDA (GiB) |\n|---|---|---|---|---|---|")
    for row in rows:
        if "error" in row:
            print(f"| {row['metric']} | {row['network']} | {row['n']} | not run: {row['error']} | | |")
            continue
        cuda = f"{row['peak_cuda_gib']:.2f}" if "peak_cuda_gib" in row else "–"
        print(
            f"| {row['metric']} | {row['network']} | {row['n']} | {row['images_per_s']:.1f} | "
            f"{row['peak_rss_gib']:.2f} | {cuda} |"
        )


if __name__ == "__main__":
    main()
