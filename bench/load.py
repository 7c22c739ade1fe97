"""Load benchmark of the annotator pages: gunicorn + PostgreSQL, simulated annotators, exactly-once check.

A benchmark, not a test; run it by hand (docs/benchmarks.md, "Load"). It creates a fresh PostgreSQL database
(``evalsite_load``, dropped at the end), migrates it, builds an open study of real PNG pairs in a temporary
MEDIA_ROOT, starts gunicorn on 127.0.0.1 and drives it with simulated annotators (asyncio + aiohttp, one cookie
jar per annotator). Each annotator opens its invite link, consents and loads the rating page; then, as the page's
script does, for every pair it fetches both images (and the next pair's, which the page preloads) and submits two
scores in a request whose JSON answer holds the next pair. Some submits are sent twice at once (a double click),
some are "lost": the answer is dropped after a few milliseconds, so the server may or may not have stored the
rating, and the request is sent again; some pages are reloaded.

Scenarios:

* ``paced``: every annotator thinks a few seconds per pair (uniform 2–6 s × ``--scale``); 200 annotators of 50
  pairs by default. Targets: p99 under 100 ms for the rating page and for a submit.
* ``saturated``: ``--clients`` closed-loop clients with no pause, each taking a fresh annotator when one is done,
  for ``--duration`` seconds (or ``--max-ratings``). Target: at least 300 stored ratings per second.

Afterwards the ratings are counted in the database: at most one per assignment, one for every acknowledged
submit (a JSON answer with the next pair or where to go next), none for an assignment whose submit was never
acknowledged, and the stored scores are those sent.

    python bench/load.py paced
    python bench/load.py paced --annotators 50 --pairs 20 --scale 0.25
    python bench/load.py saturated --clients 64 --duration 30
    python bench/load.py both
    python bench/load.py both --design k4         # four conditions' images rated on one screen
    python bench/load.py both --design pairwise   # a choice between two of three conditions, ties allowed

Everything targets 127.0.0.1 only; every loop is bounded in count and in time.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
DB_NAME = "evalsite_load"
HOST = "127.0.0.1"
#: Linux's autogroups share the CPU between sessions first, whatever the niceness within them (``--priority``).
AUTOGROUP = Path("/proc/sys/kernel/sched_autogroup_enabled")

CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
ASSIGNMENT_RE = re.compile(r'name="assignment" value="(\d+)"')
IMAGE_RE = re.compile(r'(?:src|href)="(/a/[^"]+/image/[A-Za-z0-9_-]+\.png)"')
JSON_ACCEPT = {"Accept": "application/json"}  # what the rating page's script asks for
CONNECTION_ERRORS = (aiohttp.ClientConnectionError,)


# ---------------------------------------------------------------------------------------------------------------
# Set-up: database, environment, study


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def admin_sql(*statements: str) -> None:
    import psycopg2

    connection = psycopg2.connect(PG_ADMIN_URL)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
    finally:
        connection.close()


def load_environment(tmp: Path, conn_max_age: int) -> dict[str, str]:
    """The server's environment: production settings on plain HTTP at 127.0.0.1, the load database, temp files."""
    for folder in ("media", "static", "var"):
        (tmp / folder).mkdir(parents=True, exist_ok=True)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "EVALSITE_STORAGE", "EVALSITE_IMAGE_DELIVERY"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="evalsite.settings",
        DEBUG="0",
        SECRET_KEY="load-benchmark-" + os.urandom(16).hex(),
        ALLOWED_HOSTS=HOST,
        SECURE_SSL_REDIRECT="0",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
        SECURE_HSTS_SECONDS="0",
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{DB_NAME}",
        DATABASE_CONN_MAX_AGE=str(conn_max_age),
        MEDIA_ROOT=str(tmp / "media"),
        STATIC_ROOT=str(tmp / "static"),
        EVALSITE_VAR_DIR=str(tmp / "var"),
        CELERY_BROKER_URL="filesystem://",
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    return env


def pattern_png(index: int, arm: str, size: int) -> bytes:
    """A small real image: a gradient with a little noise, different per pair and arm, as PNG."""
    from PIL import Image, ImageChops

    from generation.storage import encode_png

    rng = random.Random(f"{index}:{arm}")
    base = Image.linear_gradient("L").resize((size, size)).rotate(rng.randrange(360))
    noise = Image.effect_noise((size, size), 24)
    channels = [ImageChops.add(base, noise, scale=1.0, offset=rng.randrange(-60, 60)) for _ in range(3)]
    return encode_png(Image.merge("RGB", channels))


#: The designs a run may load: the seed's screen of two rated images; every condition's image of four (baseline,
#: ours, resized and an imported set) rated on one screen; a pairwise choice between two of three conditions.
DESIGNS = {"seed": "seed", "k4": "resized", "pairwise": "pairwise"}


def build_study(*, slug: str, pairs: int, annotators: int, size: int, design: str = "seed") -> list[str]:
    """An open study of ``pairs`` generated pairs and ``annotators`` invite tokens, through the project's services,
    of ``design`` (``DESIGNS``: k4 adds an imported condition, its images imported from a folder)."""
    from annotations import services
    from annotations.models import Condition, ConditionImage
    from annotations.services.design import add_condition
    from annotations.services.image_import import import_condition_images
    from generation.models import DiffusionModel, PairJob
    from generation.storage import write_atomic

    model, _ = DiffusionModel.objects.get_or_create(
        source="load-benchmark",
        defaults={"name": "load-benchmark", "family": "sd", "train_width": 64, "train_height": 64},
    )
    study = services.create_study(
        slug=slug,
        title=f"Load {slug}",
        prompts=[f"Load test prompt number {index}: a scene with {index % 7 + 1} objects" for index in range(pairs)],
        model=model,
        width=size,
        height=size,
        steps=2,
        design_preset=DESIGNS[design],
    )
    if design == "k4":
        other = add_condition(condition=Condition(study=study, key="other", name="Other", kind="imported"))
        folder = Path(tempfile.mkdtemp(prefix="evalsite-load-images-"))
        for index in range(pairs):
            (folder / f"{index + 1}.png").write_bytes(pattern_png(index, "other", size))
        import_condition_images(condition=other, source=folder)
        shutil.rmtree(folder, ignore_errors=True)
    services.queue_study_generation(study=study)
    for index, pair in enumerate(study.pairs.select_related("job").order_by("prompt__position")):
        for arm, name in (("baseline", pair.job.baseline_image), ("ours", pair.job.ours_image)):
            write_atomic(name, pattern_png(index, arm, size))
        PairJob.objects.filter(pk=pair.job_id).update(status=PairJob.Status.DONE)
    resized = ConditionImage.objects.filter(prompt__study=study, job__isnull=False).select_related("job", "prompt")
    for image in resized:  # the resized condition's own jobs, each image at the study's size
        write_atomic(image.name, pattern_png(image.prompt.position, "resized", size))
        PairJob.objects.filter(pk=image.job_id).update(status=PairJob.Status.DONE)
    study = services.open_study(study=study)
    return [annotator.token for annotator in services.create_annotators(study=study, count=annotators)]


# ---------------------------------------------------------------------------------------------------------------
# The server


@dataclass
class Server:
    process: subprocess.Popen
    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"


def start_gunicorn(env: dict[str, str], tmp: Path, args: argparse.Namespace) -> Server:
    port = free_port()
    log = tmp / "gunicorn.log"
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "evalsite.wsgi",
        "--bind",
        f"{HOST}:{port}",
        "--workers",
        str(args.workers),
        "--worker-class",
        args.worker_class,
        "--threads",
        str(args.threads),
        "--backlog",
        "2048",
        "--timeout",
        "60",
        "--keep-alive",
        "75",
        "--error-logfile",
        str(log),
    ]
    priority = args.priority
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        preexec_fn=(lambda: os.setpriority(os.PRIO_PROCESS, 0, priority)) if priority else None,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.2)
    else:
        process.kill()
        raise RuntimeError("gunicorn did not start within 60 s")
    print(f"gunicorn {' '.join(command[3:])}  (pid {process.pid})", flush=True)
    wait_until_idle(process, args.workers)
    return Server(process, port, log)


def gunicorn_cpu(master: int) -> tuple[int, float]:
    """(worker count, CPU seconds of master + workers so far)."""
    workers, seconds = 0, 0.0
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _proc_stat(int(entry))) is not None:
            if int(entry) == master:
                seconds += stat[2]
            elif stat[1] == master:
                workers += 1
                seconds += stat[2]
    return workers, seconds


def wait_until_idle(process: subprocess.Popen, workers: int) -> None:
    """Wait until every worker has booted (imported the whole site) and the server is idle, 120 s at most."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        count, before = gunicorn_cpu(process.pid)
        time.sleep(1.0)
        count, after = gunicorn_cpu(process.pid)
        if count >= workers and after - before < 0.05:
            return
    print("warning: gunicorn was still busy 120 s after starting", flush=True)


def stop_gunicorn(server: Server) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=10)


# ---------------------------------------------------------------------------------------------------------------
# CPU accounting from /proc (utime + stime per process, sampled so that processes that exit are counted too)

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _proc_stat(pid: int) -> tuple[str, int, float] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name = raw[raw.index("(") + 1 : raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2 :].split()
    return name, int(fields[1]), (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def name_or_title(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


class CpuMeter:
    """CPU seconds of gunicorn (master + workers), PostgreSQL (every postgres process), this load generator."""

    def __init__(self, gunicorn_pid: int, priority: int = 0):
        self.gunicorn_pid = gunicorn_pid
        self.priority = priority
        self.first: dict[int, float] = {}
        self.last: dict[int, tuple[str, float]] = {}
        self.started = time.monotonic()
        self.total_start = self._machine()
        self.sample()

    @staticmethod
    def _machine() -> tuple[float, float]:
        values = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        idle = values[3] + values[4]
        return sum(values) / CLOCK_TICKS, idle / CLOCK_TICKS

    def _group(self, pid: int, name: str, parent: int) -> str | None:
        if pid == os.getpid():
            return "load generator"
        if pid == self.gunicorn_pid or parent == self.gunicorn_pid:
            return "gunicorn"
        if name.startswith("postgres") or name.startswith("postmaster"):
            try:
                title = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            except OSError:
                return None
            # Backends of other databases (other users of this PostgreSQL) are not ours.
            if "(" in title and f" {DB_NAME} " not in title:
                return None
            return "postgresql"
        return None

    def sample(self) -> None:
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            pid = int(entry)
            stat = _proc_stat(pid)
            if stat is None:
                continue
            name, parent, seconds = stat
            group = self._group(pid, name, parent)
            if group is None:
                continue
            if pid not in self.first and self.priority and group == "postgresql" and "(" in name_or_title(pid):
                try:  # the load database's backends run at the benchmark's priority (--priority)
                    os.setpriority(os.PRIO_PROCESS, pid, self.priority)
                except OSError:
                    pass
            self.first.setdefault(pid, seconds)
            self.last[pid] = (group, seconds)

    def result(self) -> dict[str, float]:
        self.sample()
        used: dict[str, float] = {}
        for pid, (group, seconds) in self.last.items():
            used[group] = used.get(group, 0.0) + seconds - self.first[pid]
        total, idle = self._machine()
        wall = time.monotonic() - self.started
        used["machine busy"] = (total - self.total_start[0]) - (idle - self.total_start[1])
        used["other processes"] = used["machine busy"] - sum(
            used.get(group, 0.0) for group in ("gunicorn", "postgresql", "load generator")
        )
        return {group: round(seconds / wall, 3) for group, seconds in used.items()} | {"wall_s": round(wall, 1)}


async def sample_cpu(meter: CpuMeter, stop: asyncio.Event) -> None:
    for _ in range(100_000):  # bounded; ends with the run
        if stop.is_set():
            return
        meter.sample()
        try:
            await asyncio.wait_for(stop.wait(), timeout=1.0)
        except TimeoutError:
            pass


# ---------------------------------------------------------------------------------------------------------------
# Simulated annotators


@dataclass
class Stats:
    page_ms: list[float] = field(default_factory=list)
    submit_ms: list[float] = field(default_factory=list)
    image_ms: list[float] = field(default_factory=list)
    sent: dict[int, dict[str, str]] = field(default_factory=dict)  # assignment -> the answer's fields sent
    acknowledged: set[int] = field(default_factory=set)
    lost: set[int] = field(default_factory=set)  # assignments whose first submit's response was lost
    unacknowledged_after_loss: set[int] = field(default_factory=set)
    double_submits: int = 0
    connection_retries: int = 0
    reloads: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    finished_annotators: int = 0
    consents: int = 0

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


class Stop(Exception):
    """The run's deadline or rating budget is reached."""


@dataclass
class Plan:
    base: str
    think: tuple[float, float]
    deadline: float
    max_ratings: int | None
    double_p: float
    lost_p: float
    reload_p: float
    design: str = "seed"


async def timed(stats: Stats, session, method: str, url: str, **options) -> tuple[int, str, float, bytes]:
    """(status, Location, milliseconds, body) of one request. A request whose connection fails before any answer (a
    kept-alive connection the server closed meanwhile) is sent again, up to three times, as browsers and the rating
    page's script do; the milliseconds are those of the attempt that was answered."""
    for attempt in range(4):
        started = time.perf_counter()
        try:
            async with session.request(method, url, allow_redirects=False, **options) as response:
                body = await response.read()
                location = response.headers.get("Location", "")
                return response.status, location, (time.perf_counter() - started) * 1000, body
        except CONNECTION_ERRORS:
            if attempt == 3:
                raise
            stats.connection_retries += 1
    raise AssertionError("unreachable")


async def timed_get(stats: Stats, session, url: str) -> tuple[int, str, float, bytes]:
    return await timed(stats, session, "GET", url)


async def timed_post(
    stats: Stats, session, url: str, data: dict, headers: dict | None = None
) -> tuple[int, str, float, bytes]:
    return await timed(stats, session, "POST", url, data=data, headers=headers)


def parse_page(page: str) -> dict:
    """The pair on a rating page, as the page's script would see it: assignment, CSRF token, image links."""
    links = IMAGE_RE.findall(page)
    return {
        "assignment": int(ASSIGNMENT_RE.search(page).group(1)),
        "csrf": CSRF_RE.search(page).group(1),
        "links": links,
        "places": page.count('<figure id="figure-'),
    }


def parse_answer(status: int, body: bytes) -> dict | None:
    """A submit's JSON answer: {"pair": ...} or {"redirect": url} acknowledge it; None for anything else."""
    if status != 200:
        return None
    try:
        answer = json.loads(body)
    except ValueError:
        return None
    return answer if "pair" in answer or "redirect" in answer else None


def answer_fields(design: str, places: int, rng: random.Random) -> dict[str, str]:
    """A screen's answer as the page posts it: a score per place (left and right on the seed's screen, 1 to K on a
    screen of every condition's image), or a pairwise choice."""
    if design == "pairwise":
        return {"choice": rng.choice(("left", "right", "tie"))}
    names = ("left", "right") if design == "seed" else [str(place) for place in range(1, places + 1)]
    return {name: str(rng.randint(1, 10)) for name in names}


async def annotate(plan: Plan, token: str, stats: Stats, rng: random.Random, pairs: int) -> None:
    """One annotator from invite link to completion code, as the rating page's script does it: the page once (and
    on a reload), then per pair its images and one submit whose JSON answer holds the next pair.

    Raises Stop at the deadline or rating budget.
    """
    base = plan.base
    jar = aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1
    connector = aiohttp.TCPConnector(limit=4, force_close=False)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(cookie_jar=jar, connector=connector, timeout=timeout) as session:
        status, _, _, body = await timed_get(stats, session, f"{base}/a/{token}/")
        if status != 200:
            stats.error(f"invite GET {status}")
            return
        csrf = CSRF_RE.search(body.decode()).group(1)
        status, location, _, _ = await timed_post(
            stats, session, f"{base}/a/{token}/", {"csrfmiddlewaretoken": csrf, "consent": "yes"}
        )
        if status != 302:
            stats.error(f"consent POST {status}")
            return
        stats.consents += 1
        rate_url = f"{base}/a/{token}/rate/"
        status, _, ms, body = await timed_get(stats, session, rate_url)
        if status != 200:
            stats.error(f"rate GET {status}")
            return
        stats.page_ms.append(ms)
        shown = parse_page(body.decode())
        csrf = shown["csrf"]
        cached: set[str] = set()
        for _ in range(pairs * 2 + 10):  # bounded: one pass per pair, plus slack for errors
            if time.monotonic() > plan.deadline:
                raise Stop
            assignment = shown["assignment"]
            for link in shown["links"]:  # the pair's images and the next pair's (preload), each once
                if link in cached:
                    continue
                status, _, image_ms, data = await timed_get(stats, session, base + link)
                if status != 200 or not data.startswith(b"\x89PNG"):
                    stats.error(f"image GET {status}")
                    continue
                cached.add(link)
                stats.image_ms.append(image_ms)
            if rng.random() < plan.reload_p:  # a reload shows the same pair again
                status, _, ms, body = await timed_get(stats, session, rate_url)
                stats.reloads += 1
                if status == 200:
                    stats.page_ms.append(ms)
                    if parse_page(body.decode())["assignment"] != assignment:
                        stats.error("reload showed another pair")
            if plan.think[1] > 0:
                await asyncio.sleep(rng.uniform(*plan.think))
            if plan.max_ratings is not None and len(stats.acknowledged) >= plan.max_ratings:
                raise Stop
            answer_sent = stats.sent.setdefault(assignment, answer_fields(plan.design, shown["places"], rng))
            form = {"csrfmiddlewaretoken": csrf, "assignment": str(assignment), **answer_sent}
            send = functools.partial(timed_post, stats, session, rate_url, form, JSON_ACCEPT)
            draw = rng.random()
            if draw < plan.lost_p:
                # The answer is lost: the client gives up after a few ms, whatever the server did, and sends again.
                try:
                    await asyncio.wait_for(send(), timeout=rng.uniform(0.001, 0.03))
                except (TimeoutError, aiohttp.ClientError):
                    pass
                stats.lost.add(assignment)
                results = [await send()]
            elif draw < plan.lost_p + plan.double_p:
                stats.double_submits += 1
                results = await asyncio.gather(send(), send())
            else:
                results = [await send()]
            answer = None
            for status, _, ms, body in results:
                stats.submit_ms.append(ms)
                if (parsed := parse_answer(status, body)) is None:
                    stats.error(f"submit POST {status}")
                else:
                    answer = parsed
            if answer is None:
                if assignment in stats.lost:
                    stats.unacknowledged_after_loss.add(assignment)
                continue
            stats.acknowledged.add(assignment)
            stats.unacknowledged_after_loss.discard(assignment)
            if "redirect" in answer:
                status, _, _, _ = await timed_get(stats, session, base + answer["redirect"])
                if status == 200 and answer["redirect"].endswith(f"/a/{token}/done/"):
                    stats.finished_annotators += 1
                else:
                    stats.error(f"left the rating pages for {answer['redirect']} ({status})")
                return
            pair = answer["pair"]
            shown = {
                "assignment": pair["assignment"],
                "links": [*pair["images"].values(), *pair["preload"]],
                "places": len(pair["images"]),
            }
        stats.error("annotator loop bound reached")


async def warm_up(server: Server, slots: int) -> None:
    """Let every worker import the URLconf (and all it imports) before the measured window: rounds of concurrent
    requests until a round is quick, 40 rounds at most."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        quick = 0
        for _ in range(40):
            started = time.perf_counter()
            timings = await asyncio.gather(
                *(timed_get(Stats(), session, f"{server.base}/a/warm-up/") for _ in range(2 * slots))
            )
            slowest = max(timing[2] for timing in timings)
            quick = quick + 1 if slowest < 100 else 0
            if quick >= 3:
                break
            await asyncio.sleep(max(0.0, 0.2 - (time.perf_counter() - started)))
    wait_until_idle(server.process, 0)


async def run_clients(
    args: argparse.Namespace, server: Server, tokens: list[str], *, saturated: bool
) -> tuple[Stats, float, dict]:
    rng = random.Random(args.seed)
    stats = Stats()
    await warm_up(server, args.workers * args.threads)
    if args.priority:
        os.setpriority(os.PRIO_PROCESS, 0, args.priority)
    now = time.monotonic()
    plan = Plan(
        base=server.base,
        think=(0.0, 0.0) if saturated else (2.0 * args.scale, 6.0 * args.scale),
        deadline=now + (args.duration if saturated else args.max_duration),
        max_ratings=args.max_ratings if saturated else None,
        double_p=args.double,
        lost_p=args.lost,
        reload_p=args.reload,
        design=args.design,
    )
    queue = list(tokens)
    queue.reverse()

    async def client(index: int) -> None:
        client_rng = random.Random(rng.random())
        if not saturated:
            await asyncio.sleep(client_rng.uniform(0, args.ramp))  # arrivals spread over the ramp
        for _ in range(len(tokens)):  # bounded: a closed-loop client takes fresh annotators until stopped
            if not queue:
                return
            try:
                await annotate(plan, queue.pop(), stats, client_rng, args.pairs)
            except Stop:
                return
            except (TimeoutError, aiohttp.ClientError) as exc:
                stats.error(f"client {type(exc).__name__}")
            if not saturated:
                return

    meter = CpuMeter(server.process.pid, args.priority)
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample_cpu(meter, stop))
    started = time.monotonic()
    count = args.clients if saturated else len(tokens)
    await asyncio.gather(*(client(index) for index in range(count)))
    wall = time.monotonic() - started
    stop.set()
    await sampler
    return stats, wall, meter.result()


# ---------------------------------------------------------------------------------------------------------------
# Results


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)

    return {"n": len(ordered), "p50": pick(0.50), "p95": pick(0.95), "p99": pick(0.99), "max": round(ordered[-1], 1)}


def expected_scores(sent: dict[str, str], rating: dict) -> dict:
    """The stored record (``exactly_once``'s: ours_on_left, layout, condition position -> score) that the answer
    ``sent`` should have left: each place's score under the condition shown there (the seed's screen: ours on the
    left when ``ours_on_left``), a pairwise choice as the chosen image's 2 and the other's 1 (a tie 1 and 1)."""
    expected = {"ours_on_left": rating["ours_on_left"], "layout": rating["layout"]}
    if "choice" in sent:
        left, right = (int(digit) for digit in rating["layout"])
        expected[left], expected[right] = {"left": (2, 1), "right": (1, 2), "tie": (1, 1)}[sent["choice"]]
    elif rating["layout"]:
        for place, digit in enumerate(rating["layout"], start=1):
            expected[int(digit)] = int(sent.get(str(place), 0))
    elif sent:
        left, right = int(sent["left"]), int(sent["right"])
        expected[1], expected[0] = (left, right) if rating["ours_on_left"] else (right, left)
    return expected


def exactly_once(stats: Stats, slug: str) -> dict:
    """Count the study's ratings in the database against what the clients sent and had acknowledged.

    * at most one rating per assignment (``max_per_assignment``);
    * every acknowledged submit is stored (``acknowledged_not_stored`` = 0);
    * nothing is stored that was not acknowledged (``stored_not_acknowledged`` = 0). Counted per assignment, so a
      lost response followed by a retry counts once: the lost request and its retry race on the server, either may
      store the rating, and the retry's acknowledgement covers whichever did. A lost request whose retry got no
      acknowledgement either (possible only if the run stops in between) is listed apart (``lost_then_stopped``);
    * the stored scores are the ones sent (``scores_differ`` = 0).
    """
    from django.db import connection
    from django.db.models import Count

    from annotations.models import Assignment, Rating

    per_assignment = (
        Rating.objects.filter(assignment__annotator__study__slug=slug)
        .values("assignment_id", "condition_id", "criterion_id")
        .annotate(n=Count("id"))
        .order_by("-n")
    )
    max_per_assignment = per_assignment[0]["n"] if per_assignment else 0
    stored: dict[int, dict] = {}  # assignment -> {"ours_on_left", "layout", condition position -> score}
    rows = Rating.objects.filter(assignment__annotator__study__slug=slug, criterion__position=0).values_list(
        "assignment_id", "assignment__ours_on_left", "assignment__layout", "condition__position", "score"
    )
    for assignment_id, ours_on_left, layout, position, score in rows:
        stored.setdefault(assignment_id, {"ours_on_left": ours_on_left, "layout": layout})[position] = score
    acked = stats.acknowledged
    lost_then_stopped = stats.unacknowledged_after_loss - acked
    stored_not_acked = set(stored) - acked - lost_then_stopped
    scores_differ = sum(
        expected_scores(stats.sent.get(assignment_id, {}), rating) != rating for assignment_id, rating in stored.items()
    )
    result = {
        "stored": len(stored),
        "acknowledged": len(acked),
        "max_per_assignment": max_per_assignment,
        "acknowledged_not_stored": len(acked - set(stored)),
        "stored_not_acknowledged": len(stored_not_acked),
        "lost_responses": len(stats.lost),
        "lost_then_stopped": len(lost_then_stopped),
        "scores_differ": scores_differ,
        "assignments": Assignment.objects.filter(annotator__study__slug=slug).count(),
    }
    result["ok"] = (
        max_per_assignment <= 1
        and result["acknowledged_not_stored"] == 0
        and result["stored_not_acknowledged"] == 0
        and scores_differ == 0
    )
    connection.close()
    return result


def report(name: str, stats: Stats, wall: float, cpu: dict, check: dict) -> dict:
    page, submit, image = percentiles(stats.page_ms), percentiles(stats.submit_ms), percentiles(stats.image_ms)
    rate = check["stored"] / wall if wall else 0.0
    print(f"\n== {name} ==")
    print(f"wall {wall:.1f} s, annotators consented {stats.consents}, finished {stats.finished_annotators}")
    print(f"stored ratings {check['stored']}  →  {rate:.1f} ratings/s")
    for label, values in (("rating page GET", page), ("submit POST", submit), ("image GET", image)):
        print(
            f"{label:16s} "
            + "  ".join(f"{key} {value}" for key, value in values.items())
            + (" ms" if values.get("n") else "")
        )
    print(
        f"double submits {stats.double_submits}, lost responses retried {len(stats.lost)}, reloads {stats.reloads},"
        f" requests sent again after a closed connection {stats.connection_retries}"
    )
    print(f"errors {stats.errors or 'none'}")
    print("CPU (cores busy, of 2): " + ", ".join(f"{key} {value}" for key, value in cpu.items()))
    print(
        "exactly once: "
        + ("PASS" if check["ok"] else "FAIL")
        + f" — {check['stored']} stored / {check['acknowledged']} acknowledged assignments;"
        f" >1 rating per assignment: {'no' if check['max_per_assignment'] <= 1 else 'YES'};"
        f" acknowledged but not stored {check['acknowledged_not_stored']};"
        f" stored but never acknowledged {check['stored_not_acknowledged']};"
        f" stored scores differing from those sent {check['scores_differ']};"
        f" lost responses retried {check['lost_responses']}"
        f" (retry unacknowledged at stop: {check['lost_then_stopped']})"
    )
    return {
        "scenario": name,
        "wall_s": round(wall, 1),
        "ratings_per_s": round(rate, 1),
        "page_ms": page,
        "submit_ms": submit,
        "image_ms": image,
        "cpu": cpu,
        "check": check,
        "errors": stats.errors,
        "double_submits": stats.double_submits,
        "reloads": stats.reloads,
        "connection_retries": stats.connection_retries,
        "finished_annotators": stats.finished_annotators,
    }


# ---------------------------------------------------------------------------------------------------------------


def scenario(args: argparse.Namespace, name: str, env: dict[str, str], tmp: Path) -> dict:
    saturated = name == "saturated"
    annotators = args.annotators
    if saturated:
        # Enough fresh annotators for the closed loop: the rating budget, or 600 ratings/s for the duration.
        budget = args.max_ratings or int(600 * args.duration)
        annotators = max(args.clients, -(-budget // args.pairs) + args.clients)
    tokens = build_study(
        slug=f"load-{name}", pairs=args.pairs, annotators=annotators, size=args.size, design=args.design
    )
    from django.db import connection

    connection.close()
    server = start_gunicorn(env, tmp, args)
    try:
        stats, wall, cpu = asyncio.run(run_clients(args, server, tokens, saturated=saturated))
    finally:
        stop_gunicorn(server)
    log = server.log.read_text() if server.log.exists() else ""
    tracebacks = log.count("Traceback")
    if tracebacks:
        print(f"gunicorn log: {tracebacks} tracebacks (see {server.log})")
    result = report(name, stats, wall, cpu, exactly_once(stats, f"load-{name}"))
    result["server_tracebacks"] = tracebacks
    result["settings"] = {
        key: getattr(args, key)
        for key in (
            "workers",
            "worker_class",
            "threads",
            "pairs",
            "size",
            "double",
            "lost",
            "reload",
            "seed",
            "priority",
            "design",
        )
    } | (
        {"clients": args.clients, "duration": args.duration, "annotators": annotators}
        if saturated
        else {"annotators": annotators, "scale": args.scale, "ramp": args.ramp}
    )
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario", choices=("paced", "saturated", "both"))
    parser.add_argument("--annotators", type=int, default=200, help="paced: concurrent annotators (default 200)")
    parser.add_argument("--pairs", type=int, default=50, help="pairs per annotator = pairs in the study (default 50)")
    parser.add_argument("--scale", type=float, default=1.0, help="paced: think time is uniform 2–6 s × scale")
    parser.add_argument("--ramp", type=float, default=10.0, help="paced: arrivals spread over this many seconds")
    parser.add_argument("--max-duration", type=float, default=900.0, help="paced: stop after this many seconds")
    parser.add_argument("--clients", type=int, default=64, help="saturated: closed-loop clients (default 64)")
    parser.add_argument("--duration", type=float, default=30.0, help="saturated: seconds (default 30)")
    parser.add_argument(
        "--max-ratings", type=int, default=None, help="saturated: stop after this many acknowledged ratings"
    )
    parser.add_argument("--size", type=int, default=128, help="image width and height in pixels (default 128)")
    parser.add_argument("--double", type=float, default=0.05, help="share of submits sent twice at once")
    parser.add_argument(
        "--lost", type=float, default=0.05, help="share of submits whose response is lost, then retried"
    )
    parser.add_argument("--reload", type=float, default=0.03, help="share of rating pages reloaded")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2: one per core)")
    parser.add_argument("--worker-class", default="gthread", help="gunicorn worker class (gthread, sync)")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker (gthread; default 4)")
    parser.add_argument("--conn-max-age", type=int, default=600, help="DATABASE_CONN_MAX_AGE for the server")
    parser.add_argument(
        "--priority",
        type=int,
        default=0,
        help="niceness for gunicorn, the load database's PostgreSQL backends and this client (e.g. -10, as root) "
        "when other work shares the machine (with Linux autogroups on, it counts within a session only); 0: unchanged",
    )
    parser.add_argument(
        "--design",
        choices=tuple(DESIGNS),
        default="seed",
        help="seed: two images rated (default); k4: four conditions' images rated on one screen; pairwise: a choice "
        "between two of three conditions",
    )
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--keep-db", action="store_true", help="leave the evalsite_load database for inspection")
    args = parser.parse_args()
    if args.priority and AUTOGROUP.is_file() and AUTOGROUP.read_text().strip() == "1":
        print(
            f"note: {AUTOGROUP} is 1, so --priority ranks this run only among its own session's processes; "
            "write 0 there (as root) to rank it above the machine's other work",
            file=sys.stderr,
        )

    tmp = Path(tempfile.mkdtemp(prefix="evalsite-load-"))
    env = load_environment(tmp, args.conn_max_age)
    os.environ.update(env)
    admin_sql(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)", f"CREATE DATABASE {DB_NAME}")
    results = []
    try:
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)  # as a deployment does: pages name hashed files
        print(f"database {DB_NAME} migrated; media under {tmp}", flush=True)
        names = ("paced", "saturated") if args.scenario == "both" else (args.scenario,)
        for name in names:
            results.append(scenario(args, name, env, tmp))
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep_db:
            admin_sql(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return 0 if all(result["check"]["ok"] for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
