import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the local demo user (a superuser for the admin) if it does not exist."

    def handle(self, *args: object, **options: object) -> None:
        username = os.environ.get("DEMO_USERNAME", "demo")
        password = os.environ.get("DEMO_PASSWORD", "demo")
        User = get_user_model()
        if User.objects.filter(username=username).exists():
            self.stdout.write(f"Demo user {username!r} exists.")
            return
        User.objects.create_superuser(username=username, email="", password=password)
        self.stdout.write(self.style.SUCCESS(f"Created demo user {username!r}."))
