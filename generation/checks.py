"""Start-up checks: the image storage must be reachable and writable before the site or a worker starts, and a
production key must be secret.

``manage.py check`` (and so ``migrate``, ``runserver`` and the shipped service units) reports a misconfigured
storage as an error, and a Celery worker refuses to start with it; either way the message names the settings to
fix, instead of the first image failing hours into a study. ``check --deploy`` (the web unit runs it before
gunicorn) refuses a SECRET_KEY that is published or weak (``evalsite.E002``).
"""

from pathlib import Path

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


#: The shipped example settings, whose SECRET_KEY values are public.
EXAMPLE_ENV_FILES = sorted((Path(__file__).resolve().parents[1] / "deploy").glob("*.env.example"))
#: settings.py's stand-in when DEBUG is on and no key is set.
DEVELOPMENT_KEY = "insecure-local-development-key-never-use-in-production"
SECRET_KEY_MIN_LENGTH, SECRET_KEY_MIN_CHARACTERS = 50, 5  # Django's own floor for a key (security.W009)


def published_keys() -> set[str]:
    """The SECRET_KEY values anyone can read: the example env files' and the development stand-in."""
    keys = {DEVELOPMENT_KEY}
    for path in EXAMPLE_ENV_FILES:
        for line in path.read_text(encoding="utf-8").splitlines():
            name, _, value = line.strip().partition("=")
            if name == "SECRET_KEY" and value:
                keys.add(value)
    return keys


def secret_key_problem(key: str) -> str | None:
    """Why ``key`` cannot key production's image names and sealed links, or None when it can."""
    if key in published_keys():
        return "SECRET_KEY is a published example value"
    if len(key) < SECRET_KEY_MIN_LENGTH:
        return f"SECRET_KEY has {len(key)} characters; at least {SECRET_KEY_MIN_LENGTH} are needed"
    if len(set(key)) < SECRET_KEY_MIN_CHARACTERS:
        return f"SECRET_KEY uses {len(set(key))} distinct characters; at least {SECRET_KEY_MIN_CHARACTERS} are needed"
    return None


@checks.register(checks.Tags.security, deploy=True)
def check_secret_key(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """``check --deploy``: a key that is public or weak is an error, since it keys the opaque image names and seals
    the annotators' image links: whoever knows it can tell baseline from ours."""
    if settings.DEBUG:
        return []
    problem = secret_key_problem(settings.SECRET_KEY)
    if problem is None:
        return []
    return [
        checks.Error(
            f"{problem}: whoever knows the key can tell the arms of every image apart.",
            hint='Set SECRET_KEY to a new random value, e.g. python3 -c "import secrets; '
            'print(secrets.token_urlsafe(50))", the same on every host.',
            id="evalsite.E002",
        )
    ]
