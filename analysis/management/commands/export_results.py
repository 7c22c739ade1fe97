from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from analysis.documents import render_results, write_results
from analysis.formats import FORMATS, TEXT_FORMATS
from analysis.labels import LABEL_LENGTHS, parse_label_flags
from analysis.stats.multiplicity import METHODS
from evalsite.commands import check_out_folder
from evalsite.progress import CommandOutput, add_progress_argument


class Command(BaseCommand):
    help = (
        "Write studies' tidy ratings (csv), their analysis (json, latex, markdown: one row per study), plots "
        "(PDF, SVG and PNG at one-column and two-column widths; needs --out) and the protocol manifest. 'all' writes "
        "every format."
    )

    def add_arguments(self, parser):
        parser.add_argument("studies", nargs="+", metavar="STUDY", help="study slug(s)")
        parser.add_argument("--format", choices=[*FORMATS, "all"], default="markdown")
        parser.add_argument("--out", type=Path, help="folder to write into; without it, print text formats to stdout")
        parser.add_argument(
            "--adjust",
            choices=list(METHODS),
            default="holm",
            help="p-value adjustment across the studies: holm (default) or bh (Benjamini–Hochberg)",
        )
        parser.add_argument(
            "--exclusions",
            choices=["default", "on", "off"],
            default="default",
            help="apply the studies' exclusion rules: as each study's settings say (default), or not",
        )
        parser.add_argument(
            "--label",
            action="append",
            default=[],
            metavar="NAME=TEXT",
            help=f"what figures and tables call {', '.join(LABEL_LENGTHS)} (the score), over the studies' own "
            'labels; e.g. --label baseline="SD-2.1" --label ours="+ entropy scaling"; repeat for each',
        )
        add_progress_argument(parser)

    def handle(self, *args, studies, format, out, adjust, exclusions, label, **options):
        output = CommandOutput(self, options)
        try:
            labels = parse_label_flags(label)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        formats = list(FORMATS) if format == "all" else [format]
        if out is None:
            if format == "plots":
                raise CommandError("Plots are files: give --out DIR.")
            formats = [name for name in formats if name in TEXT_FORMATS]
        else:
            check_out_folder(out)
        try:
            what = {
                "slugs": studies,
                "formats": formats,
                "adjustment": adjust,
                "exclusions": {"default": None, "on": True, "off": False}[exclusions],
                "labels": labels,
                "bar": output.bar,
            }
            if out is None:
                documents = render_results(**what)
            else:  # the path the results page's bundle takes too
                written = write_results(out_dir=out, **what)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        if out is None:
            for text in documents.values():
                self.stdout.write(text, ending="")
            return
        for path in written:
            output.say(f"Wrote {path}")
