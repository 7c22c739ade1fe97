"""The shipped service definitions name real commands, options and settings, and their example settings load."""

import os
import re
import secrets
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
INSTALL = "/srv/evalsite"
BIN = Path(sys.executable).parent
#: Variables in the deploy files that programs other than Django's settings read.
READ_ELSEWHERE = {"CUDA_VISIBLE_DEVICES": "CUDA", "HF_HOME": "huggingface_hub", "FLOWER_BASIC_AUTH": "Flower"}
WEB_ONLY = {
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "STATIC_ROOT",
    "EVALSITE_IMAGE_DELIVERY",
    "AWS_QUERYSTRING_EXPIRE",
    "FLOWER_BASIC_AUTH",
}


def parse_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """systemd's unit format: [Section] then Key=Value lines; a key may repeat."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def read_env_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if line.strip() and not line.startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


def env_file_for(unit: dict) -> Path:
    [target] = unit["Service"]["EnvironmentFile"]
    assert target.startswith("/etc/evalsite/")
    return DEPLOY / (Path(target).name + ".example")


def commands(unit: dict, instance: str = "0") -> list[list[str]]:
    """ExecStartPre and ExecStart, with the specifiers systemd would fill in."""
    lines = unit["Service"].get("ExecStartPre", []) + unit["Service"]["ExecStart"]
    return [shlex.split(line.replace("%i", instance).replace("%H", "gpu-host-1")) for line in lines]


def local(argv: list[str]) -> list[str]:
    """The command with the installed virtualenv's program replaced by this one's."""
    program = Path(argv[0])
    assert str(program.parent) == f"{INSTALL}/.venv/bin", argv
    assert (BIN / program.name).exists(), f"{program.name} is not installed (requirements.txt)"
    return [str(BIN / program.name), *argv[1:]]


def run(argv: list[str], env: dict[str, str], tmp_path) -> subprocess.CompletedProcess:
    environ = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "EVALSITE_"))}
    environ.update(env, EVALSITE_VAR_DIR=str(tmp_path / "var"), MEDIA_ROOT=str(tmp_path / "media"))
    return subprocess.run(argv, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=180)


def test_units_are_shipped():
    assert {path.name for path in UNITS} == {
        "evalsite-web.service",
        "evalsite-worker@.service",
        "evalsite-flower.service",
    }


@pytest.mark.parametrize("path", UNITS, ids=lambda path: path.name)
def test_unit_layout(path):
    unit = parse_unit(path)
    assert set(unit) == {"Unit", "Service", "Install"}
    assert unit["Service"]["WorkingDirectory"] == [INSTALL]
    assert unit["Service"]["User"] == ["evalsite"]
    assert env_file_for(unit).exists()
    for argv in commands(unit):
        local(argv)


def test_every_variable_is_read_by_the_settings_or_named_program():
    source = (ROOT / "evalsite" / "settings.py").read_text() + (ROOT / "evalsite" / "storage_config.py").read_text()
    read = set(re.findall(r'"([A-Z][A-Z0-9_]+)"', source))
    names = set()
    for path in DEPLOY.glob("*.env.example"):
        names |= set(read_env_file(path))
    for path in UNITS:
        for value in parse_unit(path)["Service"].get("Environment", []):
            names.add(value.split("=", 1)[0])
    unknown = sorted(name for name in names if name not in read and name not in READ_ELSEWHERE)
    assert not unknown, f"set by deploy/ but read by nothing: {unknown}"


def test_gpu_host_gets_the_database_broker_and_storage_only():
    worker = read_env_file(DEPLOY / "worker.env.example")
    web = read_env_file(DEPLOY / "web.env.example")
    assert {
        "SECRET_KEY",
        "DATABASE_URL",
        "CELERY_BROKER_URL",
        "EVALSITE_STORAGE",
        "AWS_STORAGE_BUCKET_NAME",
        "AWS_S3_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    } <= set(worker)
    assert not set(worker) & WEB_ONLY and "MEDIA_ROOT" not in worker
    assert worker["SECRET_KEY"] == web["SECRET_KEY"], "one SECRET_KEY keys the image names everywhere"
    for name in ("AWS_STORAGE_BUCKET_NAME", "AWS_S3_ENDPOINT_URL", "EVALSITE_STORAGE"):
        assert worker[name] == web[name]


@pytest.mark.parametrize("name", ["web.env.example", "worker.env.example"])
def test_example_settings_load(name, tmp_path):
    env = read_env_file(DEPLOY / name)
    probe = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.STORAGES['default']['BACKEND'], s.DEBUG, s.DATABASES['default']['ENGINE'])"
    )
    result = run([sys.executable, "-c", probe], {**env, "DJANGO_SETTINGS_MODULE": "evalsite.settings"}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["storages.backends.s3.S3Storage", "False", "django.db.backends.postgresql"]


def test_web_unit_commands_run(tmp_path):
    unit = parse_unit(DEPLOY / "systemd" / "evalsite-web.service")
    [check, migrated, gunicorn] = commands(unit)
    assert check[1:] == ["manage.py", "check", "--deploy", "--fail-level", "WARNING"]
    assert migrated[1:] == ["manage.py", "migrate", "--check", "--skip-checks"]
    assert gunicorn[1] == "evalsite.wsgi"
    env = {
        "DJANGO_SETTINGS_MODULE": "evalsite.settings",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DEBUG": "0",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    # The real checks, on local stand-ins (SQLite, the file system) for the example's remote services.
    result = run(local(check), env, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    result = run(local(check), {**env, "DEBUG": "1"}, tmp_path)
    assert result.returncode != 0 and "security.W018" in result.stdout + result.stderr  # DEBUG left on
    # the example's key, published with the code, would unblind every image: the unit refuses it
    example_key = read_env_file(DEPLOY / "web.env.example")["SECRET_KEY"]
    result = run(local(check), {**env, "SECRET_KEY": example_key}, tmp_path)
    assert result.returncode != 0 and "evalsite.E002" in result.stdout + result.stderr
    assert "SECRET_KEY is a published example value" in result.stdout + result.stderr
    result = run(local(migrated), env, tmp_path)
    assert result.returncode != 0  # a database without the migrations
    assert run(local([*migrated[:2], "migrate", "--skip-checks"]), env, tmp_path).returncode == 0
    assert run(local(migrated), env, tmp_path).returncode == 0
    # gunicorn loads the application with exactly these options, then exits.
    result = run([*local(gunicorn), "--check-config"], env, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", ["evalsite-worker@.service", "evalsite-flower.service"])
def test_celery_unit_commands_parse(name, tmp_path):
    unit = parse_unit(DEPLOY / "systemd" / name)
    [argv] = commands(unit, instance="2")
    assert argv[1:3] == ["-A", "evalsite"]
    # click rejects an unknown option or value before it shows --help.
    result = run([*local(argv), "--help"], {"DJANGO_SETTINGS_MODULE": "evalsite.settings"}, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    if "worker" in argv:
        assert unit["Service"]["Environment"] == ["CUDA_VISIBLE_DEVICES=%i"]
        options = argv[argv.index("worker") + 1 :]
        for expected in (
            ["-Q", "gpu"],
            ["--pool=solo"],
            ["--concurrency=1"],
            ["--prefetch-multiplier=1"],
            ["-n", "gpu2@gpu-host-1"],
        ):
            assert any(options[i : i + len(expected)] == expected for i in range(len(options))), expected


def test_click_rejects_unknown_options(tmp_path):
    """The check above means something: a misspelt option fails even with --help."""
    result = run(
        [str(BIN / "celery"), "-A", "evalsite", "worker", "--prefetch-multiplyer=1", "--help"],
        {"DJANGO_SETTINGS_MODULE": "evalsite.settings"},
        tmp_path,
    )
    assert result.returncode != 0 and "No such option" in result.stderr
