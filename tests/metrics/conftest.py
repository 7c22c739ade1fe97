"""Metrics fixtures: a tiny CLIP, the tiny random feature network, checkpoints per test, reference data on disk."""

import io
import json
import random
import tarfile
from pathlib import Path

import pytest
from PIL import Image

from metrics.tiny import save_tiny_clip

CAPTIONS = [
    "A red bicycle leaning against a brick wall",
    "Two cats sleeping on a blue sofa",
    "A lighthouse on a rocky coast at sunset",
    "A bowl of fresh strawberries on a wooden table",
    "An astronaut riding a horse in the desert",
    "A snowy mountain village at night",
    "A green tractor in a wheat field",
    "A plate of pasta with basil",
]


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory) -> Path:
    return save_tiny_clip(tmp_path_factory.mktemp("weights") / "tiny-clip")


@pytest.fixture(autouse=True)
def metrics_settings(settings, tmp_path, tiny_clip):
    settings.EVALSITE_METRICS_DIR = tmp_path / "metrics"
    settings.EVALSITE_CLIP_MODEL = tiny_clip
    settings.EVALSITE_FEATURE_NETWORK = "tiny-random"
    settings.EVALSITE_METRICS_DEVICE = "cpu"
    settings.EVALSITE_METRICS_BATCH_SIZE = 3
    settings.EVALSITE_METRICS_CHECKPOINT_SECONDS = 0
    return settings


def image_bytes(seed: int, size: tuple[int, int] | None = None, fmt: str = "JPEG") -> bytes:
    rng = random.Random(seed)
    size = size or (rng.randrange(40, 90), rng.randrange(40, 90))
    image = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
    image.paste(tuple(rng.randrange(256) for _ in range(3)), (0, 0, size[0] // 2, size[1] // 2))
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def write_folder(root: Path, count: int = 6, *, broken: int | None = None, empty: int | None = None) -> Path:
    """An img2dataset folder: 00000/0000000NN.jpg with .txt (even) or .json (odd) captions."""
    shard = root / "00000"
    shard.mkdir(parents=True)
    for index in range(count):
        key = f"{index:09d}"
        data = b"not an image" if index == broken else image_bytes(index)
        (shard / f"{key}.jpg").write_bytes(data)
        caption = "  " if index == empty else CAPTIONS[index % len(CAPTIONS)]
        if index % 2 == 0:
            (shard / f"{key}.txt").write_text(caption)
        else:
            (shard / f"{key}.json").write_text(json.dumps({"caption": caption, "url": "http://x"}))
    return root


def write_shard(path: Path, keys: range, *, broken: int | None = None) -> Path:
    """A WebDataset shard: KEY.jpg, KEY.txt, KEY.json per sample."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w") as archive:
        for index in keys:
            key = f"{index:09d}"
            members = {
                f"{key}.jpg": b"\xff\xd8broken" if index == broken else image_bytes(index),
                f"{key}.txt": CAPTIONS[index % len(CAPTIONS)].encode(),
                f"{key}.json": json.dumps({"caption": CAPTIONS[index % len(CAPTIONS)]}).encode(),
            }
            for name, data in members.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return path
