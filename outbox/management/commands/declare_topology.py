from django.core.management.base import BaseCommand

from outbox.broker import declare_topology


class Command(BaseCommand):
    help = "Declare the RabbitMQ exchanges, queues and bindings of every service (idempotent)."

    def handle(self, *args: object, **options: object) -> None:
        names = declare_topology()
        self.stdout.write(self.style.SUCCESS(f"Declared topology for: {', '.join(names)}"))
