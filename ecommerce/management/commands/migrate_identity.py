from argparse import ArgumentParser

from axes.models import AccessAttempt, AccessAttemptExpiration
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group, Permission, User
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import DEFAULT_DB_ALIAS, connections, models, transaction
from django.db.migrations.loader import MigrationLoader
from knox.models import AuthToken

# The outbox's tables live in each context's database, never in the identity database.
OUTBOX_APP = "outbox"

# What a service's role may do in the identity database (`--grant-to`): read who is signed in
# and with which permissions; write only what signing in and the admin write. Users, groups and
# permissions are managed as the database's owner, and beat's schedule is the owner's alone.
IDENTITY_PRIVILEGES: list[tuple[type[models.Model], str]] = [
    (User, "SELECT"),
    # Signing in (the API's and the admin's) records when.
    (User, "UPDATE (last_login)"),
    (Group, "SELECT"),
    (Permission, "SELECT"),
    (User.groups.through, "SELECT"),
    (User.user_permissions.through, "SELECT"),
    (Group.permissions.through, "SELECT"),
    (ContentType, "SELECT"),
    # A sign-in adds a token; signing out, and a sign-in's sweep of expired ones, delete.
    (AuthToken, "SELECT, INSERT, DELETE"),
    # The admin's sessions, and its log of the changes made through it.
    (Session, "SELECT, INSERT, UPDATE, DELETE"),
    (LogEntry, "SELECT, INSERT"),
    # Failed sign-ins, counted per username and address, cleared by a success (axes), with
    # the expiry axes may keep beside each (deleted along with it).
    (AccessAttempt, "SELECT, INSERT, UPDATE, DELETE"),
    (AccessAttemptExpiration, "SELECT, INSERT, UPDATE, DELETE"),
]


class Command(BaseCommand):
    help = (
        "Migrate the identity database of the split layout (users, tokens, sessions, the "
        "admin's log, beat's schedule): every app but the contexts and the outbox, one by one."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--grant-to",
            nargs="+",
            default=[],
            metavar="ROLE",
            help="the split layout's service roles: each gets IDENTITY_PRIVILEGES, and no more",
        )

    def handle(self, *args: object, grant_to: list[str], **options: object) -> None:
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
        if grant_to:
            grant_identity_privileges(grant_to)


def grant_identity_privileges(roles: list[str]) -> None:
    """Give each role IDENTITY_PRIVILEGES on the identity database's tables, and take away
    whatever else it held there. Run as the tables' owner, after they exist."""
    connection = connections[DEFAULT_DB_ALIAS]
    grantees = ", ".join(connection.ops.quote_name(role) for role in roles)
    with transaction.atomic(using=DEFAULT_DB_ALIAS), connection.cursor() as cursor:
        cursor.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {grantees}")
        cursor.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {grantees}")
        for model, privileges in IDENTITY_PRIVILEGES:
            table = model._meta.db_table
            quoted = connection.ops.quote_name(table)
            cursor.execute(f"GRANT {privileges} ON {quoted} TO {grantees}")
            if "INSERT" not in privileges:
                continue
            # A row's id drawn from the table's sequence, if its key has one.
            cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [table, model._meta.pk.column])
            (sequence,) = cursor.fetchone()
            if sequence is not None:
                cursor.execute(f"GRANT USAGE ON SEQUENCE {sequence} TO {grantees}")
