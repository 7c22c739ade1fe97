"""Reads over pair jobs: progress and an estimate of the time left."""

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Count, Max, Min, Q, QuerySet

from .models import PairJob


@dataclass(frozen=True)
class JobProgress:
    done: int
    failed: int
    running: int
    pending: int
    eta: timedelta | None

    @property
    def total(self) -> int:
        return self.done + self.failed + self.running + self.pending

    def __str__(self) -> str:
        parts = [f"{self.done}/{self.total} done"]
        if self.failed:
            parts.append(f"{self.failed} failed")
        if self.running or self.pending:
            parts.append(f"{self.running} running, {self.pending} pending")
            if self.eta is not None:
                parts.append(f"ETA {format_duration(self.eta)}")
        return ", ".join(parts)


def format_duration(duration: timedelta) -> str:
    seconds = int(duration.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def job_progress(jobs: QuerySet[PairJob]) -> JobProgress:
    """Counts by status, and the time left at the throughput seen so far (all workers together)."""
    counts = jobs.aggregate(
        done=Count("pk", filter=Q(status=PairJob.Status.DONE)),
        failed=Count("pk", filter=Q(status=PairJob.Status.FAILED)),
        running=Count("pk", filter=Q(status=PairJob.Status.RUNNING)),
        pending=Count("pk", filter=Q(status=PairJob.Status.PENDING)),
        first_start=Min("started_at", filter=Q(status=PairJob.Status.DONE)),
        last_finish=Max("finished_at", filter=Q(status=PairJob.Status.DONE)),
    )
    eta = None
    remaining = counts["running"] + counts["pending"]
    if counts["done"] and remaining and counts["first_start"] and counts["last_finish"]:
        elapsed = (counts["last_finish"] - counts["first_start"]).total_seconds()
        if elapsed > 0:
            eta = timedelta(seconds=remaining * elapsed / counts["done"])
    return JobProgress(counts["done"], counts["failed"], counts["running"], counts["pending"], eta)
