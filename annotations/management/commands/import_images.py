from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from annotations.models import Condition, Study
from annotations.services.image_import import import_condition_images


class Command(BaseCommand):
    help = (
        "Import an imported condition's images: a folder or zip holding one image per prompt of the study, named by "
        "the prompt's number (7.png, prompt-007.jpg) or its text; a set with any problem is rejected whole."
    )

    def add_arguments(self, parser):
        parser.add_argument("study", metavar="STUDY", help="slug of a study not yet open")
        parser.add_argument("condition", metavar="CONDITION", help="key of the study's imported condition")
        parser.add_argument("source", type=Path, metavar="FOLDER_OR_ZIP")

    def handle(self, *args, study, condition, source, **options):
        target = Study.objects.filter(slug=study).first()
        if target is None:
            raise CommandError(f"There is no study {study!r}.")
        found = Condition.objects.filter(study=target, key=condition).select_related("study").first()
        if found is None:
            keys = ", ".join(target.conditions.values_list("key", flat=True))
            raise CommandError(f"Study {study!r} has no condition {condition!r}; its conditions are {keys}.")
        try:
            count = import_condition_images(condition=found, source=source)
        except ValidationError as exc:
            raise CommandError(f"{source}: " + " ".join(exc.messages)) from exc
        self.stdout.write(f"Imported {count} images of {found.name!r} into study {target.slug!r}.")
