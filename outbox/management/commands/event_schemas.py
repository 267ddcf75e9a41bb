from django.core.management.base import BaseCommand, CommandError, CommandParser

from outbox.contracts.asyncapi import current_schemas
from outbox.contracts.schema_lock import (
    LOCK_FILE,
    lock_problems,
    locked_schemas,
    render,
    wanted_lock,
)
from outbox.core.registry import all_services


class Command(BaseCommand):
    help = (
        "Write the event schemas lock (docs/event-schemas.json): the data schema of every "
        "event version published or still accepted. Refuses a breaking change to a version."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--check", action="store_true", help="write nothing; fail if the lock is not current"
        )

    def handle(self, *args: object, check: bool, **options: object) -> None:
        services = all_services()
        current, locked = current_schemas(), locked_schemas()
        if problems := lock_problems(current, locked, services):
            raise CommandError("\n".join(["the event schemas break their contract:", *problems]))
        wanted = wanted_lock(current, locked, services)
        if wanted == locked:
            self.stderr.write(f"{LOCK_FILE} is current")
        elif check:
            raise CommandError(f"{LOCK_FILE} is stale: run `make event-schemas`")
        else:
            LOCK_FILE.write_text(render(wanted), encoding="utf-8")
            self.stderr.write(f"Wrote {LOCK_FILE}")
