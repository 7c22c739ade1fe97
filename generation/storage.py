"""Image files: opaque, deterministic names and atomic writes through Django's storage API."""
import hashlib
import hmac
import io
import os

from django.conf import settings
from django.core.files.storage import Storage, default_storage
from PIL import Image

IMAGE_FOLDER = "img"


def image_name(*, job_id: int, arm: str) -> str:
    """The storage name of one arm's image: a keyed hash, so neither arm nor job can be read from it."""
    digest = hmac.new(settings.SECRET_KEY.encode(), f"pair-job:{job_id}:{arm}".encode(), hashlib.sha256)
    return f"{IMAGE_FOLDER}/{digest.hexdigest()[:32]}.png"


def encode_png(image: Image.Image) -> bytes:
    """PNG bytes with no text chunks or other metadata, the same encoding for both arms."""
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def write_atomic(name: str, data: bytes, storage: Storage = default_storage) -> str:
    """Write ``data`` under ``name``, replacing any earlier file; a reader never sees a partial file.

    The temporary file's name is derived from ``name``, so a write cut short is overwritten by the retry
    instead of being left behind.
    """
    path = storage.path(name)
    folder, base = os.path.split(path)
    os.makedirs(folder, exist_ok=True)
    temp_path = os.path.join(folder, f".{base}.part")
    try:
        with open(temp_path, "wb") as temp_file:
            temp_file.write(data)
            temp_file.flush()
            os.fsync(temp_file.fileno())
        os.replace(temp_path, path)
    except BaseException:
        if os.path.exists(temp_path):
            os.unlink(temp_path)
        raise
    return name
