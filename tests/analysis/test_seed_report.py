"""The seed's design keeps its numbers: the paired report of a fixed data set equals the one the code made before
studies had several criteria or conditions (``reference/seed_report.py`` wrote ``reference/data/seed-report.json``
with that code), every number to 1e-12 relative and every text exactly."""

import json
import math
from pathlib import Path

from tests.analysis.reference.seed_report import seed_summary

REFERENCE = Path(__file__).parent / "reference" / "data" / "seed-report.json"


def differences(expected, actual, path: str = "") -> list[str]:
    """Where ``actual`` differs from ``expected``: numbers beyond 1e-12 relative, anything else at all."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        found = [f"{path}: keys {sorted(set(expected) ^ set(actual))}"] if set(expected) != set(actual) else []
        return found + [
            line
            for key in expected
            if key in actual
            for line in differences(expected[key], actual[key], f"{path}.{key}")
        ]
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return [f"{path}: {len(expected)} items, now {len(actual)}"]
        return [
            line
            for i, (e, a) in enumerate(zip(expected, actual, strict=True))
            for line in differences(e, a, f"{path}[{i}]")
        ]
    numbers = (int, float)
    if isinstance(expected, numbers) and isinstance(actual, numbers) and not isinstance(expected, bool):
        if math.isclose(expected, actual, rel_tol=1e-12, abs_tol=1e-300):
            return []
    elif expected == actual:
        return []
    return [f"{path}: {expected!r}, now {actual!r}"]


def test_the_seed_report_keeps_every_number():
    expected = json.loads(REFERENCE.read_text(encoding="utf-8"))
    actual = json.loads(json.dumps(seed_summary()))
    assert len(expected["studies"]) == 2 and expected["studies"][0]["mixed_model"]["effect"]["p"] is not None
    assert differences(expected, actual) == []
