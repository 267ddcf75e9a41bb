"""Saving an aggregate: its rows and its events' outbox rows in one local transaction.

This is the only way business code emits an integration event. The outbox rows go to the
aggregate's own database (the one the router gives its model), so no transaction ever spans
two databases. They are written in one plain-SQL statement (`outbox.sql.multi_row`), not through
the ORM: on a consumer's hot path, Django building the model instances and the statement
cost more than PostgreSQL inserting the rows; `outbox_row` is the same row as a model.
"""

from collections.abc import Mapping

from django.db import connections, models, router, transaction
from django.utils import timezone
from psycopg2.extras import Json

from outbox import faults, listeners, tracing
from outbox.aggregates import AggregateRoot
from outbox.cloudevents import to_cloudevent
from outbox.events import DomainEvent
from outbox.models import OutboxEvent
from outbox.relay_wakeup import wake_relay_after_commit
from outbox.sql import multi_row


def save(aggregate: AggregateRoot) -> None:
    """Save the aggregate, add its events to the outbox and hand them to listeners, atomically.

    Inside a caller's transaction no savepoint is taken: if saving fails, the whole
    transaction is to roll back, as the aggregate and its events belong together.
    """
    database = router.db_for_write(type(aggregate))
    with transaction.atomic(using=database, savepoint=False):
        aggregate.save(using=database)
        _add_events(aggregate, database)


def _add_events(aggregate: AggregateRoot, database: str) -> None:
    """The aggregate's events to the outbox and to the listeners, in the current transaction."""
    events = aggregate.collect_events()
    if events:
        trace_context = tracing.current_trace_context()
        insert_outbox_rows(events, trace_context, using=database)
        wake_relay_after_commit(database)
        faults.crash_after_commit(
            faults.CrashPoint.SAVE_AFTER_COMMIT,
            (event.event_type() for event in events),
            using=database,
        )
    for event in events:
        listeners.publish(event, using=database)


def save_new(aggregate: AggregateRoot) -> bool:
    """Save a new aggregate as `save` does, unless a row with one of its unique keys exists
    already: then nothing is written, its events are dropped, and the answer is False.

    One `INSERT … ON CONFLICT DO NOTHING`, so a command that creates something once needs no
    `SELECT` first, and two such commands at once cannot both create it.
    """
    database = router.db_for_write(type(aggregate))
    with transaction.atomic(using=database, savepoint=False):
        if not insert_unless_exists(aggregate, using=database):
            aggregate.collect_events()
            return False
        _add_events(aggregate, database)
    return True


def insert_unless_exists(instance: models.Model, *, using: str) -> bool:
    """Insert a new model instance unless a row with one of its unique keys exists; whether it
    was inserted."""
    meta = instance._meta
    connection = connections[using]
    fields = meta.local_concrete_fields
    values = [
        field.get_db_prep_save(field.pre_save(instance, add=True), connection) for field in fields
    ]
    quote = connection.ops.quote_name
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)})"
        f" VALUES ({', '.join(['%s'] * len(fields))})"
        f" ON CONFLICT DO NOTHING RETURNING {quote(meta.pk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        inserted = cursor.fetchone() is not None
    if inserted:
        instance._state.adding, instance._state.db = False, using
    return inserted


OUTBOX_COLUMNS = (
    "event_id", "event_type", "service", "aggregate_type", "aggregate_id", "aggregate_version",
    "payload", "created_at", "published_at", "attempts", "last_error",
)  # fmt: skip
INSERT_OUTBOX_SQL = (
    f"INSERT INTO {OutboxEvent._meta.db_table} ({', '.join(OUTBOX_COLUMNS)}) VALUES {{rows}}"
)
# A new row: not published, no attempt yet.
OUTBOX_ROW = "(%s, %s, %s, %s, %s, %s, %s, %s, NULL, 0, '')"


def insert_outbox_rows(
    events: list[DomainEvent], trace_context: Mapping[str, str] | None, *, using: str
) -> None:
    """The outbox rows of `events` (the columns of `outbox_row`), in one statement."""
    created_at = timezone.now()
    rows = [
        (
            event.event_id,
            event.event_type(),
            event.service,
            event.aggregate_type,
            event.aggregate_id,
            event.aggregate_version,
            Json(to_cloudevent(event, trace_context=trace_context)),
            created_at,
        )
        for event in events
    ]
    with connections[using].cursor() as cursor:
        cursor.execute(*multi_row(INSERT_OUTBOX_SQL, OUTBOX_ROW, rows))


def outbox_row(event: DomainEvent, trace_context: Mapping[str, str] | None = None) -> OutboxEvent:
    """The outbox row that will carry an event to the broker, with the trace context of the
    span that raised it."""
    return OutboxEvent(
        event_id=event.event_id,
        event_type=event.event_type(),
        service=event.service,
        aggregate_type=event.aggregate_type,
        aggregate_id=event.aggregate_id,
        aggregate_version=event.aggregate_version,
        payload=to_cloudevent(event, trace_context=trace_context),
    )
