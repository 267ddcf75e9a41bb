"""Is the messaging healthy? Database, broker, outbox backlog and dead letters at a glance."""

from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Count, Min
from django.utils import timezone

from outbox import registry, topology
from outbox.failover import broker_connection, connect_to_any_node
from outbox.models import DeadLetter, OutboxEvent

BROKER_TIMEOUT_SECONDS = 3


def health_report() -> dict[str, Any]:
    """A JSON-ready report; `healthy` is false when the database or the broker is down."""
    database = _database_status()
    broker = _broker_status()
    report: dict[str, Any] = {
        "healthy": database["ok"] and broker["ok"],
        "database": database,
        "broker": {"ok": broker["ok"], **({"error": broker["error"]} if "error" in broker else {})},
    }
    if database["ok"]:
        report["outbox"] = _outbox_backlog()
        report["dead_letters"] = _dead_letters(broker.get("queues", {}))
    return report


def _database_status() -> dict[str, Any]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return {"ok": True}
    except DatabaseError as error:
        return {"ok": False, "error": str(error).strip()}


def _broker_status() -> dict[str, Any]:
    """Whether the broker answers, and how many messages wait in each dead-letter queue."""
    queues = [
        queue
        for service in registry.all_services()
        for queue in (
            topology.receive_dead_letter_queue(service.name),
            topology.publish_dead_letter_queue(service.name),
        )
    ]
    try:
        with broker_connection(
            settings.CELERY_BROKER_URL, connect_timeout=BROKER_TIMEOUT_SECONDS
        ) as broker:
            connect_to_any_node(broker)
            channel = broker.default_channel
            depths = {
                queue: channel.queue_declare(queue, passive=True).message_count for queue in queues
            }
        return {"ok": True, "queues": depths}
    except Exception as error:  # noqa: BLE001 - any failure to reach the broker is "down"
        return {"ok": False, "error": f"{type(error).__name__}: {error}"}


def _outbox_backlog() -> dict[str, Any]:
    pending = OutboxEvent.objects.filter(published_at__isnull=True).aggregate(
        count=Count("id"), oldest=Min("created_at")
    )
    oldest = pending["oldest"]
    return {
        "pending": pending["count"],
        "oldest_pending_age_seconds": (
            round((timezone.now() - oldest).total_seconds(), 3) if oldest else None
        ),
        "failing": OutboxEvent.objects.filter(published_at__isnull=True, attempts__gt=0).count(),
    }


def _dead_letters(queue_depths: dict[str, int]) -> dict[str, Any]:
    recorded = dict(
        DeadLetter.objects.filter(status=DeadLetter.Status.PENDING)
        .values_list("service")
        .annotate(count=Count("id"))
    )
    return {
        service.name: {
            "pending": recorded.get(service.name, 0),
            "waiting_in_queues": sum(
                queue_depths.get(queue, 0)
                for queue in (
                    topology.receive_dead_letter_queue(service.name),
                    topology.publish_dead_letter_queue(service.name),
                )
            ),
        }
        for service in registry.all_services()
    }
