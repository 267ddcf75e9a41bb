from argparse import ArgumentParser

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from outbox.core import registry, topology
from outbox.core.broker import queue_shape
from outbox.core.failover import BrokerUnreachable
from outbox.operations.queue_migration import MigrationRefused, QueueMigration


class Command(BaseCommand):
    help = (
        "Move every queue of the topology to a queue type (quorum or classic) without losing a "
        "message: each queue that differs is emptied into a temporary queue of the new type, "
        "declared again and refilled. STOP EVERY WORKER FIRST: a queue with consumers is "
        "refused. Relays may keep running. Safe to interrupt and run again."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--to",
            choices=topology.QUEUE_TYPES,
            default=None,
            help="the queue type to move to (default: OUTBOX_QUEUE_TYPE)",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="list what would change, change nothing"
        )

    def handle(self, *args: object, to: str | None, dry_run: bool, **options: object) -> None:
        shape = queue_shape(to)
        migration = QueueMigration(
            settings.BROKER_ADMIN_URL,
            registry.all_services(),
            settings.OUTBOX["RETRY_DELAYS_SECONDS"],
            shape,
            report=self.stdout.write,
        )
        try:
            if dry_run:
                migration.dry_run()
                return
            migration.run()
        except BrokerUnreachable as error:
            raise CommandError(f"{error}. Check BROKER_ADMIN_URL.") from error
        except MigrationRefused as error:
            raise CommandError(str(error)) from error
        self.stdout.write(self.style.SUCCESS(f"Every queue is a {shape.queue_type} queue."))
        if shape.queue_type != settings.OUTBOX["QUEUE_TYPE"]:
            self.stderr.write(
                f"OUTBOX_QUEUE_TYPE is {settings.OUTBOX['QUEUE_TYPE']}: set it to "
                f"{shape.queue_type} before starting the workers, or they will refuse the queues."
            )
