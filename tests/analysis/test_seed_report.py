"""The seed's design keeps its numbers: the paired report of a fixed data set equals the one the code made before
studies had several criteria or conditions (``reference/seed_report.py`` wrote ``reference/data/seed-report.json``
with that code), every number to 1e-5 relative (far inside the digits any table prints) and every text exactly.

Not to the last bit: the model's variances come from a derivative-free search of the REML deviance, whose linear
algebra rounds differently on different CPUs (BLAS kernels by instruction set), and the same code on two machines
was seen to differ by up to 5e-7 relative (a p of 1e-6; the ICC 3e-7), with the same versions of every library, and
the search's count of evaluations by one."""

import json
import math
import re
from pathlib import Path

from tests.analysis.reference.seed_report import seed_summary

REFERENCE = Path(__file__).parent / "reference" / "data" / "seed-report.json"
RELATIVE = 1e-5
#: The search's count of deviance evaluations, which the same rounding moves by one or two (its text is compared
#: without it).
EVALUATIONS = re.compile(r"\d+ deviance evaluations")


def differences(expected, actual, path: str = "") -> list[str]:
    """Where ``actual`` differs from ``expected``: numbers beyond ``RELATIVE``, anything else at all."""
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
        if math.isclose(expected, actual, rel_tol=RELATIVE, abs_tol=1e-300):
            return []
    elif (
        expected == actual
        or path.endswith(".convergence")
        and EVALUATIONS.sub("", expected) == EVALUATIONS.sub("", actual)
    ):
        return []
    return [f"{path}: {expected!r}, now {actual!r}"]


def test_the_seed_report_keeps_every_number():
    expected = json.loads(REFERENCE.read_text(encoding="utf-8"))
    actual = json.loads(json.dumps(seed_summary()))
    assert len(expected["studies"]) == 2 and expected["studies"][0]["mixed_model"]["effect"]["p"] is not None
    assert differences(expected, actual) == []
