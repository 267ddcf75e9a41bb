"""Celery tasks: the outbox sweep and retention run by celery beat, and asynchronous listeners."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings

from outbox import listeners, retention
from outbox.broker import relay_from_settings


@shared_task(name="outbox.tasks.sweep_outbox", ignore_result=True)
def sweep_outbox() -> int:
    """Publish whatever the relay left pending (crash, broker down): the safety net."""
    relay = relay_from_settings()
    try:
        return relay.publish_pending()
    finally:
        relay.publisher.close()


@shared_task(name=listeners.ASYNC_LISTENER_TASK, ignore_result=True)
def run_async_listener(listener_name: str, cloudevent: str) -> None:
    """Run an asynchronous in-process listener on an event, as JSON off the wire."""
    listeners.run_async_listener(listener_name=listener_name, cloudevent=cloudevent)


@shared_task(name="outbox.tasks.purge_expired_records", ignore_result=True)
def purge_expired_records() -> dict[str, int]:
    """Keep the outbox and processed-event tables bounded (setting OUTBOX RETENTION_DAYS)."""
    return retention.purge_expired_records(
        older_than=timedelta(days=settings.OUTBOX["RETENTION_DAYS"])
    )
