from django.core.management.base import BaseCommand, CommandError

from outbox.core.broker import GrantFailed, declare_topology
from outbox.core.failover import BrokerUnreachable
from outbox.core.topology import QueueMismatch


class Command(BaseCommand):
    help = (
        "Declare the RabbitMQ exchanges, queues and bindings of every service, and grant each "
        "service's broker user its permissions (idempotent)."
    )

    def handle(self, *args: object, **options: object) -> None:
        try:
            names = declare_topology()
        except BrokerUnreachable as error:
            raise CommandError(f"{error}. Check BROKER_ADMIN_URL.") from error
        except (QueueMismatch, GrantFailed) as error:
            raise CommandError(str(error)) from error
        self.stdout.write(self.style.SUCCESS(f"Declared topology for: {', '.join(names)}"))
