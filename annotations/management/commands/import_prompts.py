from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from annotations.models import Study
from annotations.services.prompt_import import add_prompts_from_file
from evalsite.progress import CommandOutput, add_progress_argument


class Command(BaseCommand):
    help = (
        "Add the prompts of a .csv, .tsv, .jsonl/.ndjson, .txt or .parquet file to a draft study; "
        "a file with any bad line is rejected whole."
    )

    def add_arguments(self, parser):
        parser.add_argument("study", metavar="STUDY", help="slug of a draft study")
        parser.add_argument("file", type=Path, metavar="FILE")
        parser.add_argument(
            "--column", metavar="NAME", help="the column holding the prompts (default: caption, prompt, text or TEXT)"
        )
        parser.add_argument("--sample", type=int, metavar="N", help="add a random sample of N prompts, in file order")
        parser.add_argument("--seed", type=int, metavar="S", help="the sample's random seed (default 0)")
        add_progress_argument(parser)

    def handle(self, *args, study, file, column, sample, seed, **options):
        if seed is not None and sample is None:
            raise CommandError("--seed applies only with --sample N.")
        output = CommandOutput(self, options)
        target = Study.objects.filter(slug=study).first()
        if target is None:
            raise CommandError(f"There is no study {study!r}.")
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc}") from exc
        try:
            added = add_prompts_from_file(
                study=target,
                data=data,
                filename=file.name,
                column=column,
                sample=sample,
                seed=seed or 0,
                bar=output.bar,
            )
        except ValidationError as exc:
            raise CommandError(
                f"{file} was not imported; nothing was written:\n  " + "\n  ".join(exc.messages)
            ) from exc
        output.say(f"Added {added} prompts to study {target.slug!r}.")
