"""Which database each model lives in: every context on its own, identity on `default`.

A context's models are read and written only on its database (setting CONTEXT_DATABASES).
The outbox's tables (outbox, inbox, dead letters, audit trail) exist in every context's
database, and the outbox machinery always names the database it works on: the router sends
only unnamed queries to `default`. Everything else (users, tokens, sessions, the admin's log,
beat's schedule) is identity and upkeep, shared by every service, on `default`.
"""

from django.conf import settings
from django.db.models import Model

OUTBOX_APP = "outbox"


class ContextRouter:
    def db_for_read(self, model: type[Model], **hints: object) -> str | None:
        return settings.CONTEXT_DATABASES.get(model._meta.app_label)

    def db_for_write(self, model: type[Model], **hints: object) -> str | None:
        return settings.CONTEXT_DATABASES.get(model._meta.app_label)

    def allow_migrate(self, db: str, app_label: str, **hints: object) -> bool:
        if app_label in settings.CONTEXT_DATABASES:
            return settings.CONTEXT_DATABASES[app_label] == db
        if app_label == OUTBOX_APP:
            return db in settings.CONTEXT_DATABASES.values()
        return db == "default"
