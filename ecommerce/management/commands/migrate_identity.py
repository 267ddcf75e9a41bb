from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import DEFAULT_DB_ALIAS
from django.db.migrations.loader import MigrationLoader

# The outbox's tables live in each context's database, never in the identity database.
OUTBOX_APP = "outbox"


class Command(BaseCommand):
    help = (
        "Migrate the identity database of the split layout (users, tokens, sessions, the "
        "admin's log, beat's schedule): every app but the contexts and the outbox, one by one."
    )

    def handle(self, *args: object, **options: object) -> None:
        # A plain `migrate` would also record the contexts' migrations in this database's
        # migration table, as applied although their tables are made in the contexts' own
        # databases; a single-database deployment on it would then lack those tables.
        loader = MigrationLoader(None, ignore_no_migrations=True)
        excluded = {*settings.CONTEXT_APPS.values(), OUTBOX_APP}
        for app_label in sorted(loader.migrated_apps - excluded):
            call_command(
                "migrate",
                app_label,
                database=DEFAULT_DB_ALIAS,
                interactive=False,
                verbosity=options["verbosity"],
            )
