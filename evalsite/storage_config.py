"""The image storage settings, read from the environment; a bad value fails at start-up naming the variable.

- ``EVALSITE_STORAGE=filesystem`` (the default): files under ``MEDIA_ROOT``, a local folder or a shared network
  file system mounted at the same path on every host.
- ``EVALSITE_STORAGE=s3`` (chosen as well when only ``AWS_STORAGE_BUCKET_NAME`` is set): S3-compatible object
  storage through django-storages (AWS S3, MinIO, Ceph RGW, ...): ``AWS_STORAGE_BUCKET_NAME``,
  ``AWS_S3_ENDPOINT_URL`` (empty for AWS itself), ``AWS_ACCESS_KEY_ID`` and ``AWS_SECRET_ACCESS_KEY`` (empty:
  boto3's own chain, e.g. an instance role), ``AWS_S3_REGION_NAME``, ``AWS_LOCATION`` (a key prefix),
  ``AWS_S3_ADDRESSING_STYLE`` (``path`` by default with an endpoint URL, else ``auto``),
  ``AWS_QUERYSTRING_EXPIRE`` (seconds a presigned URL stays valid, default 300).
- ``EVALSITE_IMAGE_DELIVERY``: ``proxy`` (default; the site reads each image and sends it) or ``presigned``
  (the site answers with a redirect to a short-lived presigned URL; object storage only).
"""

from collections.abc import Mapping
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

FILESYSTEM_BACKEND = "generation.storage.AtomicFileSystemStorage"
S3_BACKEND = "storages.backends.s3.S3Storage"
STORAGE_KINDS = ("filesystem", "s3")
DELIVERIES = ("proxy", "presigned")
ADDRESSING_STYLES = ("auto", "path", "virtual")


def _get(environ: Mapping[str, str], name: str, default: str = "") -> str:
    return environ.get(name, default).strip()


def storage_kind(environ: Mapping[str, str]) -> str:
    kind = _get(environ, "EVALSITE_STORAGE").lower()
    if not kind:
        return "s3" if _get(environ, "AWS_STORAGE_BUCKET_NAME") else "filesystem"
    if kind not in STORAGE_KINDS:
        raise ImproperlyConfigured(f"EVALSITE_STORAGE={kind!r} is not one of {', '.join(STORAGE_KINDS)}.")
    return kind


def _positive_int(environ: Mapping[str, str], name: str, default: int) -> int:
    value = _get(environ, name)
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number <= 0:
        raise ImproperlyConfigured(f"{name}={value!r} must be a positive whole number of seconds.")
    return number


def s3_options(environ: Mapping[str, str]) -> dict:
    """S3Storage's OPTIONS from the environment."""
    from botocore.config import Config

    bucket = _get(environ, "AWS_STORAGE_BUCKET_NAME")
    if not bucket:
        raise ImproperlyConfigured(
            "EVALSITE_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME, the bucket that holds the images."
        )
    endpoint = _get(environ, "AWS_S3_ENDPOINT_URL")
    if endpoint:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ImproperlyConfigured(
                f"AWS_S3_ENDPOINT_URL={endpoint!r} is not a URL such as https://minio.example.org:9000."
            )
    access_key, secret_key = _get(environ, "AWS_ACCESS_KEY_ID"), _get(environ, "AWS_SECRET_ACCESS_KEY")
    if bool(access_key) != bool(secret_key):
        raise ImproperlyConfigured("Set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither.")
    style = _get(environ, "AWS_S3_ADDRESSING_STYLE").lower() or ("path" if endpoint else "auto")
    if style not in ADDRESSING_STYLES:
        raise ImproperlyConfigured(f"AWS_S3_ADDRESSING_STYLE={style!r} is not one of {', '.join(ADDRESSING_STYLES)}.")
    options = {
        "bucket_name": bucket,
        "endpoint_url": endpoint or None,
        "region_name": _get(environ, "AWS_S3_REGION_NAME") or None,
        "location": _get(environ, "AWS_LOCATION").strip("/"),
        "addressing_style": None if style == "auto" else style,
        "signature_version": "s3v4",
        "querystring_auth": True,
        "querystring_expire": _positive_int(environ, "AWS_QUERYSTRING_EXPIRE", 300),
        # Names are fixed per pair job: a redelivered task overwrites its objects instead of adding new ones.
        "file_overwrite": True,
        # No ACL (the bucket stays private), no metadata, no Content-Disposition: only the content type that
        # the name implies (image/png for every image), so no header tells the arm.
        "default_acl": None,
        "object_parameters": {},
        # django-storages hands this to boto3 as it is (addressing_style and signature_version above are then
        # ignored, so they are repeated here); fail in seconds, not minutes, when the endpoint cannot be reached.
        "client_config": Config(
            s3={"addressing_style": None if style == "auto" else style},
            signature_version="s3v4",
            connect_timeout=5,
            read_timeout=60,
            retries={"max_attempts": 3, "mode": "standard"},
        ),
    }
    if access_key:
        options.update(access_key=access_key, secret_key=secret_key)
    return options


def default_storage_setting(environ: Mapping[str, str]) -> dict:
    """``STORAGES["default"]`` from the environment."""
    if storage_kind(environ) == "s3":
        return {"BACKEND": S3_BACKEND, "OPTIONS": s3_options(environ)}
    return {"BACKEND": FILESYSTEM_BACKEND}  # under MEDIA_ROOT


def image_delivery(environ: Mapping[str, str]) -> str:
    delivery = _get(environ, "EVALSITE_IMAGE_DELIVERY", "proxy").lower() or "proxy"
    if delivery not in DELIVERIES:
        raise ImproperlyConfigured(f"EVALSITE_IMAGE_DELIVERY={delivery!r} is not one of {', '.join(DELIVERIES)}.")
    if delivery == "presigned" and storage_kind(environ) != "s3":
        raise ImproperlyConfigured(
            "EVALSITE_IMAGE_DELIVERY=presigned needs object storage (EVALSITE_STORAGE=s3); "
            "with the file system use proxy."
        )
    return delivery
