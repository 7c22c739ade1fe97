"""Evaluating a study's settings on a reference subset: FID and CLIP score per arm and resolution.

Pair jobs are ordered through generation's services (the Celery "gpu" queue, the same grouping and batching as a
human study), one per sampled caption and resolution, seeded ``base_seed + index``. Images are read as their jobs
finish and their features added to running sums in batches; the sums are checkpointed, so a run that is stopped
resumes where it stopped. When every job is done (or failed, or its images cannot be read), the values are stored as
MetricResult rows.

Everything that can be refused is checked before anything is written: the resolutions (the pair job's size rules and
the model family's), the study's generation settings against those of the run's existing jobs (edited settings never
reuse old images), the feature networks and the checkpoints (another owner's sums are never reused).
"""

import contextlib
import io
import logging
import math
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F
from PIL import Image, UnidentifiedImageError

from annotations.models import Study
from evalsite.progress import BarFactory, NoBar
from generation.models import (
    IMAGE_SIZE_MAX,
    IMAGE_SIZE_MIN,
    IMAGE_SIZE_MULTIPLE,
    PairJob,
    family_setting_errors,
)
from generation.services import create_pair_job, queue_pair_jobs

from . import checkpoint as checkpoints
from .features import ClipScorer, FeatureSums, FidFeatures, ScoreSums, batch_size, pick_device
from .models import Arm, Metric, MetricResult, MetricsJob, MetricsRun, ReferenceSet
from .references import open_item_image

logger = logging.getLogger(__name__)

ARMS = (Arm.BASELINE, Arm.OURS)
JOBS_PER_TRANSACTION = 500
#: What reading a generated image can raise; the pair is then counted as failed for both arms.
UNREADABLE = (OSError, ValueError, SyntaxError, Image.DecompressionBombError, UnidentifiedImageError)
_SIZE = re.compile(r"^(\d+)[x×](\d+)$")


def parse_resolution(text: str) -> tuple[int, int]:
    match = _SIZE.match(text.strip().lower())
    if not match:
        raise ValidationError(f"--resolution {text!r} is not WIDTHxHEIGHT, e.g. 768x768.")
    return int(match.group(1)), int(match.group(2))


def check_resolutions(*, resolutions: Sequence[tuple[int, int]], model) -> None:
    """Refuse, naming each, the sizes a pair job cannot have (8 to 4096 pixels, multiples of 8) or ``model``'s family
    cannot generate at."""
    errors = []
    for width, height in resolutions:
        if not (IMAGE_SIZE_MIN <= width <= IMAGE_SIZE_MAX and IMAGE_SIZE_MIN <= height <= IMAGE_SIZE_MAX):
            problems = [f"width and height must be from {IMAGE_SIZE_MIN} to {IMAGE_SIZE_MAX} pixels."]
        elif width % IMAGE_SIZE_MULTIPLE or height % IMAGE_SIZE_MULTIPLE:
            problems = [f"width and height must be multiples of {IMAGE_SIZE_MULTIPLE} pixels."]
        elif model is not None:
            family = family_setting_errors(
                family=model.family, width=width, height=height, scheduler="", negative_prompt=""
            )
            problems = [family[name] for name in ("width", "height") if name in family]
        else:
            problems = []
        if problems:
            errors.append(f"--resolution {width}x{height}: {' '.join(problems)}")
    if errors:
        raise ValidationError(" ".join(errors))


def generation_settings(study: Study) -> dict:
    """What the run's pair jobs are generated with, besides prompt, size and seed (``base_seed + index``)."""
    model = study.model
    return {
        "model": model.source,
        "revision": model.revision,
        "dtype": model.dtype,
        "train_width": model.train_width,
        "train_height": model.train_height,
        "steps": study.steps,
        "guidance_scale": study.guidance_scale,
        "scheduler": study.scheduler,
        "negative_prompt": study.negative_prompt,
    }


def check_run_settings(*, run: MetricsRun, study: Study) -> None:
    """Refuse to go on with a run whose pair jobs were generated with other settings than ``study`` has now."""
    links = MetricsJob.objects.filter(run=run)
    differences = []
    for name, value in generation_settings(study).items():
        earlier = list(
            links.exclude(**{f"job__{name}": value}).values_list(f"job__{name}", flat=True).distinct().order_by()[:3]
        )
        if earlier:
            differences.append(f"{name} (jobs: {', '.join(repr(item) for item in earlier)}; study now: {value!r})")
    other_seed = (
        links.annotate(expected=F("index") + study.base_seed)
        .exclude(job__seed=F("expected"))
        .values_list("job__seed", "index")
        .first()
    )
    if other_seed is not None:
        differences.append(f"base_seed (jobs: {other_seed[0] - other_seed[1]}; study now: {study.base_seed})")
    if differences:
        raise ValidationError(
            f"Study {study.slug!r} was evaluated on {run.reference.name!r} with other generation settings: "
            f"{', '.join(differences)}. Its images do not show the study's settings now, so they are not reused. "
            f"To evaluate the new settings, delete the metrics run '{run}' (admin: Metrics runs; its results go with "
            "it, its pair jobs stay) and run the command again, or evaluate a new study that has these settings."
        )


def run_owner(*, study: Study, reference: ReferenceSet, items: int) -> dict:
    """What a run checkpoint's sums belong to."""
    return {
        "study": study.slug,
        "reference": reference.name,
        "source": reference.source,
        "reference_seed": reference.seed,
        "items": items,
        "base_seed": study.base_seed,
        **generation_settings(study),
    }


def reference_owner(*, reference: ReferenceSet, items: int) -> dict:
    """What a reference checkpoint's sums belong to."""
    return {"reference": reference.name, "source": reference.source, "seed": reference.seed, "items": items}


def stream_key(metric: str, arm: str, width: int, height: int) -> str:
    return f"{metric}/{arm}@{width}x{height}"


REFERENCE_KEY = "fid/reference"


@dataclass
class Outcome:
    run: MetricsRun
    results: list[MetricResult] = field(default_factory=list)
    pending: int = 0
    failed: int = 0  # pair jobs that failed
    unreadable: int = 0  # pairs done whose images could not be read
    complete: bool = True


def order_jobs(*, run: MetricsRun, resolutions: Sequence[tuple[int, int]], requeue_pending: bool = False) -> int:
    """Create and queue the run's missing pair jobs, a chunk per transaction, queued as it commits; queue again the
    earlier jobs that failed (and those still pending, with ``requeue_pending``). Returns how many were re-queued."""
    study, reference = run.study, run.reference
    model = study.model
    # Jobs of an earlier run: failed ones are tried again; pending ones are still in the broker (a stopped command
    # does not stop the workers), so they are sent again only when asked to.
    statuses = [PairJob.Status.FAILED] + ([PairJob.Status.PENDING] if requeue_pending else [])
    earlier = list(
        MetricsJob.objects.filter(run=run, job__status__in=statuses)
        .filter(_resolution_filter(resolutions))
        .values_list("job_id", flat=True)
    )
    captions = list(reference.items.order_by("index").values_list("index", "caption"))
    for width, height in resolutions:
        have = set(MetricsJob.objects.filter(run=run, width=width, height=height).values_list("index", flat=True))
        missing = [(index, caption) for index, caption in captions if index not in have]
        for start in range(0, len(missing), JOBS_PER_TRANSACTION):
            with transaction.atomic():
                links = []
                for index, caption in missing[start : start + JOBS_PER_TRANSACTION]:
                    job = create_pair_job(
                        prompt=caption,
                        negative_prompt=study.negative_prompt,
                        model=model.source,
                        revision=model.revision,
                        dtype=model.dtype,
                        train_width=model.train_width,
                        train_height=model.train_height,
                        width=width,
                        height=height,
                        steps=study.steps,
                        guidance_scale=study.guidance_scale,
                        scheduler=study.scheduler,
                        seed=study.base_seed + index,
                    )
                    links.append(MetricsJob(run=run, index=index, width=width, height=height, job=job))
                MetricsJob.objects.bulk_create(links)
                queue_pair_jobs(job_ids=[link.job_id for link in links])
    for start in range(0, len(earlier), JOBS_PER_TRANSACTION):
        queue_pair_jobs(job_ids=earlier[start : start + JOBS_PER_TRANSACTION])
    return len(earlier)


def _resolution_filter(resolutions):
    from django.db.models import Q

    condition = Q(pk__in=[])
    for width, height in resolutions:
        condition |= Q(width=width, height=height)
    return condition


class _Saver:
    """Saves checkpoints at most every EVALSITE_METRICS_CHECKPOINT_SECONDS, and always when asked to."""

    def __init__(self, *checkpoints_: checkpoints.Checkpoint) -> None:
        self.checkpoints = checkpoints_
        self.last = time.monotonic()

    def maybe(self, force: bool = False) -> None:
        if force or time.monotonic() - self.last >= settings.EVALSITE_METRICS_CHECKPOINT_SECONDS:
            for item in self.checkpoints:
                item.save()
            self.last = time.monotonic()


def _batches(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def add_reference(
    *,
    fid: FidFeatures,
    state: checkpoints.Checkpoint,
    reference: ReferenceSet,
    saver: _Saver,
    progress: Callable[[str], None],
    bar: BarFactory = NoBar,
) -> None:
    """Add the reference images not added yet to the reference sums; unreadable ones are counted, not fatal."""
    sums = state.fid.setdefault(REFERENCE_KEY, FeatureSums.zeros(fid.dim))
    done = state.done_for(REFERENCE_KEY)
    unreadable = state.done_for("unreadable/reference")
    size = batch_size(fid.device)
    batch, indices = [], []

    def flush():
        if batch:
            fid.add(sums, batch)
            done.update(indices)
            batch.clear()
            indices.clear()
            saver.maybe()

    total = reference.items.count()
    with bar(total=total, initial=min(len(done), total), desc="reference images", unit="image") as shown:
        for item in reference.items.order_by("index").iterator(chunk_size=2000):
            if item.index in done:
                continue
            shown.update(1)
            try:
                image = open_item_image(item)
            except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
                unreadable.add(item.index)
                done.add(item.index)
                continue
            batch.append(fid.prepare(image))
            indices.append(item.index)
            if len(batch) == size:
                flush()
                if len(done) % (size * 20) < size:
                    progress(f"reference: {len(done)} images")
        flush()
    saver.maybe(force=True)


def _read_image(name: str) -> Image.Image:
    with default_storage.open(name) as handle:
        data = handle.read()
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return image.convert("RGB")


def _read_pairs(rows: list[dict], unreadable: set[tuple[int, int, int]]) -> list[tuple[dict, dict[str, Image.Image]]]:
    """Each row with its images by arm; a row whose image cannot be read is logged, put in ``unreadable`` (as
    ``(width, height, index)``) and left out."""
    pairs = []
    for row in rows:
        try:
            images = {arm: _read_image(row[f"job__{arm}_image"]) for arm in ARMS}
        except UNREADABLE as exc:
            unreadable.add((row["width"], row["height"], row["index"]))
            logger.warning(
                "Pair job %s (caption %s at %sx%s): an image cannot be read (%s: %s); the pair is counted "
                "as failed for both arms.",
                row["job_id"],
                row["index"],
                row["width"],
                row["height"],
                exc.__class__.__name__,
                exc,
            )
            continue
        pairs.append((row, images))
    return pairs


def _add_generated(
    *,
    rows: list[dict],
    metrics: Sequence[str],
    fid: FidFeatures | None,
    clip: ClipScorer | None,
    state: checkpoints.Checkpoint,
    unreadable: set[tuple[int, int, int]],
) -> None:
    """Add one batch of finished jobs (one resolution) to each arm's sums for each metric not yet done."""
    width, height = rows[0]["width"], rows[0]["height"]
    pairs = _read_pairs(rows, unreadable)
    rows = [row for row, _ in pairs]
    for arm in ARMS:
        images = [by_arm[arm] for _, by_arm in pairs]
        if Metric.FID in metrics:
            key = stream_key(Metric.FID, arm, width, height)
            done = state.done_for(key)
            chosen = [(row, image) for row, image in zip(rows, images, strict=True) if row["index"] not in done]
            if chosen:
                fid.add(
                    state.fid.setdefault(key, FeatureSums.zeros(fid.dim)), [fid.prepare(image) for _, image in chosen]
                )
                done.update(row["index"] for row, _ in chosen)
        if Metric.CLIP in metrics:
            from .features import to_uint8_tensor

            key = stream_key(Metric.CLIP, arm, width, height)
            done = state.done_for(key)
            chosen = [(row, image) for row, image in zip(rows, images, strict=True) if row["index"] not in done]
            if chosen:
                clip.add(
                    state.clip.setdefault(key, ScoreSums()),
                    [to_uint8_tensor(image) for _, image in chosen],
                    [row["caption"] for row, _ in chosen],
                )
                done.update(row["index"] for row, _ in chosen)


def _is_done(row: dict, metrics: Sequence[str], state: checkpoints.Checkpoint) -> bool:
    return all(
        row["index"] in state.done_for(stream_key(metric, arm, row["width"], row["height"]))
        for metric in metrics
        for arm in ARMS
    )


def check_waiting(*, timeout: float | None, poll_seconds: float) -> None:
    """Refuse a poll interval that is not a positive number of seconds and a negative timeout (NaN fails both)."""
    if not (math.isfinite(poll_seconds) and poll_seconds > 0):
        raise ValidationError(f"--poll must be a positive number of seconds; got {poll_seconds}.")
    if timeout is not None and not timeout >= 0:
        raise ValidationError(f"--timeout must be 0 or more seconds; got {timeout}.")


def add_generated(
    *,
    run: MetricsRun,
    resolutions,
    metrics,
    fid,
    clip,
    state,
    saver,
    timeout: float | None,
    poll_seconds: float,
    progress: Callable[[str], None],
    unreadable: set[tuple[int, int, int]],
    bar: BarFactory = NoBar,
) -> tuple[int, int]:
    """Add the images of each job as it finishes; returns (pending, failed) when all are done or time is up. Pairs
    whose images cannot be read go into ``unreadable`` as ``(width, height, index)``; they are tried again on the
    next run, not on the next poll."""
    captions = dict(run.reference.items.values_list("index", "caption"))
    size = batch_size(fid.device if fid else clip.device)
    deadline = None if timeout is None else time.monotonic() + timeout
    links = MetricsJob.objects.filter(run=run).filter(_resolution_filter(resolutions))
    total = links.count()
    with bar(total=total, desc="generated pairs", unit="pair") as shown:
        counted = 0
        while True:
            rows = [
                {**row, "caption": captions[row["index"]]}
                for row in links.filter(job__status=PairJob.Status.DONE)
                .values("index", "width", "height", "job_id", "job__baseline_image", "job__ours_image")
                .order_by("width", "height", "index")
            ]
            todo = [
                row
                for row in rows
                if not _is_done(row, metrics, state) and (row["width"], row["height"], row["index"]) not in unreadable
            ]
            for batch in _batches(todo, size):
                by_size: dict[tuple[int, int], list[dict]] = {}
                for row in batch:
                    by_size.setdefault((row["width"], row["height"]), []).append(row)
                for group in by_size.values():
                    _add_generated(rows=group, metrics=metrics, fid=fid, clip=clip, state=state, unreadable=unreadable)
                saver.maybe()
            if todo:
                progress(f"generated: {len(rows)} of {total} pairs added")
            failed = links.filter(job__status=PairJob.Status.FAILED).count()
            shown.update(len(rows) + failed - counted)
            counted = len(rows) + failed
            pending = total - len(rows) - failed
            if pending == 0 or (deadline is not None and time.monotonic() >= deadline):
                saver.maybe(force=True)
                return pending, failed
            time.sleep(poll_seconds)


def store_results(
    *,
    run: MetricsRun,
    resolutions,
    metrics,
    fid: FidFeatures | None,
    state,
    reference_state,
    failed_by_size: dict,
    clip_name: str,
) -> list[MetricResult]:
    """One MetricResult per resolution, arm and metric; ``clip_name`` labels CLIP scores (the CLIP model's identity)."""
    results = []
    for width, height in resolutions:
        for arm in ARMS:
            values = {}
            if Metric.FID in metrics:
                sums = state.fid.get(stream_key(Metric.FID, arm, width, height))
                reference = reference_state.fid[REFERENCE_KEY]
                if sums is not None and sums.count >= 2 and reference.count >= 2:
                    values[Metric.FID] = (fid.distance(reference, sums), sums.count, reference.count)
            if Metric.CLIP in metrics:
                sums = state.clip.get(stream_key(Metric.CLIP, arm, width, height))
                if sums is not None and sums.count:
                    values[Metric.CLIP] = (sums.value, sums.count, 0)
            for metric, (value, images, reference_images) in values.items():
                result, _ = MetricResult.objects.update_or_create(
                    run=run,
                    metric=metric,
                    arm=arm,
                    width=width,
                    height=height,
                    defaults={
                        "value": value,
                        "images": images,
                        "reference_images": reference_images,
                        "failed": failed_by_size.get((width, height), 0),
                        "feature_network": fid.kind if metric == Metric.FID else clip_name,
                    },
                )
                results.append(result)
    return results


def evaluate_metrics(
    *,
    study: Study,
    reference: ReferenceSet,
    metrics: Sequence[str] = (Metric.FID, Metric.CLIP),
    resolutions: Sequence[tuple[int, int]] = (),
    feature_network: str = "",
    timeout: float | None = None,
    poll_seconds: float = 2.0,
    requeue_pending: bool = False,
    progress: Callable[[str], None] = logger.info,
    bar: BarFactory = NoBar,
) -> Outcome:
    """Generate both arms for every sampled caption at each resolution and compute the metrics; see the module.
    ``progress`` takes messages; ``bar`` shows the reference images and the generated pairs added
    (``evalsite.progress``)."""
    metrics, resolutions = _checked_request(
        study=study,
        reference=reference,
        metrics=metrics,
        resolutions=resolutions,
        timeout=timeout,
        poll_seconds=poll_seconds,
    )
    kind = feature_network or settings.EVALSITE_FEATURE_NETWORK
    fid, clip = _load_networks(kind, metrics)
    kind_label = kind if fid else "none"
    items = reference.items.count()
    reference_path = checkpoints.checkpoint_path(f"reference-{reference.pk}-{kind}.pt")
    if fid is not None:  # refuse a damaged or foreign reference checkpoint before any write (a rename: no lock needed)
        checkpoints.load(reference_path, kind, reference_owner(reference=reference, items=items))

    with contextlib.ExitStack() as stack:
        run, state = _open_run(stack, study=study, reference=reference, kind_label=kind_label, items=items)
        _use_networks(state, fid=fid, clip=clip, progress=progress)
        requeued = order_jobs(run=run, resolutions=resolutions, requeue_pending=requeue_pending)
        if requeued:
            progress(f"queued {requeued} pair jobs of an earlier run again")
        reference_state = None
        if fid is not None:
            reference_state = _reference_sums(
                fid=fid, reference=reference, path=reference_path, items=items, progress=progress, bar=bar
            )
        unreadable_pairs: set[tuple[int, int, int]] = set()
        pending, failed = add_generated(
            run=run,
            resolutions=resolutions,
            metrics=metrics,
            fid=fid,
            clip=clip,
            state=state,
            saver=_Saver(state),
            timeout=timeout,
            poll_seconds=poll_seconds,
            progress=progress,
            unreadable=unreadable_pairs,
            bar=bar,
        )
    if unreadable_pairs:
        progress(
            f"generated: {len(unreadable_pairs)} pairs whose images cannot be read are counted as failed (see the log)"
        )
    outcome = Outcome(run=run, pending=pending, failed=failed, unreadable=len(unreadable_pairs), complete=pending == 0)
    if not outcome.complete:
        return outcome
    outcome.results = store_results(
        run=run,
        resolutions=resolutions,
        metrics=metrics,
        fid=fid,
        state=state,
        reference_state=reference_state,
        failed_by_size=_failed_by_size(run, resolutions, unreadable_pairs),
        clip_name=clip.identity if clip else "",
    )
    return outcome


def _checked_request(
    *,
    study: Study,
    reference: ReferenceSet,
    metrics: Sequence[str],
    resolutions: Sequence[tuple[int, int]],
    timeout: float | None,
    poll_seconds: float,
) -> tuple[list[str], list[tuple[int, int]]]:
    """Refuse what cannot be evaluated, before anything is loaded or written; the metrics and resolutions without
    repeats (the study's own size when none is given)."""
    check_waiting(timeout=timeout, poll_seconds=poll_seconds)
    metrics = list(dict.fromkeys(metrics))
    unknown = [metric for metric in metrics if metric not in Metric.values]
    if unknown or not metrics:
        raise ValidationError(
            f"Unknown metric {', '.join(unknown) or '(none)'}; choose from {', '.join(Metric.values)}."
        )
    if study.model is None:
        raise ValidationError(f"Study {study.slug!r} names no model to generate with.")
    if not reference.items.exists():
        raise ValidationError(f"Reference subset {reference.name!r} has no items.")
    resolutions = list(dict.fromkeys(resolutions or [(study.width, study.height)]))
    check_resolutions(resolutions=resolutions, model=study.model)
    existing = MetricsRun.objects.filter(study=study, reference=reference).select_related("reference").first()
    if existing is not None:
        check_run_settings(run=existing, study=study)
    return metrics, resolutions


def _load_networks(kind: str, metrics: Sequence[str]) -> tuple[FidFeatures | None, ClipScorer | None]:
    """The feature networks the metrics need, loaded (and failing on missing weights) before any job is ordered."""
    device = pick_device()
    fid = FidFeatures(kind, device) if Metric.FID in metrics else None
    clip = ClipScorer(device=device) if Metric.CLIP in metrics else None
    return fid, clip


def _open_run(
    stack: contextlib.ExitStack, *, study: Study, reference: ReferenceSet, kind_label: str, items: int
) -> tuple[MetricsRun, checkpoints.Checkpoint]:
    """The study's run on the reference and its checkpoint, locked until ``stack`` closes. A new run is not kept when
    its checkpoint is refused."""
    with transaction.atomic():
        run, _ = MetricsRun.objects.get_or_create(study=study, reference=reference)
        run_path = checkpoints.checkpoint_path(f"run-{run.pk}-{kind_label}.pt")
        stack.enter_context(checkpoints.locked(run_path, wait=False))
        state = checkpoints.load(run_path, kind_label, run_owner(study=study, reference=reference, items=items))
    return run, state


def _use_networks(
    state: checkpoints.Checkpoint, *, fid: FidFeatures | None, clip: ClipScorer | None, progress: Callable[[str], None]
) -> None:
    """Record the networks in the run's checkpoint; sums of another CLIP model start over."""
    if fid is not None:
        state.use_network(Metric.FID, fid.kind)
    if clip is not None:
        earlier = state.use_network(Metric.CLIP, clip.identity)
        if earlier:
            progress(f"The CLIP model is {clip.identity} now, not {earlier}: CLIP score sums start over.")


def _reference_sums(
    *,
    fid: FidFeatures,
    reference: ReferenceSet,
    path,
    items: int,
    progress: Callable[[str], None],
    bar: BarFactory = NoBar,
) -> checkpoints.Checkpoint:
    """The reference images' FID sums, completed under the reference checkpoint's lock (waiting for another run that
    holds it)."""

    def waiting() -> None:
        progress(f"waiting for another evaluate_metrics to finish the reference sums ({path})")

    with checkpoints.locked(path, wait=True, on_wait=waiting):
        reference_state = checkpoints.load(path, fid.kind, reference_owner(reference=reference, items=items))
        reference_state.use_network(Metric.FID, fid.kind)
        add_reference(
            fid=fid,
            state=reference_state,
            reference=reference,
            saver=_Saver(reference_state),
            progress=progress,
            bar=bar,
        )
    unreadable = len(reference_state.done_for("unreadable/reference"))
    if unreadable:
        progress(f"reference: {unreadable} unreadable images skipped")
    return reference_state


def _failed_by_size(
    run: MetricsRun, resolutions: Sequence[tuple[int, int]], unreadable_pairs: set[tuple[int, int, int]]
) -> dict[tuple[int, int], int]:
    """Pairs counted as failed at each resolution: their job failed, or their images cannot be read."""
    failed_by_size = {}
    for width, height in resolutions:
        failed_by_size[(width, height)] = MetricsJob.objects.filter(
            run=run, width=width, height=height, job__status=PairJob.Status.FAILED
        ).count() + sum(1 for size in unreadable_pairs if size[:2] == (width, height))
    return failed_by_size
