"""The web process (gunicorn evalsite.wsgi) loads the site without the generation stack."""

import subprocess
import sys

from django.conf import settings


def test_web_process_does_not_import_torch_or_diffusers():
    code = (
        "import sys, django; django.setup(); import evalsite.wsgi, evalsite.urls; "
        "from django.urls import get_resolver; get_resolver().url_patterns; "
        "print(sorted({'torch', 'diffusers', 'transformers'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=settings.BASE_DIR,
        env={"DJANGO_SETTINGS_MODULE": "evalsite.settings", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
