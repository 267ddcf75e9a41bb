"""Keeping the tables that grow with traffic bounded: old rows are deleted in batches.

Published outbox rows and processed-event records share one window (a redelivery within it is
still recognised); the audit trail and resolved dead letters have windows of their own. A
pending dead letter is never deleted: it waits for an operator.
"""

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

PURGE_AUDIT_SQL = """
DELETE FROM outbox_auditrecord WHERE id IN (
    SELECT id FROM outbox_auditrecord WHERE recorded_at < %s LIMIT %s
)
"""
PURGE_RESOLVED_DEAD_LETTERS_SQL = """
DELETE FROM outbox_deadletter WHERE id IN (
    SELECT id FROM outbox_deadletter
    WHERE status IN ('replayed', 'discarded') AND resolved_at < %s
    LIMIT %s
)
"""


def purge_expired_records(
    *,
    older_than: timedelta,
    audit_older_than: timedelta,
    resolved_dead_letters_older_than: timedelta,
    using: str,
) -> dict[str, int]:
    """Delete from database `using` published outbox rows and processed-event records older
    than `older_than`, audit records older than `audit_older_than`, and dead letters replayed
    or discarded longer ago than `resolved_dead_letters_older_than`."""
    now = timezone.now()
    return {
        "published_outbox_events": _delete_in_batches(PURGE_PUBLISHED_SQL, now - older_than, using),
        "processed_events": _delete_in_batches(PURGE_PROCESSED_SQL, now - older_than, using),
        "audit_records": _delete_in_batches(PURGE_AUDIT_SQL, now - audit_older_than, using),
        "resolved_dead_letters": _delete_in_batches(
            PURGE_RESOLVED_DEAD_LETTERS_SQL, now - resolved_dead_letters_older_than, using
        ),
    }


def _delete_in_batches(statement: str, cutoff: datetime, using: str) -> int:
    deleted = 0
    while True:
        with connections[using].cursor() as cursor:
            cursor.execute(statement, [cutoff, DELETE_BATCH_SIZE])
            deleted += cursor.rowcount
            if cursor.rowcount < DELETE_BATCH_SIZE:
                return deleted
