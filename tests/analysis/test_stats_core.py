"""analysis.stats runs without Django: a fresh interpreter with no settings fits the mixed model and never loads
Django or the project's apps."""

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STATS = ROOT / "analysis" / "stats"
FORBIDDEN = ("django", "evalsite", "generation", "annotations", "metrics")

SCRIPT = """
import importlib, json, pkgutil, sys
import numpy as np
from analysis.stats.mixed import effect_of, fit_crossed

rng = np.random.default_rng(3)
annotator = np.repeat(np.arange(12), 15)
item = np.tile(np.arange(15), 12)
y = 0.4 + rng.normal(0, 0.5, 12)[annotator] + rng.normal(0, 0.7, 15)[item] + rng.normal(0, 1.0, annotator.size)
fit = fit_crossed(y=y, annotator=annotator, item=item)
effect = effect_of(fit)
import analysis.stats
for module in pkgutil.iter_modules(analysis.stats.__path__):  # and every other module of the core
    importlib.import_module(f"analysis.stats.{module.name}")
print(json.dumps({"estimate": effect.estimate, "mean": float(y.mean()), "p": effect.p,
                  "modules": sorted(name for name in sys.modules if name.split(".")[0] in sys.argv[1:])}))
"""


def test_stats_core_fits_without_django_settings():
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    output = subprocess.run(
        [sys.executable, "-c", SCRIPT, *FORBIDDEN], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert output.returncode == 0, output.stderr
    result = json.loads(output.stdout.strip().splitlines()[-1])
    assert abs(result["estimate"] - result["mean"]) < 1e-9  # complete crossed design: the estimate is the mean
    assert 0 <= result["p"] <= 1
    assert result["modules"] == []  # no 'django' (nor any app) in sys.modules


def test_stats_core_imports_nothing_of_django_or_the_apps():
    """Also imports inside functions, which the fresh interpreter above may not reach."""
    for path in sorted(STATS.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] not in FORBIDDEN, f"{path.name} imports {name}"
