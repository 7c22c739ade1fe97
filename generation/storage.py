"""Image files: opaque, deterministic names and atomic writes through Django's storage API."""
import hashlib
import hmac
import io
import os
import tempfile

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
    """Write ``data`` under ``name``, replacing any earlier file; a reader never sees a partial file."""
    path = storage.path(name)
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    handle, temp_path = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as temp_file:
            temp_file.write(data)
            temp_file.flush()
            os.fsync(temp_file.fileno())
        os.chmod(temp_path, 0o644)
        os.replace(temp_path, path)
    except BaseException:
        if os.path.exists(temp_path):
            os.unlink(temp_path)
        raise
    return name
