"""Settings, every one from the environment; the defaults suit local use only.

Production sets at least DEBUG=0, SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL and CELERY_BROKER_URL.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from evalsite import content_security, storage_config

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("EVALSITE_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    """Read a boolean such as 1/0, true/false, yes/no from the environment."""
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use 1/0, true/false, yes/no).")


def env_list(name: str, default: str) -> list[str]:
    """Read a comma-separated list from the environment."""
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "insecure-local-development-key-never-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" if not DEBUG else "*")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
# The site's public address (https://eval.example.org), on which the study page builds the links researchers hand out;
# unset, they are built from the address the page was opened at, and the page says so.
SITE_URL = os.environ.get("SITE_URL", "").strip().rstrip("/")
if SITE_URL and not SITE_URL.startswith(("https://", "http://")):
    raise ImproperlyConfigured(f"SITE_URL={SITE_URL!r} must be an address such as https://eval.example.org.")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "generation",
    "annotations",
    "analysis",
    "metrics",
    "ninja",
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # last, as django-axes asks: it turns a locked-out sign-in into the lockout page
    "axes.middleware.AxesMiddleware",
]

# Admin messages live in the session: the default storage builds a cookie signer on every request, annotators'
# included, for messages only staff ever get.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

ROOT_URLCONF = "evalsite.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]
WSGI_APPLICATION = "evalsite.wsgi.application"
ASGI_APPLICATION = "evalsite.asgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory, so that worker processes started by tests see the test database;
    # one per test run, so that runs side by side do not share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-db-{os.getpid()}.sqlite3")}
    # Writers take the lock when their transaction begins, so that concurrent transactions wait their turn
    # instead of failing to upgrade a read lock.
    DATABASES["default"].setdefault("OPTIONS", {}).update(timeout=30, transaction_mode="IMMEDIATE")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "static"))
MEDIA_URL = "media/"
# Images go through Django's storage API only (STORAGES["default"]): files under MEDIA_ROOT by default (a local
# folder, or a network file system shared by every host), or S3-compatible object storage with
# EVALSITE_STORAGE=s3 and the AWS_* variables; see evalsite/storage_config.py and docs/deployment.md.
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
EVALSITE_STORAGE = storage_config.storage_kind(os.environ)
# "proxy": the site reads each image and sends it; "presigned": a redirect to a short-lived presigned URL.
EVALSITE_IMAGE_DELIVERY = storage_config.image_delivery(os.environ)
STORAGES = {
    "default": storage_config.default_storage_setting(os.environ),
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

LOGIN_URL = "admin:login"
# Where a sign-in without a (local) next= lands; Django's default, /accounts/profile/, is no page here.
LOGIN_REDIRECT_URL = "admin:index"

# Sign-in throttling (django-axes): a username is locked out from one client address after this many failures in
# a row, for this long (0 minutes: until an administrator resets it); a success forgets earlier failures.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = int(os.environ.get("EVALSITE_LOGIN_FAILURE_LIMIT", "5"))
if AXES_FAILURE_LIMIT < 1:
    raise ImproperlyConfigured(f"EVALSITE_LOGIN_FAILURE_LIMIT={AXES_FAILURE_LIMIT} must be at least 1.")
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("EVALSITE_LOGIN_COOLOFF_MINUTES", "30"))) or None
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "evalsite.signin.lockout_response"
# the client's address as the enrolment limit reads it, behind EVALSITE_TRUSTED_PROXIES proxies
AXES_CLIENT_IP_CALLABLE = "annotations.views.client_address"

if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Client addresses (the enrolment limit per network address): how many reverse proxies, each appending the address
# it saw to X-Forwarded-For, stand in front of the site; 0 takes REMOTE_ADDR (annotations.views.client_address).
EVALSITE_TRUSTED_PROXIES = int(os.environ.get("EVALSITE_TRUSTED_PROXIES", "0"))

# Content-Security-Policy (django-csp): scripts and styles only from the site's own static files, no inline ones, no
# plugins, no framing, forms posted only to the site; images also from object storage when they are presigned
# (evalsite/content_security.py). The admin keeps working under it: Django's admin has no inline scripts or styles.
# A study's completion URL joins form-action on the pages whose form may end there (content_security.CSPMiddleware).
_CSP_MIDDLEWARE = "evalsite.content_security.CSPMiddleware"
MIDDLEWARE.insert(MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1, _CSP_MIDDLEWARE)
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", *content_security.image_sources(os.environ)],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    }
}

# Seconds an image-link check that found the annotator's study open is trusted in a web process: a closed study's
# links stop working at most this long after it closes; 0 checks every image (annotations/image_links.py).
EVALSITE_IMAGE_LINK_RECHECK_SECONDS = float(os.environ.get("EVALSITE_IMAGE_LINK_RECHECK_SECONDS", "10"))

# Seconds between a web process's searches for a study's annotators whose lease has ended (annotations/services/
# leases.py): consents look, at most this often per study; 0 looks on every consent.
EVALSITE_LEASE_SWEEP_SECONDS = float(os.environ.get("EVALSITE_LEASE_SWEEP_SECONDS", "60"))

# Celery: a broker that needs no server by default; Redis or RabbitMQ in production.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
CELERY_BROKER_FOLDER = Path(os.environ.get("CELERY_BROKER_FOLDER", VAR_DIR / "broker"))
CELERY_BROKER_TRANSPORT_OPTIONS = {}
if CELERY_BROKER_URL.startswith("filesystem"):
    # kombu's file-system transport expects its folders to exist; one folder serves both ways.
    for _folder in ("data", "control"):
        (CELERY_BROKER_FOLDER / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_FOLDER / "data"),
        "data_folder_out": str(CELERY_BROKER_FOLDER / "data"),
        "control_folder": str(CELERY_BROKER_FOLDER / "control"),
    }
elif CELERY_BROKER_URL.startswith(("redis", "rediss")):
    # Redis hands an unacknowledged task (its worker died) to another worker after this many seconds; it must
    # exceed the longest task, or a running task is handed out again under its id and runs beside the first.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "3600"))}
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)

# Generation.
EVALSITE_MODEL = os.environ.get("EVALSITE_MODEL", str(VAR_DIR / "models" / "tiny-sd"))
EVALSITE_DEVICE = os.environ.get("EVALSITE_DEVICE", "")  # "" picks cuda when available
EVALSITE_DTYPE = os.environ.get("EVALSITE_DTYPE", "")  # "" picks float16 on cuda, float32 on cpu
# torch.compile the denoiser when a worker loads it; each new batch shape compiles once (about a minute)
EVALSITE_COMPILE = env_bool("EVALSITE_COMPILE", False)
# torch.compile's mode: "default", or "reduce-overhead" (CUDA graphs) or "max-autotune" on a GPU
EVALSITE_COMPILE_MODE = os.environ.get("EVALSITE_COMPILE_MODE", "default")
# PyTorch's compile caches (FX graphs, AOTAutograd, Triton kernels, autotuning), kept between worker restarts so a
# restarted worker loads its kernels instead of compiling them again; a TORCHINDUCTOR_CACHE_DIR given is used as is
EVALSITE_COMPILE_CACHE_DIR = Path(
    os.environ.get("EVALSITE_COMPILE_CACHE_DIR")
    or os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    or VAR_DIR / "torch-compile"
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
EVALSITE_BATCH_SIZE = int(os.environ.get("EVALSITE_BATCH_SIZE", "0"))  # pairs per forward pass; 0 = automatic
EVALSITE_JOBS_PER_TASK = int(os.environ.get("EVALSITE_JOBS_PER_TASK", "32"))  # pair jobs per Celery task

# Metrics (FID, CLIP score). Weights come from local files only; nothing is downloaded at run time.
# "inception": torchmetrics' FID Inception-v3 (needs torch-fidelity and torchvision); "tiny-random": a small random
# network for smoke runs and tests, whose numbers mean nothing.
EVALSITE_FEATURE_NETWORK = os.environ.get("EVALSITE_FEATURE_NETWORK", "inception")
EVALSITE_INCEPTION_WEIGHTS = Path(
    os.environ.get("EVALSITE_INCEPTION_WEIGHTS", VAR_DIR / "weights" / "weights-inception-2015-12-05-6726825d.pth")
)
EVALSITE_CLIP_MODEL = Path(os.environ.get("EVALSITE_CLIP_MODEL", VAR_DIR / "weights" / "clip-vit-large-patch14"))
EVALSITE_METRICS_DIR = Path(os.environ.get("EVALSITE_METRICS_DIR", VAR_DIR / "metrics"))  # checkpoints
EVALSITE_METRICS_DEVICE = os.environ.get("EVALSITE_METRICS_DEVICE", "")  # "" picks cuda when available
EVALSITE_METRICS_BATCH_SIZE = int(os.environ.get("EVALSITE_METRICS_BATCH_SIZE", "0"))  # 0: 64 on CUDA, 16 on CPU
EVALSITE_METRICS_CHECKPOINT_SECONDS = float(os.environ.get("EVALSITE_METRICS_CHECKPOINT_SECONDS", "60"))
