"""Files replaced whole: every writer of a file that someone may read while it is written goes through here
(``evalsite.files`` re-exports it for the site's modules). Nothing here imports Django."""

import contextlib
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
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


class WriteError(ValueError):
    """Documents that could not be written: the message names the file and says what was replaced before it."""


def write_files(documents: Mapping[str, str | bytes], out_dir: Path) -> list[Path]:
    """Write each document (text as UTF-8) under ``out_dir``, created if needed, each file replaced whole, all or
    none.

    Every document goes to a temporary file of its own beside its target first (``atomic_paths``); only when all of
    them are written are they renamed into place. A name taken by a folder is refused before anything is written;
    on any OSError the temporary files (and the folders made here, when left empty) are removed and a WriteError
    names the file.
    """
    targets = [(out_dir / name, content) for name, content in documents.items()]
    for path, _ in targets:
        if path.exists() and not path.is_file():
            raise WriteError(f"Cannot write {path}: a folder (or another non-file) of that name is in the way.")
    created = [folder for folder in (out_dir, *out_dir.parents) if not folder.exists()]  # deepest first
    current = out_dir
    try:
        with atomic_paths([path for path, _ in targets]) as temps:
            for (path, content), temp in zip(targets, temps, strict=True):
                current = path
                if isinstance(content, bytes):
                    temp.write_bytes(content)
                else:
                    temp.write_text(content, encoding="utf-8")
    except OSError as exc:
        replaced = exc.replaced if isinstance(exc, PartlyReplaced) else []
        current = Path(exc.filename) if isinstance(exc, PartlyReplaced) else current
        for folder in created:
            try:
                folder.rmdir()
            except OSError:
                break
        done = f"{len(replaced)} of {len(targets)} files were replaced before it" if replaced else "nothing was written"
        raise WriteError(f"Could not write {current}: {exc.strerror or exc}; {done}.") from exc
    return [path for path, _ in targets]
