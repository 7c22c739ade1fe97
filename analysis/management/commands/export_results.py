from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from analysis.exports import FORMATS
from analysis.reports import render_results, write_documents


class Command(BaseCommand):
    help = "Write a study's tidy ratings (csv) or its summary (json, latex, markdown)."

    def add_arguments(self, parser):
        parser.add_argument("studies", nargs="+", metavar="STUDY", help="study slug(s)")
        parser.add_argument("--format", choices=[*FORMATS, "all"], default="markdown")
        parser.add_argument("--out", type=Path, help="folder to write into; without it, print to stdout")

    def handle(self, *args, studies, format, out, **options):
        formats = list(FORMATS) if format == "all" else [format]
        try:
            documents = render_results(slugs=studies, formats=formats)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        if out is None:
            for text in documents.values():
                self.stdout.write(text, ending="")
            return
        for path in write_documents(documents, out):
            self.stdout.write(f"Wrote {path}")
