"""Periodic tasks run by celery beat."""
from celery import shared_task

from outbox.broker import relay_from_settings


@shared_task(name="outbox.tasks.sweep_outbox", ignore_result=True)
def sweep_outbox() -> int:
    """Publish whatever the relay left pending (crash, broker down): the safety net."""
    relay = relay_from_settings()
    try:
        return relay.publish_pending()
    finally:
        relay.publisher.close()
