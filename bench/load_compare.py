"""The load benchmark (``bench/load.py``) on an earlier commit and on this checkout, side by side in one run.

The earlier commit (and ``--after``, when given, else the checkout as it is) is unpacked with ``git archive`` into a
temporary folder (the repository is not touched), and both trees run their own ``bench/load.py`` with this
checkout's Python environment, alternately (earlier, now, now, earlier, ...), so that a slow spell of the shared
machine falls on both. Printed per scenario: each run's figure, the median and spread of each side, and
now ÷ earlier.

    python bench/load_compare.py --before 4877093 --rounds 3 saturated
    python bench/load_compare.py --before 4877093 --rounds 1 paced -- --annotators 100

Anything after ``--`` goes to both trees' ``bench/load.py`` as it is. A benchmark, not a test: run it with nothing
else busy on the machine (docs/benchmarks.md, "Load").
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: The figures compared, per scenario: (label, how to read it from a run's JSON result, higher is better).
FIGURES = {
    "saturated": [("ratings/s", lambda run: run["ratings_per_s"], True)],
    "paced": [
        ("rating page p99 ms", lambda run: run["page_ms"]["p99"], False),
        ("submit p99 ms", lambda run: run["submit_ms"]["p99"], False),
        ("image p99 ms", lambda run: run["image_ms"]["p99"], False),
    ],
}


def unpack(revision: str, into: Path) -> Path:
    """The tree of ``revision``, unpacked into ``into``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def run_load(tree: Path, scenario: str, extra: list[str], out: Path) -> dict:
    """One run of ``tree``'s load benchmark; its JSON result (exits if the run, its exactly-once check or any
    request failed, or nothing was stored)."""
    command = [sys.executable, str(tree / "bench" / "load.py"), scenario, "--json", str(out), *extra]
    finished = subprocess.run(command, cwd=tree)
    if finished.returncode != 0:
        sys.exit(f"{' '.join(command)} failed (exit {finished.returncode})")
    result = json.loads(out.read_text())[0]
    if result["errors"] or not result["check"]["stored"]:
        sys.exit(f"{' '.join(command)}: errors {result['errors']}, {result['check']['stored']} ratings stored")
    return result


def summary(values: list[float]) -> str:
    spread = f" ({min(values):g}–{max(values):g})" if len(values) > 1 else ""
    return f"{statistics.median(values):g}{spread}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario", choices=sorted(FIGURES))
    parser.add_argument("--before", required=True, help="the earlier commit (any git revision)")
    parser.add_argument("--after", default=None, help="the later commit (default: this checkout as it is)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each side (default 3)")
    parser.add_argument("--json", type=Path, default=None, help="also write every run's result here")
    args, extra = parser.parse_known_args()
    extra = [arg for arg in extra if arg != "--"]
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")

    runs: dict[str, list[dict]] = {"earlier": [], "now": []}
    with tempfile.TemporaryDirectory(prefix="evalsite-before-") as folder:
        (Path(folder) / "tree").mkdir()
        trees = {"earlier": unpack(args.before, Path(folder) / "tree"), "now": ROOT}
        if args.after:
            (Path(folder) / "after").mkdir()
            trees["now"] = unpack(args.after, Path(folder) / "after")
        for round_ in range(args.rounds):
            order = ("earlier", "now") if round_ % 2 == 0 else ("now", "earlier")
            for side in order:
                label = args.before if side == "earlier" else args.after or "checkout"
                print(f"\n### round {round_ + 1}: {side} ({label})")
                runs[side].append(run_load(trees[side], args.scenario, extra, Path(folder) / f"{side}.json"))

    print(f"\n## {args.scenario}: {args.before} against {args.after or 'this checkout'}, {args.rounds} run(s) each")
    for label, read, higher_is_better in FIGURES[args.scenario]:
        earlier = [read(run) for run in runs["earlier"]]
        now = [read(run) for run in runs["now"]]
        ratio = statistics.median(now) / statistics.median(earlier)
        better = "higher is better" if higher_is_better else "lower is better"
        print(f"{label}: earlier {summary(earlier)}; now {summary(now)}; now ÷ earlier {ratio:.3f} ({better})")
    if args.json:
        args.json.write_text(json.dumps({"before": args.before, "runs": runs}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
