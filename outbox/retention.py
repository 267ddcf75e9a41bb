"""Keeping the outbox and inbox tables bounded: old rows are deleted in batches."""

from datetime import datetime, timedelta

from django.db import connections
from django.utils import timezone

DELETE_BATCH_SIZE = 5000

# Each statement deletes one batch of old rows and returns how many; short transactions keep
# the tables available to relays and consumers while a large backlog is cleared.
PURGE_PUBLISHED_SQL = """
DELETE FROM outbox_outboxevent WHERE id IN (
    SELECT id FROM outbox_outboxevent
    WHERE published_at IS NOT NULL AND published_at < %s
    LIMIT %s
)
"""
PURGE_PROCESSED_SQL = """
DELETE FROM outbox_processedevent WHERE id IN (
    SELECT id FROM outbox_processedevent WHERE processed_at < %s LIMIT %s
)
"""


def purge_expired_records(*, older_than: timedelta, using: str) -> dict[str, int]:
    """Delete published outbox rows and processed-event records older than `older_than` from
    database `using`."""
    cutoff = timezone.now() - older_than
    return {
        "published_outbox_events": _delete_in_batches(PURGE_PUBLISHED_SQL, cutoff, using),
        "processed_events": _delete_in_batches(PURGE_PROCESSED_SQL, cutoff, using),
    }


def _delete_in_batches(statement: str, cutoff: datetime, using: str) -> int:
    deleted = 0
    while True:
        with connections[using].cursor() as cursor:
            cursor.execute(statement, [cutoff, DELETE_BATCH_SIZE])
            deleted += cursor.rowcount
            if cursor.rowcount < DELETE_BATCH_SIZE:
                return deleted
