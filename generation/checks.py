"""Start-up checks: the image storage must be reachable and writable before the site or a worker starts.

``manage.py check`` (and so ``migrate``, ``runserver`` and the shipped service units) reports a misconfigured
storage as an error, and a Celery worker refuses to start with it; either way the message names the settings to
fix, instead of the first image failing hours into a study.
"""

from django.conf import settings
from django.core import checks
from django.core.files.storage import Storage, default_storage

from .storage import ImageStorageError, probe_storage


def describe_storage(storage: Storage) -> str:
    """Where ``storage`` keeps images, with the settings that say so."""
    bucket = getattr(storage, "bucket_name", None)
    if bucket is not None:
        endpoint = getattr(storage, "endpoint_url", None) or "AWS S3"
        return (
            f"S3 bucket {bucket!r} at {endpoint} (EVALSITE_STORAGE={settings.EVALSITE_STORAGE}, "
            "AWS_STORAGE_BUCKET_NAME, AWS_S3_ENDPOINT_URL, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_S3_REGION_NAME)"
        )
    location = getattr(storage, "location", None)
    if location is not None:
        return f"folder {location} (MEDIA_ROOT)"
    return f"{type(storage).__module__}.{type(storage).__name__} (STORAGES['default'])"


def storage_problem(storage: Storage | None = None) -> str | None:
    """None when images can be written, overwritten, measured and deleted; else a message naming the settings."""
    storage = storage if storage is not None else default_storage
    try:
        probe_storage(storage)
    except Exception as exc:  # any backend's error: OSError, botocore's ClientError or EndpointConnectionError, ...
        reason = exc.args[0] if isinstance(exc, ImageStorageError) and exc.args else f"{type(exc).__name__}: {exc}"
        return f"The image storage is not usable: {describe_storage(storage)}: {reason}"
    return None


@checks.register("evalsite_storage")
def check_image_storage(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    problem = storage_problem()
    if problem is None:
        return []
    return [
        checks.Error(
            problem,
            hint="Fix the storage settings (docs/deployment.md, 'Image storage'), or create the bucket or folder.",
            id="evalsite.E001",
        )
    ]


def check_storage_at_worker_start(**kwargs) -> None:
    """Celery's worker_init: stop the worker, with the reason, when it could not store images."""
    problem = storage_problem()
    if problem is not None:
        raise SystemExit(f"{problem}; the worker does not start.")
