"""The shared shape of the commands that send dead letters back.

They work on the dead letters of every database of the services this process serves.
"""

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand
from django.db.models import QuerySet
from tqdm import tqdm

from outbox.core import registry
from outbox.core.broker import confirming_publisher
from outbox.models import DeadLetter
from outbox.operations.replay import dead_letter_replay


class ResendCommand(BaseCommand):
    kind: DeadLetter.Kind
    destination: str

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--service", help="Only this service's dead letters.")
        parser.add_argument("--event-type", help="Only events of this type.")
        parser.add_argument("--event-id", help="Only this event.")
        parser.add_argument("--limit", type=int, help="At most this many, oldest first.")
        parser.add_argument(
            "--dry-run", action="store_true", help="List what would be sent; send nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        databases = registry.outbox_databases()
        if options["dry_run"]:
            self.list([self.selected(options, database) for database in databases])
            return
        for database in databases:
            self.resend(self.selected(options, database))

    def resend(self, selected: QuerySet[DeadLetter]) -> None:
        total = selected.count()
        publisher = confirming_publisher()
        try:
            with tqdm(total=total, unit="msg", disable=total < 100) as progress:
                summary = dead_letter_replay(selected, publisher, on_progress=progress.update)
        finally:
            publisher.close()
        for error in summary.errors:
            self.stderr.write(f"Broker did not confirm a batch: {error}")
        style = self.style.SUCCESS if not summary.failed else self.style.ERROR
        self.stdout.write(
            style(f"Moved {summary.moved}, skipped {summary.skipped}, failed {summary.failed}.")
        )

    def selected(self, options: dict[str, Any], database: str) -> QuerySet[DeadLetter]:
        dead_letters = (
            DeadLetter.objects.using(database)
            .filter(kind=self.kind, status=DeadLetter.Status.PENDING)
            .order_by("recorded_at", "pk")
        )
        for option, field in [("service", "service"), ("event_type", "event_type"),
                              ("event_id", "event_id")]:  # fmt: skip
            if options[option]:
                dead_letters = dead_letters.filter(**{field: options[option]})
        if options["limit"]:
            dead_letters = DeadLetter.objects.using(database).filter(
                pk__in=list(dead_letters.values_list("pk", flat=True)[: options["limit"]])
            )
        return dead_letters

    def list(self, selections: list[QuerySet[DeadLetter]]) -> None:
        for record in (record for selected in selections for record in selected):
            self.stdout.write(
                f"{record.service}\t{record.event_type or '-'}\t{record.event_id or '-'}\t"
                f"{record.error_type or '-'}: {record.error_message[:80]}"
            )
        total = sum(selected.count() for selected in selections)
        self.stdout.write(f"Would move {total} to {self.destination}.")
