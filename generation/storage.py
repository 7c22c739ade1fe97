"""Image files: opaque random names, written and read only through Django's storage API.

Any backend in ``STORAGES["default"]`` works. The default, :class:`AtomicFileSystemStorage`, keeps files under
MEDIA_ROOT (a local folder or a shared network file system) and writes each through a temporary file and a
rename. With S3-compatible object storage (django-storages' ``S3Storage``) a single PUT is atomic for readers
already. Either way a pair counts as stored only once both objects exist with the expected sizes
(:func:`store_pair`). Each image's name is drawn at random when its pair job is made and stored with the job
(:func:`new_image_name`), so a redelivered task overwrites under the same names rather than duplicates.
"""

import io
import os
import secrets
import uuid
from pathlib import Path

from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, Storage, default_storage
from PIL import Image

from evalsite.files import atomic_path

IMAGE_FOLDER = "img"
PROBE_PREFIX = "storage-probe-"  # at the top level, so that a probe leaves no empty folder behind


class ImageStorageError(RuntimeError):
    """An image could not be stored, or was not stored whole."""


class AtomicFileSystemStorage(FileSystemStorage):
    """FileSystemStorage that overwrites a name in place through a temporary file and a rename.

    A reader sees the old file or the new one, never a partial file. Each write has a temporary file of its own
    (:func:`evalsite.files.atomic_path`), so two workers writing one name at once (a redelivered task) never write
    into the same file. A write that fails removes its temporary file; one whose process is killed leaves it
    behind (``.<name>.<random>.part``, hidden, never read).
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_overwrite", True)
        super().__init__(**kwargs)

    def _save(self, name, content):
        if not self._allow_overwrite:
            return super()._save(name, content)
        full_path = self.path(name)
        with atomic_path(Path(full_path), fsync=True) as temp_path:
            with open(temp_path, "wb") as temp_file:
                for chunk in content.chunks():
                    temp_file.write(chunk if isinstance(chunk, bytes) else chunk.encode())
            if self.file_permissions_mode is not None:
                os.chmod(temp_path, self.file_permissions_mode)
        return os.path.relpath(full_path, self.location).replace("\\", "/")


def new_image_name() -> str:
    """A fresh storage name for one image, ``img/<32 hex>.png`` from 128 random bits.

    Pair jobs draw one per image when they are made and keep them (``PairJob.baseline_image``, ``ours_image``):
    nothing derives a name, so neither the arm nor the job can be read from it, even with SECRET_KEY known.
    """
    return f"{IMAGE_FOLDER}/{secrets.token_hex(16)}.png"


def encode_png(image: Image.Image) -> bytes:
    """PNG bytes with no text chunks or other metadata, the same encoding for both arms."""
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def write_atomic(name: str, data: bytes, storage: Storage | None = None) -> str:
    """Write ``data`` under exactly ``name`` through the storage API, replacing any earlier object.

    Readers never see a partial object. A storage that would pick another name instead of overwriting is
    refused: the file it wrote is removed and :class:`ImageStorageError` names the setting to change.
    """
    storage = storage if storage is not None else default_storage
    try:
        saved = storage.save(name, ContentFile(data))
    except Exception as exc:
        raise ImageStorageError(f"Could not store {name}: {exc}") from exc
    if saved != name:
        storage.delete(saved)
        raise ImageStorageError(
            f"The storage saved {name} as {saved} instead of overwriting it; configure it to overwrite "
            "(AtomicFileSystemStorage, or S3Storage with file_overwrite=True)."
        )
    return saved


def stored_size(name: str, storage: Storage | None = None) -> int | None:
    """The stored object's size in bytes, or None when it does not exist or cannot be read."""
    storage = storage if storage is not None else default_storage
    try:
        return storage.size(name)
    except Exception:  # a missing object: FileNotFoundError on disk, a 404 ClientError on S3
        return None


def store_pair(files: dict[str, bytes], storage: Storage | None = None) -> None:
    """Write a pair's objects and check that each exists with its size; raise ImageStorageError otherwise.

    The objects are written in the order of their names, which are random: which arm is written first (and so
    carries the earlier Last-Modified time) is independent of the arm.
    """
    storage = storage if storage is not None else default_storage
    for name in sorted(files):
        write_atomic(name, files[name], storage)
    for name in sorted(files):
        size = stored_size(name, storage)
        if size != len(files[name]):
            found = "is missing" if size is None else f"has {size} bytes"
            raise ImageStorageError(f"{name} {found} after upload; expected {len(files[name])} bytes.")


def probe_storage(storage: Storage | None = None) -> None:
    """Write, overwrite, measure and delete a small object; raise ImageStorageError saying what failed."""
    storage = storage if storage is not None else default_storage
    name = f"{PROBE_PREFIX}{uuid.uuid4().hex}.txt"
    data = b"EvalSite storage probe\n"
    try:
        write_atomic(name, data, storage)
        write_atomic(name, data, storage)  # the same name again must overwrite, not pick another name
        if stored_size(name, storage) != len(data):
            raise ImageStorageError(f"the probe object {name} was not readable with its size after writing it")
    finally:
        try:
            storage.delete(name)
        except Exception:
            pass
