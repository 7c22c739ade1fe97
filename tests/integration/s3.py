"""A real S3-compatible server (moto's, a separate process on loopback) and a fresh bucket for each test."""

import os
import subprocess
import sys
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

from evalsite.storage_config import default_storage_setting

ROOT = Path(__file__).resolve().parents[2]
SERVER = Path(__file__).with_name("s3server.py")


@dataclass
class S3Server:
    endpoint: str
    control: Path
    process: subprocess.Popen


@dataclass
class S3Bucket:
    name: str
    env: dict[str, str]  # what a process needs to use the bucket, as environment variables
    client: object

    def keys(self) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def start_s3_server(control: Path) -> S3Server:
    process = subprocess.Popen(
        [sys.executable, str(SERVER), "--control", str(control)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    line = process.stdout.readline()
    if not line.startswith("port "):
        process.kill()
        raise RuntimeError(f"The S3 server did not start: {line!r}")
    return S3Server(endpoint=f"http://127.0.0.1:{int(line.split()[1])}", control=control, process=process)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    server = start_s3_server(tmp_path_factory.mktemp("s3-control"))
    yield server
    server.process.terminate()
    server.process.wait(timeout=30)


def bucket_env(endpoint: str, bucket: str) -> dict[str, str]:
    return {
        "EVALSITE_STORAGE": "s3",
        "AWS_STORAGE_BUCKET_NAME": bucket,
        "AWS_S3_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "evalsite-test",
        "AWS_SECRET_ACCESS_KEY": "evalsite-test-secret",
        "AWS_S3_REGION_NAME": "us-east-1",
        "AWS_QUERYSTRING_EXPIRE": "120",
    }


@pytest.fixture
def s3_bucket(s3_server, settings):
    """A new bucket, and this process's default storage pointed at it."""
    name = f"evalsite-test-{uuid.uuid4().hex[:12]}"
    env = bucket_env(s3_server.endpoint, name)
    client = boto3.client(
        "s3",
        endpoint_url=s3_server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    client.create_bucket(Bucket=name)
    settings.EVALSITE_STORAGE = "s3"
    settings.STORAGES = {**settings.STORAGES, "default": default_storage_setting(env)}
    return S3Bucket(name=name, env=env, client=client)


def free_port() -> int:
    """A loopback port that nothing listens on (for a wrong endpoint)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def host_env(base: dict[str, str], host_dir: Path) -> dict[str, str]:
    """The environment of a process on another host: its own folders, none of the web process's."""
    env = {key: value for key, value in base.items() if key not in ("MEDIA_ROOT", "EVALSITE_VAR_DIR")}
    env.update(
        EVALSITE_VAR_DIR=str(host_dir / "var"),
        MEDIA_ROOT=str(host_dir / "media"),
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), base.get("PYTHONPATH", "")])),
    )
    return env


@contextmanager
def remote_worker(*, broker_url: str, host_dir: Path, log_path: Path, extra_env: dict | None = None):
    """A ``celery worker -Q gpu --pool=solo`` on "another host": its own working folder, var folder and MEDIA_ROOT.

    It shares only what a GPU host shares in production: the database, the broker, SECRET_KEY and whatever
    storage ``extra_env`` names.
    """
    from django.conf import settings

    from .worker import database_url, worker_process

    host_dir.mkdir(parents=True, exist_ok=True)
    env = host_env(
        {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "evalsite.settings",
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": broker_url,
            "SECRET_KEY": settings.SECRET_KEY,
            "OMP_NUM_THREADS": "1",
            **(extra_env or {}),
        },
        host_dir,
    )
    with worker_process(env=env, cwd=host_dir, log_path=log_path) as process:
        yield process
