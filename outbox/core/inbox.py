"""The inbox: which events each consumer has already handled."""

from collections.abc import Sequence

from django.db import connections

from outbox.core.cloudevents import ReceivedEvent
from outbox.core.sql import multi_row

RECORD_SQL = """
INSERT INTO outbox_processedevent (consumer, event_id, event_type, processed_at)
VALUES {rows}
ON CONFLICT (consumer, event_id) DO NOTHING
RETURNING event_id
"""
RECORD_ROW = "(%s, %s, %s, now())"

FORGET_SQL = "DELETE FROM outbox_processedevent WHERE consumer = %s AND event_id = %s"


def record_processed(consumer: str, events: Sequence[ReceivedEvent], *, using: str) -> set[str]:
    """Record that `consumer` handles `events` now, in one statement; the ids it had not
    recorded before (an id twice in `events` is recorded once).

    Run inside the handlers' transaction, on the consumer's database, so that the records
    commit with what the handlers wrote. A concurrent delivery of the same event waits on the
    unique key and then sees a duplicate. The rows are written in id order, so that two
    batches sharing events lock them in the same order and never wait on each other.
    """
    if not events:
        return set()
    rows = sorted({(consumer, event.id, event.type) for event in events})
    with connections[using].cursor() as cursor:
        cursor.execute(*multi_row(RECORD_SQL, RECORD_ROW, rows))
        return {event_id for (event_id,) in cursor.fetchall()}


def forget_processed(consumer: str, event_id: str, *, using: str) -> None:
    """Take back the record of an event whose handling rolled back, so that it is handled when
    it comes again; inside the same transaction, so the record never commits."""
    with connections[using].cursor() as cursor:
        cursor.execute(FORGET_SQL, [consumer, event_id])
