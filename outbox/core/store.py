"""Saving an aggregate: its rows and its events' outbox rows in one local transaction.

This is the only way business code emits an integration event. The outbox rows go to the
aggregate's own database (the one the router gives its model), so no transaction ever spans
two databases. They are written in one plain-SQL statement (`outbox.core.sql.multi_row`), not
through the ORM: on a consumer's hot path, Django building the model instances and the statement
cost more than PostgreSQL inserting the rows; `outbox_row` is the same row as a model. The
aggregate's own row is written the same way: the `INSERT` or `UPDATE` that `Model.save` would
send, its text built once per model from the model's fields (`RowStatements`).
"""

import dataclasses
import functools
from collections.abc import Mapping

from django.db import connections, models, router, transaction
from django.utils import timezone
from psycopg2.extras import Json

from outbox.core import faults, tracing
from outbox.core.aggregates import AggregateRoot
from outbox.core.cloudevents import to_cloudevent
from outbox.core.events import DomainEvent
from outbox.core.relay_wakeup import wake_relay_after_commit
from outbox.core.signals import event_saved
from outbox.core.sql import Parameters, insert_sql, multi_row
from outbox.models import OutboxEvent


def save(aggregate: AggregateRoot) -> None:
    """Save the aggregate, add its events to the outbox and hand them to listeners, atomically.

    Inside a caller's transaction no savepoint is taken: if saving fails, the whole
    transaction is to roll back, as the aggregate and its events belong together.
    """
    database = router.db_for_write(type(aggregate))
    with transaction.atomic(using=database, savepoint=False):
        write_row(aggregate, using=database)
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
        event_saved.send(sender=type(event), event=event, using=database)


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


@dataclasses.dataclass(frozen=True)
class RowStatements:
    """The statements that write one row of a model, with `%s` for the values of `fields`."""

    fields: tuple[models.Field, ...]  # every concrete field, the primary key first
    insert: str
    insert_unless_exists: str  # returns the primary key if the row was inserted
    update: str  # sets every field but the primary key, then matches it


@functools.cache
def row_statements(model: type[models.Model], using: str) -> RowStatements:
    """The row statements of `model` on database `using`, built once."""
    meta = model._meta
    quote = connections[using].ops.quote_name

    def column(field: models.Field) -> str:
        assert field.column is not None, "a concrete field has a column"
        return quote(field.column)

    pk = meta.pk
    fields = (pk, *(field for field in meta.local_concrete_fields if field is not pk))
    table = quote(meta.db_table)
    insert = (
        f"INSERT INTO {table} ({', '.join(column(field) for field in fields)})"
        f" VALUES ({', '.join(['%s'] * len(fields))})"
    )
    assignments = ", ".join(f"{column(field)} = %s" for field in fields[1:])
    return RowStatements(
        fields=fields,
        insert=insert,
        insert_unless_exists=f"{insert} ON CONFLICT DO NOTHING RETURNING {column(pk)}",
        update=f"UPDATE {table} SET {assignments} WHERE {column(pk)} = %s",
    )


def row_values(
    instance: models.Model, fields: tuple[models.Field, ...], *, add: bool, using: str
) -> Parameters:
    """The values `Model.save` would write for `fields` (an `auto_now` field is set first)."""
    connection = connections[using]
    return [
        field.get_db_prep_save(field.pre_save(instance, add=add), connection) for field in fields
    ]


def write_row(instance: models.Model, *, using: str) -> None:
    """Write a model instance's row as `Model.save` does, in one plain statement: an `INSERT`
    for a new instance, else an `UPDATE` by primary key (an instance whose row is gone, or one
    without a primary key yet, is left to `Model.save`).

    The model's own `save()` and the `pre_save` and `post_save` signals are not called: an
    aggregate keeps its rules in its commands, which run before this.
    """
    if instance.pk is None:
        instance.save(using=using)
        return
    statements = row_statements(type(instance), using)
    add = instance._state.adding
    values = row_values(instance, statements.fields, add=add, using=using)
    with connections[using].cursor() as cursor:
        if add:
            cursor.execute(statements.insert, values)
        else:
            cursor.execute(statements.update, [*values[1:], values[0]])
        written = add or cursor.rowcount == 1
    if not written:
        instance.save(using=using)
        return
    instance._state.adding, instance._state.db = False, using


def insert_unless_exists(instance: models.Model, *, using: str) -> bool:
    """Insert a new model instance unless a row with one of its unique keys exists; whether it
    was inserted."""
    statements = row_statements(type(instance), using)
    values = row_values(instance, statements.fields, add=True, using=using)
    with connections[using].cursor() as cursor:
        cursor.execute(statements.insert_unless_exists, values)
        inserted = cursor.fetchone() is not None
    if inserted:
        instance._state.adding, instance._state.db = False, using
    return inserted


# The columns an event fills (`outbox_fields`), then those of every new row: the time it was
# written, not published, no attempt yet.
EVENT_COLUMNS = (
    "event_id", "event_type", "service", "aggregate_type", "aggregate_id", "aggregate_version",
    "payload",
)  # fmt: skip
INSERT_OUTBOX_SQL = insert_sql(
    OutboxEvent._meta.db_table,
    (*EVENT_COLUMNS, "created_at", "published_at", "attempts", "last_error"),
)
OUTBOX_ROW = "(%s, %s, %s, %s, %s, %s, %s, %s, NULL, 0, '')"


def insert_outbox_rows(
    events: list[DomainEvent], trace_context: Mapping[str, str] | None, *, using: str
) -> None:
    """The outbox rows of `events` (those `outbox_row` makes), in one statement."""
    created_at = timezone.now()
    rows = []
    for event in events:
        fields = outbox_fields(event, trace_context)
        fields["payload"] = Json(fields["payload"])
        rows.append((*(fields[column] for column in EVENT_COLUMNS), created_at))
    with connections[using].cursor() as cursor:
        cursor.execute(*multi_row(INSERT_OUTBOX_SQL, OUTBOX_ROW, rows))


def outbox_fields(
    event: DomainEvent, trace_context: Mapping[str, str] | None = None
) -> dict[str, object]:
    """The fields of an event's outbox row that the event fills (`EVENT_COLUMNS`), its payload
    the CloudEvent with the trace context of the span that raised it."""
    return {
        "event_id": event.event_id,
        "event_type": event.event_type(),
        "service": event.service,
        "aggregate_type": event.aggregate_type,
        "aggregate_id": event.aggregate_id,
        "aggregate_version": event.aggregate_version,
        "payload": to_cloudevent(event, trace_context=trace_context),
    }


def outbox_row(event: DomainEvent, trace_context: Mapping[str, str] | None = None) -> OutboxEvent:
    """The outbox row that will carry an event to the broker, with the trace context of the
    span that raised it."""
    return OutboxEvent(**outbox_fields(event, trace_context))
