from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from annotations.services.rating_import import import_ratings
from evalsite.progress import CommandOutput, add_progress_argument


class Command(BaseCommand):
    help = "Read tidy ratings (study, annotator, item, condition, score, position, seconds) into a study."

    def add_arguments(self, parser):
        parser.add_argument("study", metavar="STUDY", help="study slug; the study is created if it does not exist")
        parser.add_argument("file", type=Path, metavar="FILE.csv")
        add_progress_argument(parser)

    def handle(self, *args, study, file, **options):
        try:
            text = file.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"Cannot read {file}: {exc}") from exc
        output = CommandOutput(self, options)
        try:
            report = import_ratings(slug=study, text=text, bar=output.bar)
        except ValidationError as exc:
            raise CommandError(
                f"{file} was not imported; nothing was written:\n  " + "\n  ".join(exc.messages)
            ) from exc
        verb = "Created" if report.created_study else "Updated"
        output.say(
            f"{verb} study {report.study.slug!r}: {report.ratings} ratings by {report.annotators} annotators "
            f"on {report.items} items."
        )
