"""Files replaced whole: every writer of a file that someone may read while it is written goes through here."""

import contextlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path


class PartlyReplaced(OSError):
    """A rename failed after every file was written: ``replaced`` were already in place, ``filename`` was not."""

    def __init__(self, error: OSError, path: Path, replaced: list[Path]):
        super().__init__(error.errno, error.strerror or str(error), str(path))
        self.replaced = replaced


@contextlib.contextmanager
def atomic_paths(paths: Sequence[Path], *, fsync: bool = False) -> Iterator[list[Path]]:
    """Yield a temporary path beside each of ``paths`` (``.<name>.<random>.part``, a file of its own). When the
    block ends without an error each replaces its path by a rename, in order, and only then: all files are written
    before any is replaced. On an error every temporary file left is removed (a failed rename raises
    ``PartlyReplaced``, naming what was already replaced). Missing folders are made."""
    paths = [Path(path) for path in paths]
    temps: list[Path] = []
    try:
        for path in paths:
            path.parent.mkdir(parents=True, exist_ok=True)
            descriptor, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
            os.close(descriptor)
            temps.append(Path(temp))
        yield list(temps)
        if fsync:
            for temp in temps:
                with open(temp, "rb") as handle:
                    os.fsync(handle.fileno())
        for done, (temp, path) in enumerate(zip(temps, paths, strict=True)):
            try:
                temp.replace(path)
            except OSError as exc:
                raise PartlyReplaced(exc, path, paths[:done]) from exc
    except BaseException:
        for temp in temps:
            with contextlib.suppress(OSError):
                temp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_path(path: Path, *, fsync: bool = False) -> Iterator[Path]:
    """``atomic_paths`` for one file: yield its temporary path, which replaces ``path`` when the block succeeds."""
    with atomic_paths([path], fsync=fsync) as (temp,):
        yield temp
