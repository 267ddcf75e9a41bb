"""Is the messaging healthy? Databases, broker, outbox backlog and dead letters at a glance.

The databases are those of this process: `default` (identity) and each served service's.
"""

from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.models import Count, Min
from django.utils import timezone

from outbox.core import registry, replication, topology
from outbox.core.failover import amqp_channel, broker_connection, connect_to_any_node
from outbox.models import DeadLetter, OutboxEvent

BROKER_TIMEOUT_SECONDS = 3
HEALTHY_CACHE_KEY = "outbox.operations.health.healthy"
NO_STANDBY = "no standby connected: events wait to be published and to be acknowledged"


def health_report() -> dict[str, Any]:
    """A JSON-ready report; `healthy` is false when the database or the broker is down."""
    databases = _databases_status()
    databases_ok = all(status["ok"] for status in databases.values())
    broker = _broker_status()
    report: dict[str, Any] = {
        "healthy": databases_ok and broker["ok"],
        "database": {"ok": databases_ok, **databases},
        "broker": {"ok": broker["ok"], **({"error": broker["error"]} if "error" in broker else {})},
    }
    if databases_ok:
        report["outbox"] = _outbox_backlog()
        report["dead_letters"] = _dead_letters(broker.get("queues", {}))
        if replication.enabled():
            report["standbys"] = _standbys()
    return report


def cached_healthy() -> bool:
    """Whether the databases and the broker answer, as this process last saw them at most
    OUTBOX["HEALTH_CACHE_SECONDS"] ago: a burst of probes costs one look, not one each."""
    return bool(
        cache.get_or_set(
            HEALTHY_CACHE_KEY, _healthy, timeout=settings.OUTBOX["HEALTH_CACHE_SECONDS"]
        )
    )


def _healthy() -> bool:
    """The report's `healthy`, without counting the backlog and the dead letters."""
    databases_ok = all(status["ok"] for status in _databases_status().values())
    return databases_ok and _broker_status()["ok"]


def _databases_status() -> dict[str, dict[str, Any]]:
    return {
        alias: _database_status(alias)
        for alias in sorted({DEFAULT_DB_ALIAS, *registry.outbox_databases()})
    }


def _database_status(alias: str) -> dict[str, Any]:
    try:
        with connections[alias].cursor() as cursor:
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
            channel = amqp_channel(broker.default_channel)
            depths = {queue: topology.queue_counts(channel, queue)[0] for queue in queues}
        return {"ok": True, "queues": depths}
    except Exception as error:  # noqa: BLE001 - any failure to reach the broker is "down"
        return {"ok": False, "error": f"{type(error).__name__}: {error}"}


def _outbox_backlog() -> dict[str, Any]:
    """Pending events of every outbox database, summed; the oldest of them all."""
    pending = [
        OutboxEvent.objects.using(database)
        .filter(published_at__isnull=True)
        .aggregate(count=Count("id"), oldest=Min("created_at"))
        for database in registry.outbox_databases()
    ]
    oldest = min((each["oldest"] for each in pending if each["oldest"]), default=None)
    return {
        "pending": sum(each["count"] for each in pending),
        "oldest_pending_age_seconds": (
            round((timezone.now() - oldest).total_seconds(), 3) if oldest else None
        ),
        "failing": sum(
            OutboxEvent.objects.using(database)
            .filter(published_at__isnull=True, attempts__gt=0)
            .count()
            for database in registry.outbox_databases()
        ),
    }


def _standbys() -> dict[str, Any]:
    """With OUTBOX_WAIT_FOR_STANDBY: the standbys of each outbox database. With none, its relay
    publishes nothing and its workers acknowledge nothing: they wait for one."""
    report: dict[str, Any] = {"ok": True}
    for database in registry.outbox_databases():
        try:
            connected = replication.connected_standbys(database)
        except DatabaseError as error:
            report["ok"] = False
            report[database] = {"error": str(error).strip()}
            continue
        report[database] = {"connected": connected}
        if not connected:
            report["ok"] = False
            report[database]["waiting"] = NO_STANDBY
    return report


def _dead_letters(queue_depths: dict[str, int]) -> dict[str, Any]:
    return {
        service.name: {
            "pending": DeadLetter.objects.using(service.database)
            .filter(service=service.name, status=DeadLetter.Status.PENDING)
            .count(),
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
