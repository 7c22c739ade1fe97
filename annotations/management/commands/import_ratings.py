from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from analysis.stats.tidy import SECONDS_MODES
from annotations.rating_adapters.label_studio import read_label_studio
from annotations.rating_adapters.potato import read_potato
from annotations.rating_files import EXTRA_COLUMN_RULES, parse_tidy_csv
from annotations.services.rating_import import store_ratings
from evalsite.progress import CommandOutput, add_progress_argument

SOURCES = {
    "tidy": "the tidy CSV export_results writes (study, annotator, item, condition, score, position, seconds)",
    "label-studio": "Label Studio's JSON export of a rating or choices task",
    "potato": "Potato's output: the output folder, or one user's user_state.json or annotated_instances.jsonl",
}


class Command(BaseCommand):
    help = "Read ratings (tidy CSV, Label Studio's JSON export or Potato's output) into a study, all or nothing."

    def add_arguments(self, parser):
        parser.add_argument("study", metavar="STUDY", help="study slug; the study is created if it does not exist")
        parser.add_argument("file", type=Path, metavar="FILE", help="the ratings (a folder for Potato's output)")
        parser.add_argument(
            "--from",
            dest="source",
            choices=SOURCES,
            default="tidy",
            help="; ".join(f"{name}: {text}" for name, text in SOURCES.items()) + " (default: tidy)",
        )
        parser.add_argument(
            "--seconds",
            choices=SECONDS_MODES,
            help="tidy files: what a row's seconds hold; "
            + "; ".join(f"{name}: {text}" for name, text in SECONDS_MODES.items())
            + " (default: pair)",
        )
        parser.add_argument(
            "--extra-columns",
            choices=EXTRA_COLUMN_RULES,
            help="tidy files: columns beyond the tidy ones; "
            + "; ".join(f"{name}: {text}" for name, text in EXTRA_COLUMN_RULES.items())
            + " (default: reject)",
        )
        parser.add_argument(
            "--instances",
            type=Path,
            metavar="DATA.jsonl",
            help="potato: the task's data file, giving each instance's item, condition and position",
        )
        add_progress_argument(parser)

    def _check_flags(self, source, seconds, extra_columns, instances) -> None:
        if source != "tidy":
            given = [flag for flag, value in (("--seconds", seconds), ("--extra-columns", extra_columns)) if value]
            if given:
                raise CommandError(
                    f"{' and '.join(given)} apply to tidy files only: the {source} reader takes each time and column "
                    "from the tool's own fields."
                )
        if source == "potato" and instances is None:
            raise CommandError("--from potato needs --instances: the task's data file (what each instance showed).")
        if source != "potato" and instances is not None:
            raise CommandError("--instances applies to --from potato only.")

    def _read(self, study, file, source, seconds, extra_columns, instances):
        if source == "potato":
            return read_potato(file, instances=instances, slug=study)
        try:
            text = file.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"Cannot read {file}: {exc}") from exc
        if source == "label-studio":
            return read_label_studio(text, slug=study)
        return parse_tidy_csv(text, slug=study, seconds=seconds or "pair", extra=extra_columns or "reject")

    def handle(self, *args, study, file, source, seconds, extra_columns, instances, **options):
        self._check_flags(source, seconds, extra_columns, instances)
        output = CommandOutput(self, options)
        try:
            tidy = self._read(study, file, source, seconds, extra_columns, instances)
            report = store_ratings(slug=study, tidy=tidy, bar=output.bar)
        except ValidationError as exc:
            raise CommandError(
                f"{file} was not imported; nothing was written:\n  " + "\n  ".join(exc.messages)
            ) from exc
        verb = "Created" if report.created_study else "Updated"
        output.say(
            f"{verb} study {report.study.slug!r}: {report.ratings} ratings by {report.annotators} annotators "
            f"on {report.items} items."
        )
        for note in report.notes:
            output.say(note)
