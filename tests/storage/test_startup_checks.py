"""A misconfigured storage stops `manage.py check` (and so the site's start) and a Celery worker at start-up,
with a message naming the settings, instead of failing at the first image."""

import os
import subprocess
import sys

import pytest

from tests.integration.s3 import ROOT, bucket_env, free_port, host_env, s3_bucket, s3_server  # noqa: F401


def run(command: list[str], env: dict[str, str], cwd, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def check(env: dict[str, str], tmp_path) -> subprocess.CompletedProcess:
    environ = host_env({**os.environ, "DJANGO_SETTINGS_MODULE": "evalsite.settings", **env}, tmp_path / "host")
    return run([sys.executable, str(ROOT / "manage.py"), "check", "--tag", "evalsite_storage"], environ, tmp_path)


def test_good_bucket_passes(s3_bucket, tmp_path):
    result = check(s3_bucket.env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert s3_bucket.keys() == [], "the probe object is deleted again"


def test_missing_bucket_fails_naming_the_setting(s3_server, tmp_path):
    result = check(bucket_env(s3_server.endpoint, "no-such-bucket"), tmp_path)
    assert result.returncode != 0
    assert "evalsite.E001" in result.stderr
    assert "S3 bucket 'no-such-bucket'" in result.stderr and "AWS_STORAGE_BUCKET_NAME" in result.stderr
    assert "NoSuchBucket" in result.stderr


def test_unreachable_endpoint_fails_naming_the_setting(tmp_path):
    endpoint = f"http://127.0.0.1:{free_port()}"
    result = check(bucket_env(endpoint, "images"), tmp_path)
    assert result.returncode != 0
    assert f"at {endpoint}" in result.stderr and "AWS_S3_ENDPOINT_URL" in result.stderr
    assert "Could not connect to the endpoint URL" in result.stderr


def test_incomplete_settings_fail_before_anything_runs(tmp_path):
    result = check({"EVALSITE_STORAGE": "s3"}, tmp_path)
    assert result.returncode != 0
    assert "ImproperlyConfigured: EVALSITE_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME" in result.stderr


def test_worker_refuses_to_start_without_its_bucket(s3_server, tmp_path):
    host = tmp_path / "gpu-host"
    host.mkdir()
    env = host_env(
        {**os.environ, "DJANGO_SETTINGS_MODULE": "evalsite.settings", **bucket_env(s3_server.endpoint, "gone")}, host
    )
    env.pop("CELERY_BROKER_URL", None)  # the file-system broker under the host's own var folder
    command = [sys.executable, "-m", "celery", "-A", "evalsite", "worker", "-Q", "gpu", "--pool=solo"]
    try:
        result = run(command, env, host, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail("the worker started although its storage is missing")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "The image storage is not usable: S3 bucket 'gone'" in output and "the worker does not start" in output
