import os

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Create the local demo user (a superuser for the admin and the demo) if it does not "
        "exist, with the password DEMO_PASSWORD. Refused unless DJANGO_DEBUG is on: a "
        "deployment has no demo user."
    )

    def handle(self, *args: object, **options: object) -> None:
        if not settings.DEBUG:
            raise CommandError(
                "ensure_demo_user runs only with DJANGO_DEBUG on: a deployment has no demo "
                "user. Create real users with `manage.py createsuperuser`."
            )
        username = os.environ.get("DEMO_USERNAME") or "demo"
        password = os.environ.get("DEMO_PASSWORD") or ""
        if not password:
            raise CommandError(
                "DEMO_PASSWORD is not set: the demo user gets no known password "
                "(make demo gives it this clone's own, scripts/secret.sh demo-user)."
            )
        User = get_user_model()
        if User.objects.filter(username=username).exists():
            self.stdout.write(f"Demo user {username!r} exists.")
            return
        user = User(username=username, is_staff=True, is_superuser=True)
        try:
            validate_password(password, user)
        except ValidationError as error:
            raise CommandError(f"DEMO_PASSWORD: {' '.join(error.messages)}") from error
        user.set_password(password)
        user.save()
        self.stdout.write(self.style.SUCCESS(f"Created demo user {username!r}."))
