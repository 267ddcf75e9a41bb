"""The inbox: which events each consumer has already handled."""

from django.db import connections

from outbox.cloudevents import ReceivedEvent

RECORD_SQL = """
INSERT INTO outbox_processedevent (consumer, event_id, event_type, processed_at)
VALUES (%s, %s, %s, now())
ON CONFLICT (consumer, event_id) DO NOTHING
RETURNING id
"""


def record_processed(consumer: str, event: ReceivedEvent, *, using: str) -> bool:
    """Record that `consumer` handles `event` now; False if it already has.

    Run inside the handler's transaction, on the consumer's database: if the handler fails,
    the record goes with it. A concurrent delivery of the same event waits on the unique key
    and then sees a duplicate.
    """
    with connections[using].cursor() as cursor:
        cursor.execute(RECORD_SQL, [consumer, event.id, event.type])
        return cursor.fetchone() is not None
