"""Celery tasks: the outbox sweep and retention run by celery beat, asynchronous listeners, and
the admin's actions on large selections.

Each task works for one service, on that service's database, and is routed to the service's
own task queue (`route_to_service`), which only that service's workers consume.

These tasks may be lost (the sweep comes round again; asynchronous listeners are at most once;
an admin action leaves its rows as they were, to be acted on again),
so their queues are transient: on a cluster, a queue whose node died is declared again on a
live node, where a durable classic queue would be unusable until its node came back.
"""

from datetime import timedelta
from typing import Any

from celery import shared_task
from django.conf import settings
from kombu import Exchange, Queue

from outbox import listeners, registry, retention, topology
from outbox.broker import confirming_publisher, relay_from_settings
from outbox.dead_letters import dead_letter_replay
from outbox.models import DeadLetter

SWEEP_OUTBOX_TASK = "outbox.tasks.sweep_outbox"
PURGE_EXPIRED_RECORDS_TASK = "outbox.tasks.purge_expired_records"
PUBLISH_OUTBOX_EVENTS_TASK = "outbox.tasks.publish_outbox_events"
REPLAY_DEAD_LETTERS_TASK = "outbox.tasks.replay_dead_letters"


def service_task_queue(service: str) -> Queue:
    """The transient queue of a service's tasks, with a direct exchange of the same name."""
    name = topology.task_queue(service)
    return Queue(name, Exchange(name, type="direct"), routing_key=name, durable=False)


def route_to_service(
    name: str, args: tuple, kwargs: dict[str, Any], options: dict[str, Any], **extra: Any
) -> dict[str, Queue] | None:
    """Celery task router: a task with a `service` argument goes to that service's queue,
    through its exchange. Without the exchange named, Celery would publish to RabbitMQ's
    default exchange, which no service's broker user may write to."""
    if "service" in kwargs:
        queue = service_task_queue(kwargs["service"])
        return {"queue": queue, "exchange": queue.exchange.name, "routing_key": queue.routing_key}
    return None


@shared_task(name=SWEEP_OUTBOX_TASK, ignore_result=True)
def sweep_outbox(*, service: str) -> int:
    """Publish whatever the relay left pending (crash, broker down): the safety net."""
    relay = relay_from_settings(registry.get_service(service).database)
    try:
        return relay.publish_pending()
    finally:
        relay.publisher.close()


@shared_task(name=listeners.ASYNC_LISTENER_TASK, ignore_result=True)
def run_async_listener(*, service: str, listener_name: str, cloudevent: str) -> None:
    """Run an asynchronous in-process listener on an event of `service`, as JSON off the wire."""
    listeners.run_async_listener(listener_name=listener_name, cloudevent=cloudevent)


@shared_task(name=PURGE_EXPIRED_RECORDS_TASK, ignore_result=True)
def purge_expired_records(*, service: str) -> dict[str, int]:
    """Keep the tables that grow with traffic bounded (settings OUTBOX *RETENTION_DAYS)."""
    return retention.purge_expired_records(
        older_than=timedelta(days=settings.OUTBOX["RETENTION_DAYS"]),
        audit_older_than=timedelta(days=settings.OUTBOX["AUDIT_RETENTION_DAYS"]),
        resolved_dead_letters_older_than=timedelta(
            days=settings.OUTBOX["DEAD_LETTER_RETENTION_DAYS"]
        ),
        using=registry.get_service(service).database,
    )


@shared_task(name=PUBLISH_OUTBOX_EVENTS_TASK, ignore_result=True)
def publish_outbox_events(*, service: str, ids: list[int]) -> int:
    """Publish the pending outbox rows `ids` of a service now (the admin's publish_now)."""
    relay = relay_from_settings(registry.get_service(service).database)
    try:
        return len(relay.publish_selected(ids))
    finally:
        relay.publisher.close()


@shared_task(name=REPLAY_DEAD_LETTERS_TASK, ignore_result=True)
def replay_dead_letters(*, service: str, ids: list[int]) -> dict[str, int]:
    """Replay the pending dead letters `ids` of a service (the admin's replay)."""
    records = DeadLetter.objects.using(registry.get_service(service).database).filter(pk__in=ids)
    publisher = confirming_publisher()
    try:
        summary = dead_letter_replay(records, publisher)
    finally:
        publisher.close()
    return {"moved": summary.moved, "skipped": summary.skipped, "failed": summary.failed}
