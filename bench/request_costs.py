"""What one annotator request costs, per kind, measured in one process: a steadier measure than latency under load
on a shared machine (``bench/load.py``), for finding where a change added work.

Django's test client against PostgreSQL, with the production settings and everything loaded before ``gc.freeze()``
as ``evalsite/wsgi.py`` does; an open study of six generated pairs and ``--annotators`` annotators, each of whom
consents, opens the rating page, fetches each pair's two images and submits each pair as the page's script does.
Per request kind (consent, rating page, submit, image): the Python CPU of this process (``time.process_time``),
the PostgreSQL backend's CPU (from ``/proc/<pid>/schedstat``) and the queries.

    python bench/request_costs.py                          # this checkout
    python bench/request_costs.py --before 4877093 --rounds 2   # an earlier commit too, alternately

With ``--before`` the earlier commit is unpacked with ``git archive`` into a temporary folder and measured by this
script with that tree's code, alternately with this checkout, so that a slow spell falls on both. A benchmark, not a
test: run it with nothing else busy on the machine.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("consent", "page", "submit", "image")
IMAGE_RE = re.compile(r'<img src="([^"]+\.png)"')
ASSIGNMENT_RE = re.compile(r'name="assignment" value="(\d+)"')
CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def environment(tree: Path, tmp: Path) -> None:
    """Production settings on plain HTTP, a database of this tree's own, files under ``tmp``."""
    for folder in ("media", "static", "var"):
        (tmp / folder).mkdir(parents=True, exist_ok=True)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="evalsite.settings",
        DEBUG="0",
        SECRET_KEY="request-costs-" + os.urandom(24).hex(),
        ALLOWED_HOSTS="testserver",
        SECURE_SSL_REDIRECT="0",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
        SECURE_HSTS_SECONDS="0",
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{database(tree)}",
        DATABASE_CONN_MAX_AGE="600",
        MEDIA_ROOT=str(tmp / "media"),
        STATIC_ROOT=str(tmp / "static"),
        EVALSITE_VAR_DIR=str(tmp / "var"),
        CELERY_BROKER_URL="filesystem://",
        LOG_LEVEL="WARNING",
    )


def database(tree: Path) -> str:
    return "request_costs_" + re.sub(r"\W", "_", tree.name.lower())


def fresh_database(name: str) -> None:
    import psycopg2

    admin = psycopg2.connect("dbname=postgres user=postgres host=127.0.0.1")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()


def measure(annotators: int) -> dict[str, dict[str, float]]:
    """Every request of ``annotators`` annotators' whole sequences, in the tree at the working directory."""
    tree = Path.cwd()
    sys.path.insert(0, str(tree))
    environment(tree, Path(tempfile.mkdtemp(prefix="request-costs-")))
    fresh_database(database(tree))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, reset_queries
    from django.test import Client
    from django.urls import get_resolver

    from tests.factories import make_open_study

    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)  # as a deployment does: pages name hashed files
    _, people = make_open_study(slug="costs", prompts=6, annotators=annotators)
    get_resolver().url_patterns  # noqa: B018 (as evalsite/wsgi.py: every view loaded before the freeze)
    gc.collect()
    gc.freeze()
    connection.force_debug_cursor = True  # count queries

    def backend_ms() -> float:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e6

    costs = {kind: {"python": [], "backend": [], "queries": []} for kind in KINDS}

    def timed(kind: str, request):
        before_backend = backend_ms()
        reset_queries()
        start = time.process_time()
        response = request()
        python = (time.process_time() - start) * 1000
        queries = len(connection.queries)
        costs[kind]["backend"].append(backend_ms() - before_backend)
        costs[kind]["python"].append(python)
        costs[kind]["queries"].append(queries)
        return response

    for annotator in people:
        client = Client()
        invite, rate = f"/a/{annotator.token}/", f"/a/{annotator.token}/rate/"
        csrf = CSRF_RE.search(client.get(invite).content.decode()).group(1)
        timed("consent", lambda: client.post(invite, {"consent": "yes", "csrfmiddlewaretoken": csrf}))  # noqa: B023
        page = timed("page", lambda: client.get(rate)).content.decode()  # noqa: B023
        assignment, links = int(ASSIGNMENT_RE.search(page).group(1)), IMAGE_RE.findall(page)
        csrf = CSRF_RE.search(page).group(1)
        while True:
            for link in links:
                timed("image", lambda: client.get(link.replace("&amp;", "&")))  # noqa: B023
            data = {"assignment": assignment, "left": 5, "right": 7, "csrfmiddlewaretoken": csrf}
            answer = timed("submit", lambda: client.post(rate, data, HTTP_ACCEPT="application/json")).json()  # noqa: B023
            if "pair" not in answer:
                break
            assignment = answer["pair"]["assignment"]
            links = [answer["pair"]["images"]["left"], answer["pair"]["images"]["right"]]
    return {
        kind: {
            "n": len(values["python"]),
            "python_ms": statistics.median(values["python"]),
            "backend_ms": statistics.mean(values["backend"]),
            "queries": statistics.mean(values["queries"]),
        }
        for kind, values in costs.items()
    }


def run_tree(tree: Path, annotators: int) -> dict:
    """This script's measurement of ``tree``, in a process of its own."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", "--annotators", str(annotators)]
    finished = subprocess.run(command, cwd=tree, capture_output=True, text=True)
    if finished.returncode != 0:
        sys.exit(f"measuring {tree} failed:\n{finished.stderr[-4000:]}")
    return json.loads(finished.stdout.strip().splitlines()[-1])


def table(results: dict[str, list[dict]]) -> str:
    sides = list(results)
    lines = [
        "| request | " + " | ".join(f"{side}: Python ms, backend ms, queries" for side in sides) + " |",
        "|---|" + "---|" * len(sides),
    ]
    for kind in KINDS:
        cells = []
        for side in sides:
            runs = [run[kind] for run in results[side]]
            python = [run["python_ms"] for run in runs]
            spread = f" ({min(python):.2f}–{max(python):.2f})" if len(python) > 1 else ""
            backend = statistics.median(run["backend_ms"] for run in runs)
            cells.append(f"{statistics.median(python):.2f}{spread}, {backend:.2f}, {runs[0]['queries']:.2f}")
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", default=None, help="an earlier commit to measure too (any git revision)")
    parser.add_argument("--rounds", type=int, default=1, help="measurements of each side (default 1)")
    parser.add_argument("--annotators", type=int, default=30, help="annotators, of six pairs each (default 30)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.annotators)))
        return 0
    trees = {"now": ROOT}
    with tempfile.TemporaryDirectory(prefix="request-costs-before-") as folder:
        if args.before:
            archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.before], check=True, capture_output=True)
            earlier = Path(folder) / "earlier"
            earlier.mkdir()
            subprocess.run(["tar", "-x", "-C", str(earlier)], input=archive.stdout, check=True)
            trees = {args.before: earlier, "now": ROOT}
        results: dict[str, list[dict]] = {side: [] for side in trees}
        for round_ in range(args.rounds):
            order = list(trees) if round_ % 2 == 0 else list(reversed(trees))
            for side in order:
                results[side].append(run_tree(trees[side], args.annotators))
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
