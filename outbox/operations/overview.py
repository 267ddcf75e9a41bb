"""What an operator watches, read when asked: the outbox's lag, the dead letters waiting, the
depths of the queues and the relay's last batch.

The metrics' scrape (`outbox.operations.gauges.MessagingStateCollector`) and the admin's
operations page read the same functions, so the two never disagree. Each read is one or two
indexed queries, or a passive declare per queue on one broker connection.
"""

import dataclasses
from datetime import datetime

import amqp
from django.conf import settings
from django.db.models import Count, Max, Min
from django.utils import timezone

from outbox.core import registry, topology
from outbox.core.failover import amqp_channel, broker_connection, connect_to_any_node
from outbox.models import DeadLetter, OutboxEvent

BROKER_TIMEOUT_SECONDS = 3


class QueueDepthsUnavailable(Exception):
    """The broker did not answer with the queue depths."""


@dataclasses.dataclass(frozen=True)
class OutboxLag:
    database: str
    pending: int
    oldest_age_seconds: float | None


@dataclasses.dataclass(frozen=True)
class RelayBatch:
    """The last batch a relay published: its rows share one `published_at`, the time of the
    batch's transaction (PostgreSQL's `now()`)."""

    database: str
    published_at: datetime
    size: int


@dataclasses.dataclass(frozen=True)
class PendingDeadLetters:
    service: str
    kind: str
    pending: int


@dataclasses.dataclass(frozen=True)
class QueueDepth:
    queue: str
    service: str
    role: str
    messages: int
    consumers: int


def served_databases() -> list[str]:
    """The outbox databases of the services this process serves."""
    return registry.outbox_databases()


def outbox_lag(database: str) -> OutboxLag:
    """Pending events and the age of the oldest (the partial index `outbox_pending`)."""
    backlog = (
        OutboxEvent.objects.using(database)
        .filter(published_at__isnull=True)
        .aggregate(pending=Count("id"), oldest=Min("created_at"))
    )
    oldest = backlog["oldest"]
    return OutboxLag(
        database=database,
        pending=backlog["pending"],
        oldest_age_seconds=(timezone.now() - oldest).total_seconds() if oldest else None,
    )


def last_relay_batch(database: str) -> RelayBatch | None:
    """The newest `published_at` and how many rows have it; None before any publication or
    once retention has removed every published row."""
    published = OutboxEvent.objects.using(database).filter(published_at__isnull=False)
    latest = published.aggregate(latest=Max("published_at"))["latest"]
    if latest is None:
        return None
    return RelayBatch(database, latest, published.filter(published_at=latest).count())


def dead_letters_pending(database: str) -> list[PendingDeadLetters]:
    """Pending dead letters of each service on `database`, by kind, zeros included."""
    counts = {
        (row["service"], row["kind"]): row["pending"]
        for row in DeadLetter.objects.using(database)
        .filter(status=DeadLetter.Status.PENDING)
        .values("service", "kind")
        .annotate(pending=Count("id"))
    }
    return [
        PendingDeadLetters(service.name, kind, counts.get((service.name, kind), 0))
        for service in registry.all_services()
        if service.database == database
        for kind in DeadLetter.Kind.values
    ]


def served_queues() -> list[tuple[str, str, str]]:
    """(queue, service, role) of each served service's receive and dead-letter queues."""
    return [
        (queue, service.name, role)
        for service in registry.all_services()
        for queue, role in (
            (topology.receive_queue(service.name), "receive"),
            (topology.receive_dead_letter_queue(service.name), "failed"),
            (topology.publish_dead_letter_queue(service.name), "unroutable"),
        )
    ]


def queue_depths() -> list[QueueDepth]:
    """Ready messages and consumers of each served queue (a passive declare: nothing is made);
    a queue not declared yet is left out. Raises `QueueDepthsUnavailable`."""
    depths = []
    try:
        with broker_connection(
            settings.CELERY_BROKER_URL, connect_timeout=BROKER_TIMEOUT_SECONDS
        ) as broker:
            connect_to_any_node(broker)
            channel = amqp_channel(broker.channel())
            for queue, service, role in served_queues():
                try:
                    messages, consumers = topology.queue_counts(channel, queue)
                except amqp.exceptions.NotFound:
                    # The broker closed the channel with its refusal.
                    channel = amqp_channel(broker.channel())
                    continue
                depths.append(QueueDepth(queue, service, role, messages, consumers))
    except Exception as error:  # noqa: BLE001 - whatever keeps the broker from answering
        raise QueueDepthsUnavailable(f"{type(error).__name__}: {error}") from error
    return depths
