from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from generation.models import Dtype, ModelFamily
from generation.registry import register_model


class Command(BaseCommand):
    help = "Add a diffusers model (hub id or local folder) to the model registry after reading its configs."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("source", help="a diffusers model id or a local folder")
        parser.add_argument("--family", choices=ModelFamily.values, default="")
        parser.add_argument("--revision", default="")
        parser.add_argument("--train-size", type=int, nargs=2, metavar=("WIDTH", "HEIGHT"))
        parser.add_argument("--dtype", choices=[d for d in Dtype.values if d], default="")

    def handle(self, *args, name, source, family, revision, train_size, dtype, **options):
        width, height = train_size or (None, None)
        try:
            model = register_model(
                name=name,
                source=source,
                family=family,
                revision=revision,
                train_width=width,
                train_height=height,
                dtype=dtype,
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(
            f"Registered {model.name!r}: {model.get_family_display()}, trained at "
            f"{model.train_width}×{model.train_height}."
        )
