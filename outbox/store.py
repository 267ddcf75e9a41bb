"""Saving an aggregate: its rows and its events' outbox rows in one local transaction.

This is the only way business code emits an integration event. The outbox rows go to the
aggregate's own database (the one the router gives its model), so no transaction ever spans
two databases.
"""

from collections.abc import Mapping

from django.db import router, transaction

from outbox import faults, listeners, tracing
from outbox.aggregates import AggregateRoot
from outbox.cloudevents import to_cloudevent
from outbox.events import DomainEvent
from outbox.models import OutboxEvent
from outbox.relay_wakeup import wake_relay_after_commit


def save(aggregate: AggregateRoot) -> None:
    """Save the aggregate, add its events to the outbox and hand them to listeners, atomically.

    Inside a caller's transaction no savepoint is taken: if saving fails, the whole
    transaction is to roll back, as the aggregate and its events belong together.
    """
    database = router.db_for_write(type(aggregate))
    with transaction.atomic(using=database, savepoint=False):
        aggregate.save(using=database)
        events = aggregate.collect_events()
        if events:
            trace_context = tracing.current_trace_context()
            OutboxEvent.objects.using(database).bulk_create(
                [outbox_row(event, trace_context) for event in events]
            )
            wake_relay_after_commit(database)
            faults.crash_after_commit(
                faults.CrashPoint.SAVE_AFTER_COMMIT,
                (event.event_type() for event in events),
                using=database,
            )
        for event in events:
            listeners.publish(event, using=database)


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
