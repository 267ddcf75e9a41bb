"""Django's PostgreSQL backend, plus before-commit and after-rollback callbacks."""

from django.db.backends.postgresql import base

from outbox.postgresql.transaction_phases import TransactionPhasesMixin


class DatabaseWrapper(TransactionPhasesMixin, base.DatabaseWrapper):
    """The PostgreSQL connection that in-process listeners bind their phases to."""
