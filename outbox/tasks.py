"""Celery tasks: the outbox sweep and retention run by celery beat, asynchronous listeners, and
the admin's actions on large selections.

Each task works for one service, on that service's database, and is routed to the service's
own task queue (`outbox.core.task_queues`), which only that service's workers consume.
"""

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings

from outbox.core import registry, replication
from outbox.core.broker import confirming_publisher, relay_from_settings
from outbox.core.worker import worker_stopping
from outbox.inprocess import listeners
from outbox.models import DeadLetter
from outbox.operations import retention
from outbox.operations.replay import dead_letter_replay

logger = logging.getLogger(__name__)

SWEEP_OUTBOX_TASK = "outbox.tasks.sweep_outbox"
PURGE_EXPIRED_RECORDS_TASK = "outbox.tasks.purge_expired_records"
PUBLISH_OUTBOX_EVENTS_TASK = "outbox.tasks.publish_outbox_events"
REPLAY_DEAD_LETTERS_TASK = "outbox.tasks.replay_dead_letters"


@shared_task(name=SWEEP_OUTBOX_TASK, ignore_result=True)
def sweep_outbox(*, service: str) -> int:
    """Publish whatever the relay left pending (crash, broker down): the safety net."""
    relay = relay_from_settings(registry.get_service(service).database, worker_stopping)
    try:
        published = relay.publish_pending()
    except replication.StandbyWaitAbandoned as waited:
        logger.warning("the sweep of %s leaves the rows to the relay: %s", service, waited)
        return 0
    finally:
        relay.publisher.close()
    if published:
        logger.info("the sweep published %d pending events of %s", published, service)
    return published


@shared_task(name=listeners.ASYNC_LISTENER_TASK, ignore_result=True)
def run_async_listener(*, service: str, listener_name: str, cloudevent: str) -> None:
    """Run an asynchronous in-process listener on an event of `service`, as JSON off the wire."""
    listeners.run_async_listener(listener_name=listener_name, cloudevent=cloudevent)


@shared_task(name=PURGE_EXPIRED_RECORDS_TASK, ignore_result=True)
def purge_expired_records(*, service: str) -> dict[str, int]:
    """Keep the tables that grow with traffic bounded (settings OUTBOX *RETENTION_DAYS)."""
    purged = retention.purge_expired_records(
        older_than=timedelta(days=settings.OUTBOX["RETENTION_DAYS"]),
        audit_older_than=timedelta(days=settings.OUTBOX["AUDIT_RETENTION_DAYS"]),
        resolved_dead_letters_older_than=timedelta(
            days=settings.OUTBOX["DEAD_LETTER_RETENTION_DAYS"]
        ),
        using=registry.get_service(service).database,
    )
    if any(purged.values()):
        logger.info("purged expired records of %s: %s", service, purged)
    return purged


@shared_task(name=PUBLISH_OUTBOX_EVENTS_TASK, ignore_result=True)
def publish_outbox_events(*, service: str, ids: list[int]) -> int:
    """Publish the pending outbox rows `ids` of a service now (the admin's publish_now)."""
    relay = relay_from_settings(registry.get_service(service).database, worker_stopping)
    try:
        return len(relay.publish_selected(ids))
    except replication.StandbyWaitAbandoned as waited:
        logger.warning(
            "publishing %d rows of %s is left to the relay: %s", len(ids), service, waited
        )
        return 0
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
    counts = {"moved": summary.moved, "skipped": summary.skipped, "failed": summary.failed}
    logger.info("replayed dead letters of %s: %s", service, counts)
    return counts
