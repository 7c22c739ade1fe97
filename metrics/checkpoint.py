"""Checkpoints of the running sums: one file per image-set owner, written whole through a temp file and a rename.

A file holds, per image set, the FID sums (feature sum, outer-product sum, count) and the CLIP-score sums, and the
indices already added to each; a resumed run adds only the others. The file is loaded with ``weights_only=True``:
it holds tensors, numbers, strings, lists and dicts only.
"""
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from django.conf import settings

from .features import FeatureSums, ScoreSums

VERSION = 1


@dataclass
class Checkpoint:
    path: Path
    feature_network: str
    fid: dict[str, FeatureSums] = field(default_factory=dict)
    clip: dict[str, ScoreSums] = field(default_factory=dict)
    done: dict[str, set[int]] = field(default_factory=dict)

    def done_for(self, key: str) -> set[int]:
        return self.done.setdefault(key, set())

    def save(self) -> None:
        data = {
            "version": VERSION,
            "feature_network": self.feature_network,
            "fid": {key: sums.to_dict() for key, sums in self.fid.items()},
            "clip": {key: sums.to_dict() for key, sums in self.clip.items()},
            "done": {key: sorted(indices) for key, indices in self.done.items()},
        }
        write_atomic(self.path, data)


def write_atomic(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.part")
    with open(temp, "wb") as handle:
        torch.save(data, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)


def checkpoint_path(name: str) -> Path:
    return Path(settings.EVALSITE_METRICS_DIR) / name


def load(path: Path, feature_network: str) -> Checkpoint:
    """The checkpoint at ``path``, or an empty one when there is none."""
    if not path.is_file():
        return Checkpoint(path=path, feature_network=feature_network)
    data = torch.load(path, map_location="cpu", weights_only=True)
    if data.get("version") != VERSION or data.get("feature_network") != feature_network:
        raise ValueError(f"{path} was written by another version or feature network; move it away to start over.")
    return Checkpoint(
        path=path,
        feature_network=feature_network,
        fid={key: FeatureSums.from_dict(value) for key, value in data["fid"].items()},
        clip={key: ScoreSums.from_dict(value) for key, value in data["clip"].items()},
        done={key: set(indices) for key, indices in data["done"].items()},
    )
