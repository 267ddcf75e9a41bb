from django.core.management.base import BaseCommand, CommandError

from outbox.broker import declare_topology
from outbox.failover import BrokerUnreachable
from outbox.topology import QueueMismatch


class Command(BaseCommand):
    help = "Declare the RabbitMQ exchanges, queues and bindings of every service (idempotent)."

    def handle(self, *args: object, **options: object) -> None:
        try:
            names = declare_topology()
        except BrokerUnreachable as error:
            raise CommandError(f"{error}. Check CELERY_BROKER_URL.") from error
        except QueueMismatch as error:
            raise CommandError(str(error)) from error
        self.stdout.write(self.style.SUCCESS(f"Declared topology for: {', '.join(names)}"))
