from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from analysis.image_grid import study_grid, write_grid
from evalsite.commands import check_out_folder


class Command(BaseCommand):
    help = (
        "Write a study's qualitative comparison figure: the baseline row (labelled with the model's name) over the "
        "ours row, one column per generated prompt, as <slug>-grid.png and <slug>-grid.pdf."
    )

    def add_arguments(self, parser):
        parser.add_argument("study", metavar="STUDY", help="study slug")
        parser.add_argument(
            "--prompts",
            nargs="+",
            metavar="PROMPT",
            help="columns, in order: prompt positions as stored (from 0) or exact prompt texts; default: all",
        )
        parser.add_argument("--out", type=Path, default=Path("."), help="folder to write into (default: here)")

    def handle(self, *args, study, prompts, out, **options):
        check_out_folder(out)
        try:
            image = study_grid(slug=study, prompts=prompts)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        for path in write_grid(image, slug=study, out_dir=out):
            if options["verbosity"]:
                self.stdout.write(f"Wrote {path}")
