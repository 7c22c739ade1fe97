from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from evalsite.progress import CommandOutput, add_progress_argument
from metrics.references import sample_reference


class Command(BaseCommand):
    help = (
        "Sample a fixed, recorded subset of image-caption pairs from an img2dataset folder, WebDataset .tar shards "
        "or a CSV of caption and image path; empty captions and unreadable images are skipped and counted."
    )

    def add_arguments(self, parser):
        parser.add_argument("--source", type=Path, required=True, metavar="PATH")
        parser.add_argument("--n", type=int, required=True, metavar="N", help="pairs to sample, e.g. 30000")
        parser.add_argument("--seed", type=int, default=0, metavar="S")
        parser.add_argument("--name", default="", help="the subset's name (default: from source, n and seed)")
        add_progress_argument(parser)

    def handle(self, *args, source, n, seed, name, **options):
        output = CommandOutput(self, options)
        try:
            reference = sample_reference(source=source, n=n, seed=seed, name=name, bar=output.bar)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        sampled = reference.items.count()
        skipped = ", ".join(f"{count} {reason.replace('_', ' ')}" for reason, count in reference.skipped.items())
        output.say(
            f"Reference subset {reference.name!r}: {sampled} of {reference.candidates} pairs "
            f"(seed {reference.seed}); skipped: {skipped or 'none'}."
        )
        if sampled < n:
            self.stderr.write(f"Only {sampled} usable pairs were found; {n} were asked for.")
