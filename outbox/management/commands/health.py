import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from outbox.operations.health import health_report


class Command(BaseCommand):
    help = "Print the health of database, broker, outbox backlog and dead letters (as JSON)."

    def handle(self, *args: Any, **options: Any) -> None:
        report = health_report()
        self.stdout.write(json.dumps(report, indent=2))
        if not report["healthy"]:
            raise CommandError("Unhealthy: see the report above.")
