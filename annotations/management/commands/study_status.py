from django.core.management.base import BaseCommand, CommandError

from annotations.models import Study
from annotations.selectors import monitor


class Command(BaseCommand):
    help = (
        "Print what a study's monitoring page shows: its annotators (invited, consented, started, finished, "
        "screened out), its ratings, failed attention checks, annotators who gave one score throughout, and the "
        "assignments and ratings of each pair."
    )

    def add_arguments(self, parser):
        parser.add_argument("study", metavar="STUDY", help="study slug")

    def handle(self, *args, study, **options):
        target = Study.objects.filter(slug=study).first()
        if target is None:
            raise CommandError(f"There is no study {study!r}.")
        seen = monitor(study=target)
        write = self.stdout.write
        write(f"Study {target.slug!r} ({target.title}): {target.get_status_display().lower()}")
        write(
            f"Annotators: {seen.invited} invited, {seen.consented} consented, {seen.started} started, "
            f"{seen.finished} finished, {seen.screened_out} screened out"
        )
        median = "–" if seen.median_seconds is None else f"{seen.median_seconds:.1f}"
        write(f"Ratings: {seen.ratings} (median seconds per item: {median})")
        failures = [f"{label} ({failed} of {answered})" for label, (failed, answered) in seen.check_failures.items()]
        write(f"Failed attention checks: {', '.join(failures) or 'none'}")
        write(f"Same score for everything: {', '.join(seen.straight_liners) or 'none'}")
        write(f"Pairs: {len(seen.pairs)}")
        if seen.pairs:
            write(f"  {'assigned':>8}  {'ratings':>7}  {'ours left':>9}  {'ours right':>10}  prompt")
            for pair in seen.pairs:
                write(
                    f"  {pair.assigned:>8}  {pair.ratings:>7}  {pair.ours_left:>9}  {pair.ours_right:>10}  "
                    f"{pair.prompt}"
                )
