"""Settings read from the environment, checked in a fresh interpreter per case."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRINT_BROKER = (
    "import django, json; django.setup(); from evalsite.celery import app; "
    "print(json.dumps(app.conf.broker_transport_options))"
)


def broker_options(tmp_path, **env) -> dict:
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "evalsite.settings",
        "EVALSITE_VAR_DIR": str(tmp_path),
        **env,
    }
    result = subprocess.run(
        [sys.executable, "-c", PRINT_BROKER],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"CELERY_BROKER_URL": "redis://127.0.0.1:6379/0"}, {"visibility_timeout": 3600}),
        (
            {"CELERY_BROKER_URL": "redis://127.0.0.1:6379/0", "CELERY_VISIBILITY_TIMEOUT": "120"},
            {"visibility_timeout": 120},
        ),
        ({"CELERY_BROKER_URL": "amqp://guest:guest@127.0.0.1:5672//"}, {}),
    ],
)
def test_broker_transport_options(tmp_path, env, expected):
    assert broker_options(tmp_path, **env) == expected


def test_the_local_default_is_the_file_system_broker(tmp_path):
    options = broker_options(tmp_path, CELERY_BROKER_URL="filesystem://")
    assert options["data_folder_in"] == options["data_folder_out"] == str(tmp_path / "broker" / "data")
    assert (tmp_path / "broker" / "control").is_dir()
