"""Checkpoint files: each save through its own temporary file, an advisory lock around load and save, and a clear
refusal of a file that is damaged, of another version or of another owner."""

import threading

import pytest
import torch

from metrics import checkpoint as checkpoints
from metrics.checkpoint import Checkpoint, CheckpointError, load, locked, save_atomic

OWNER = {"reference": "laion-5", "source": "/data/laion", "seed": 0, "items": 5}


def test_two_writers_at_once_each_write_a_whole_file(tmp_path):
    path = tmp_path / "reference-1-inception.pt"
    errors = []

    def writer(value: float) -> None:
        data = {"outer": torch.full((512, 512), value, dtype=torch.float64)}
        for _ in range(20):
            try:
                save_atomic(path, data)
            except Exception as exc:  # a shared temp file: one writer's rename takes the other's file away
                errors.append(exc)

    threads = [threading.Thread(target=writer, args=(value,)) for value in (1.0, 2.0)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    outer = torch.load(path, weights_only=True)["outer"]
    assert outer.unique().numel() == 1  # one writer's file, whole
    assert [item.name for item in tmp_path.iterdir()] == [path.name]  # no temporary file left


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "run-1-none.pt"
    save_atomic(path, {"value": 1})

    def failing_save(data, handle):
        handle.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoints.torch, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        save_atomic(path, {"value": 2})
    assert torch.load(path, weights_only=True) == {"value": 1}
    assert [item.name for item in tmp_path.iterdir()] == [path.name]


def test_the_lock_keeps_load_and_save_of_two_writers_apart(tmp_path):
    path = tmp_path / "reference-1-tiny-random.pt"

    def writer(start: int) -> None:
        for index in range(start, start + 15):
            with locked(path, wait=True):
                state = load(path, "tiny-random", OWNER)
                state.done_for("fid/reference").add(index)
                state.save()

    threads = [threading.Thread(target=writer, args=(start,)) for start in (0, 100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert load(path, "tiny-random", OWNER).done["fid/reference"] == set(range(15)) | set(range(100, 115))


def test_a_held_lock_is_refused_or_waited_for(tmp_path):
    path = tmp_path / "run-1-none.pt"
    held, release = threading.Event(), threading.Event()

    def holder():
        with locked(path, wait=False):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    held.wait(10)
    with pytest.raises(CheckpointError, match="Another evaluate_metrics is adding to .*run-1-none.pt"):
        with locked(path, wait=False):
            pass
    waited = []
    with locked(path, wait=True, on_wait=lambda: (waited.append(True), release.set())):
        pass
    thread.join()
    assert waited == [True]


def test_damaged_foreign_or_old_files_are_refused_with_a_clear_message(tmp_path):
    path = tmp_path / "reference-1-tiny-random.pt"
    path.write_bytes(b"\x00not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot be read .*move .*reference-1-tiny-random.pt away"):
        load(path, "tiny-random", OWNER)
    save_atomic(path, {"version": 1, "feature_network": "tiny-random", "fid": {}, "clip": {}, "done": {}})
    with pytest.raises(CheckpointError, match="another version or feature network"):
        load(path, "tiny-random", OWNER)
    Checkpoint(path=path, feature_network="tiny-random", owner=OWNER).save()
    assert load(path, "tiny-random", OWNER).owner == OWNER
    with pytest.raises(CheckpointError, match="holds the sums of reference 'laion-5'.*not of reference 'other'"):
        load(path, "tiny-random", {**OWNER, "reference": "other"})
    save_atomic(path, {"version": checkpoints.VERSION, "feature_network": "tiny-random", "owner": OWNER})
    with pytest.raises(CheckpointError, match="is damaged"):
        load(path, "tiny-random", OWNER)


def test_another_network_starts_that_metric_over(tmp_path):
    state = Checkpoint(path=tmp_path / "run-1-none.pt", feature_network="none")
    assert state.use_network("clip", "tiny-clip@aaaa") == ""
    state.done_for("clip/ours@64x64").add(3)
    state.done_for("fid/ours@64x64").add(3)
    assert state.use_network("clip", "tiny-clip@aaaa") == ""
    assert state.done == {"clip/ours@64x64": {3}, "fid/ours@64x64": {3}}
    assert state.use_network("clip", "tiny-clip@bbbb") == "tiny-clip@aaaa"
    assert state.done == {"fid/ours@64x64": {3}}
