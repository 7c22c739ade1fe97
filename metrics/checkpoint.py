"""Checkpoints of the running sums: one file per image-set owner, written whole through a temp file and a rename.

A file holds, per image set, the FID sums (feature sum, outer-product sum, count) and the CLIP-score sums, and the
indices already added to each; a resumed run adds only the others. It also records what the sums belong to (its
``owner``: study, subset, seeds, item count, generation settings) and which network gave each metric's sums
(``networks``): a file found under a name that now belongs to something else (a fresh database reuses ids) is refused,
and a metric whose network changed starts its sums over. The file is loaded with ``weights_only=True``: it holds
tensors, numbers, strings, lists and dicts only.

Two processes on one file: each save goes through its own temporary file, and ``locked`` takes an advisory lock
(``fcntl.flock`` on ``NAME.lock`` beside it) that a process holds from loading the file to its last save.
"""

import contextlib
import fcntl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
from django.conf import settings

from evalsite.files import atomic_path

from .features import FeatureSums, ScoreSums

VERSION = 2


class CheckpointError(Exception):
    """A checkpoint file cannot be used (unreadable, another version, or another owner's sums); says what to do."""


@dataclass
class Checkpoint:
    path: Path
    feature_network: str
    owner: dict = field(default_factory=dict)
    networks: dict[str, str] = field(default_factory=dict)
    fid: dict[str, FeatureSums] = field(default_factory=dict)
    clip: dict[str, ScoreSums] = field(default_factory=dict)
    done: dict[str, set[int]] = field(default_factory=dict)

    def done_for(self, key: str) -> set[int]:
        return self.done.setdefault(key, set())

    def use_network(self, metric: str, identity: str) -> str:
        """Record that ``metric``'s sums come from ``identity``; when they came from another network, drop them (the
        streams ``metric/...``) and return the earlier identity, else return ""."""
        metric = str(metric)  # a Metric member pickles as an enum, which weights_only loading refuses
        earlier = self.networks.get(metric, "")
        self.networks[metric] = identity
        if not earlier or earlier == identity:
            return ""
        prefix = f"{metric}/"
        for store in (self.fid, self.clip, self.done):
            for key in [key for key in store if key.startswith(prefix)]:
                del store[key]
        return earlier

    def save(self) -> None:
        data = {
            "version": VERSION,
            "feature_network": self.feature_network,
            "owner": self.owner,
            "networks": self.networks,
            "fid": {key: sums.to_dict() for key, sums in self.fid.items()},
            "clip": {key: sums.to_dict() for key, sums in self.clip.items()},
            "done": {key: sorted(indices) for key, indices in self.done.items()},
        }
        save_atomic(self.path, data)


def save_atomic(path: Path, data: dict) -> None:
    """``torch.save`` ``data`` to ``path`` through a temporary file of its own, synced before the rename."""
    with atomic_path(path, fsync=True) as temp, open(temp, "wb") as handle:
        torch.save(data, handle)


def checkpoint_path(name: str) -> Path:
    return Path(settings.EVALSITE_METRICS_DIR) / name


@contextlib.contextmanager
def locked(path: Path, *, wait: bool, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold the advisory lock of checkpoint ``path`` (``path.lock``). Another process holds it: wait for it (after
    calling ``on_wait``) when ``wait``, else raise CheckpointError."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = path.with_name(path.name + ".lock")
    with open(lock, "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                raise CheckpointError(
                    f"Another evaluate_metrics is adding to {path} (it holds {lock}); let it finish or stop it, "
                    "then run the command again."
                ) from None
            if on_wait is not None:
                on_wait()
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _plain(value):
    """``value`` as a plain str, bool, int or float (an enum member such as a TextChoices pickles as its class, which
    weights_only loading refuses)."""
    for kind in (str, bool, int, float):
        if isinstance(value, kind):
            return kind(value)
    return value


def _describe(owner: dict) -> str:
    return ", ".join(f"{key} {value!r}" for key, value in owner.items()) or "nothing recorded"


def load(path: Path, feature_network: str, owner: dict | None = None) -> Checkpoint:
    """The checkpoint at ``path``, or an empty one when there is none; CheckpointError when the file cannot be read,
    was written by another version or feature network, or holds the sums of another ``owner``."""
    owner = {str(key): _plain(value) for key, value in (owner or {}).items()}
    if not path.is_file():
        return Checkpoint(path=path, feature_network=feature_network, owner=owner)
    move_away = f"move {path} away (or point EVALSITE_METRICS_DIR at another folder) to start over"
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds for a truncated or foreign file
        raise CheckpointError(
            f"The checkpoint {path} cannot be read ({exc.__class__.__name__}): it is damaged (a "
            f"full disk, a copy cut short) or not a metrics checkpoint; {move_away}."
        ) from exc
    if not isinstance(data, dict) or data.get("version") != VERSION or data.get("feature_network") != feature_network:
        raise CheckpointError(f"The checkpoint {path} was written by another version or feature network; {move_away}.")
    if data.get("owner") != owner:
        raise CheckpointError(
            f"The checkpoint {path} holds the sums of {_describe(data.get('owner') or {})}, not of {_describe(owner)} "
            f"(a database made afresh reuses ids); {move_away}."
        )
    try:
        return Checkpoint(
            path=path,
            feature_network=feature_network,
            owner=owner,
            networks={str(key): str(value) for key, value in data["networks"].items()},
            fid={key: FeatureSums.from_dict(value) for key, value in data["fid"].items()},
            clip={key: ScoreSums.from_dict(value) for key, value in data["clip"].items()},
            done={key: set(indices) for key, indices in data["done"].items()},
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CheckpointError(
            f"The checkpoint {path} is damaged ({exc.__class__.__name__}: {exc}); {move_away}."
        ) from exc
