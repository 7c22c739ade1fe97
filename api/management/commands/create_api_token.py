from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from api.services import create_token


class Command(BaseCommand):
    help = (
        "Make an API token for a user and print it once (only its digest is stored). It acts as that user: their "
        "studies, their permissions. With --verbosity 0 only the token is printed."
    )

    def add_arguments(self, parser):
        parser.add_argument("username", metavar="USERNAME")
        parser.add_argument("--name", default="command line", help="what the token is for (default: command line)")

    def handle(self, *args, username, name, **options):
        User = get_user_model()
        user = User.objects.filter(**{User.USERNAME_FIELD: username}).first()
        if user is None:
            raise CommandError(f"There is no user {username!r}.")
        if not (user.is_active and user.is_staff):
            raise CommandError(
                f"User {username!r} is not an active staff user; the API accepts tokens of active staff users only."
            )
        try:
            row, token = create_token(user=user, name=name)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        if not options["verbosity"]:
            self.stdout.write(token)
            return
        self.stdout.write(f"API token {row.name!r} for {username!r} (copy it now: it is not shown again):")
        self.stdout.write(token)
        self.stdout.write("Send it as the header  Authorization: Bearer <token>")
