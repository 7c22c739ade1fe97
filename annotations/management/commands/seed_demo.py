import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from annotations.services.demo import check_demo_options, ensure_demo_study
from generation.registry import ensure_registered
from generation.tiny import save_tiny_pipeline


class Command(BaseCommand):
    help = "Create the demo study (once), a superuser, and queue the generation of its pairs."

    def add_arguments(self, parser):
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")
        parser.add_argument("--size", type=int, default=128, help="image width and height in pixels")
        parser.add_argument("--steps", type=int, default=20)

    def handle(self, *args, base_url, size, steps, **options):
        try:
            check_demo_options(size=size, steps=steps)  # before anything is written
        except ValidationError as exc:
            raise CommandError("Nothing was set up: " + " ".join(exc.messages)) from exc
        source = settings.EVALSITE_MODEL
        default_tiny = Path(settings.VAR_DIR) / "models" / "tiny-sd"
        if Path(source) == default_tiny:
            save_tiny_pipeline(default_tiny)
            self.stdout.write(
                f"Model: a tiny randomly initialised pipeline in {default_tiny} (set EVALSITE_MODEL for a real one)"
            )
        else:
            self.stdout.write(f"Model: {source}")
        try:
            model = ensure_registered(source=source)
        except ValidationError as exc:
            raise CommandError(f"EVALSITE_MODEL={source!r} cannot be used: {' '.join(exc.messages)}") from exc
        try:
            result = ensure_demo_study(model=model, width=size, height=size, steps=steps)
        except ValidationError as exc:  # e.g. a size the model's family cannot take
            raise CommandError(f"The demo study was not created: {' '.join(exc.messages)}") from exc
        username, password = self._superuser()
        study = result.study
        self.stdout.write(
            f"Demo study {study.slug!r} {'created' if result.created else 'already there'}: "
            f"{study.pairs.count()} pairs, status {study.status}, {result.queued} queued for generation."
        )
        if not result.created and (study.width, study.height, study.steps, study.model_id) != (
            size,
            size,
            steps,
            model.pk,
        ):
            self.stdout.write(
                f"Note: the demo study was made at {study.width}×{study.height}, {study.steps} steps, with "
                f"{study.model.source if study.model else 'no model'}; --size, --steps and EVALSITE_MODEL apply when "
                "it is created. `make clean` (it removes var/) starts over."
            )
        self.stdout.write(f"Admin: {base_url}/admin/  (user {username!r}, password {password})")
        self.stdout.write("Annotator links:")
        for annotator in result.annotators:
            self.stdout.write(f"  {base_url}/a/{annotator.token}/")

    def _superuser(self) -> tuple[str, str]:
        """The superuser from DJANGO_SUPERUSER_USERNAME/PASSWORD, else 'admin' with a password kept in var/."""
        User = get_user_model()
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME", "admin")
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD", "")
        saved = Path(settings.VAR_DIR) / "admin-password.txt"
        if not password and saved.exists():
            password = saved.read_text().strip()
        if not password:
            password = secrets.token_urlsafe(12)
            saved.parent.mkdir(parents=True, exist_ok=True)
            saved.write_text(password + "\n")
            saved.chmod(0o600)
        user = User.objects.filter(username=username).first()
        if user is None:
            User.objects.create_superuser(username=username, email="", password=password)
        elif not user.check_password(password):
            if "DJANGO_SUPERUSER_PASSWORD" not in os.environ:
                return username, "(unchanged; set DJANGO_SUPERUSER_PASSWORD to reset it)"
            user.set_password(password)
            user.save(update_fields=["password"])
        return username, password
