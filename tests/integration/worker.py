"""Starting a real Celery worker process against the test database, and pointing the test's app at its broker."""

import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection
from kombu import pools

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    """The URL of the database the tests run on (pytest-django's test database)."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}{port}/{db['NAME']}"


def point_app_at(app, broker_url: str, transport_options: dict) -> None:
    """Send this process's tasks to ``broker_url`` from now on."""
    app.conf.broker_url = broker_url
    app.conf.broker_transport_options = transport_options
    # kombu keeps connection and producer pools in a process-wide registry keyed by broker URL: close and
    # forget them all, so that a later switch back to the same URL gets fresh pools, not closed ones.
    pools.reset()
    app._pool = None
    app.amqp._producer_pool = None


@contextmanager
def celery_worker(*, broker_url: str, broker_folder: Path | None, log_path: Path, extra_env: dict | None = None):
    """A ``celery worker -Q gpu --pool=solo`` subprocess sharing the test database and MEDIA_ROOT."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "evalsite.settings",
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": broker_url,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "SECRET_KEY": settings.SECRET_KEY,
        "OMP_NUM_THREADS": "1",
        **(extra_env or {}),
    }
    if broker_folder is not None:
        env["CELERY_BROKER_FOLDER"] = str(broker_folder)
    with worker_process(env=env, cwd=ROOT, log_path=log_path) as process:
        yield process


@contextmanager
def worker_process(*, env: dict, cwd: Path, log_path: Path):
    """``celery worker -Q gpu --pool=solo`` in ``cwd`` with ``env``, its output in ``log_path``; stopped after."""
    command = [sys.executable, "-m", "celery", "-A", "evalsite", "worker", "-Q", "gpu", "--pool=solo", "-l", "info"]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_for(condition, *, timeout: float, process: subprocess.Popen, log_path: Path, interval: float = 0.5):
    """Poll ``condition`` until it returns a truthy value; fail with the worker's log when it does not."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if process.poll() is not None:
            raise AssertionError(f"The worker exited with {process.returncode}:\n{log_path.read_text()[-4000:]}")
        time.sleep(interval)
    raise AssertionError(f"Timed out after {timeout} s; worker log:\n{log_path.read_text()[-4000:]}")
