from collections import Counter

from django.core.management.base import BaseCommand, CommandError

from annotations.models import Study
from annotations.selectors import live_monitor, pilot_runs


def _seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


class Command(BaseCommand):
    help = (
        "Print what a study's monitoring page shows: annotator counts and states, ratings, the quota and its ETA, "
        "warning signs (failed attention checks, one score throughout, speeders, position), each annotator's "
        "progress and each pair's assignments and ratings; pilot runs, which none of these count, apart."
    )

    def add_arguments(self, parser):
        parser.add_argument("study", metavar="STUDY", help="study slug")

    def handle(self, *args, study, **options):
        target = Study.objects.filter(slug=study).first()
        if target is None:
            raise CommandError(f"There is no study {study!r}.")
        live = live_monitor(study=target)
        seen, quota, position = live.monitor, live.quota, live.position
        write = self.stdout.write
        write(f"Study {target.slug!r} ({target.title}): {target.get_status_display().lower()}")
        states = Counter(annotator.state_display.split(":")[0] for annotator in live.annotators)
        write(
            f"Annotators: {seen.invited} invited, {seen.consented} consented, {seen.started} started, "
            f"{seen.finished} finished, {seen.screened_out} screened out"
            + (f"; now {', '.join(f'{count} {state}' for state, count in states.items())}" if states else "")
        )
        write(f"Ratings: {seen.ratings} (median seconds per item: {_seconds(seen.median_seconds)})")
        rate = "–" if quota.per_minute is None else f"{quota.per_minute:.1f} ratings a minute"
        write(
            f"Quota: {quota.ratings} of {quota.target} ratings, {quota.remaining} to go ({quota.rule}); "
            f"recent rate: {rate}; ETA: {quota.eta}"
        )
        failed = [f"{a.label} ({a.checks_failed} of {a.checks_answered})" for a in live.failed_checks]
        write(f"Failed attention checks: {', '.join(failed) or 'none'}")
        write(f"Same score for everything: {', '.join(live.straight_liners) or 'none'}")
        write(f"Speeders (median under {live.speed_threshold:g} s per pair): {', '.join(live.speeders) or 'none'}")
        if position.warning:
            balance = position.warning
        elif position.ratings:
            balance = (
                f"balanced: “ours” on the left in {position.ours_left} of {position.ratings} ratings of "
                f"{position.finished} finished annotators"
            )
        else:
            balance = "waits for an annotator to finish (a sequence is balanced only when complete)"
        write(f"Position (“ours” left vs right): {balance}")
        write(f"Annotators: {len(live.annotators)}")
        if live.annotators:
            write(f"  {'answered':>8}  {'median s':>8}  {'checks failed':>13}  {'flags':<16}  annotator: state")
            for a in live.annotators:
                checks = f"{a.checks_failed} of {a.checks_answered}" if a.checks_answered else "–"
                flags = ", ".join(name for name, on in (("speeder", a.speeder), ("same score", a.straight_liner)) if on)
                write(
                    f"  {f'{a.answered} / {a.total}':>8}  {_seconds(a.median_seconds):>8}  {checks:>13}  "
                    f"{flags or '–':<16}  {a.label}: {a.state_display}"
                )
        write(f"Pairs: {len(seen.pairs)}")
        if seen.pairs:
            write(f"  {'assigned':>8}  {'ratings':>7}  {'ours left':>9}  {'ours right':>10}  prompt")
            for pair in seen.pairs:
                write(
                    f"  {pair.assigned:>8}  {pair.ratings:>7}  {pair.ours_left:>9}  {pair.ours_right:>10}  "
                    f"{pair.prompt}"
                )
        pilots = pilot_runs(study=target)
        if pilots.runs:
            write(
                f"Pilot runs (counted in none of the above): {pilots.runs}, {pilots.finished} finished, "
                f"{pilots.answers} answers"
            )
