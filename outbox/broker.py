"""Connections to the broker, built from the project's settings."""

import amqp
from django.conf import settings

from outbox import registry, topology
from outbox.failover import broker_connection, connect_to_any_node
from outbox.publisher import ConfirmingPublisher
from outbox.relay import Relay


def relay_from_settings(database: str) -> Relay:
    """A relay of the outbox in `database` that publishes to the configured broker."""
    return Relay(
        confirming_publisher(), database=database, batch_size=settings.OUTBOX["RELAY_BATCH_SIZE"]
    )


def queue_shape(queue_type: str | None = None) -> topology.QueueShape:
    """The configured queue type (or the one given) and delivery limit."""
    return topology.QueueShape(
        queue_type=queue_type or settings.OUTBOX["QUEUE_TYPE"],
        delivery_limit=settings.OUTBOX["DELIVERY_LIMIT"],
    )


def declare_topology(channel: amqp.Channel | None = None) -> list[str]:
    """Declare every registered service's exchanges and queues; return the service names.

    Without a channel, on any live node of the configured broker; raises
    `outbox.failover.BrokerUnreachable` when none answers. Raises `topology.QueueMismatch`,
    naming the queue and the command that migrates it, when a queue exists with another type
    than the configured one.
    """
    services = registry.all_services()
    if channel is None:
        with broker_connection(settings.CELERY_BROKER_URL) as connection:
            connect_to_any_node(connection)
            return declare_topology(connection.default_channel)
    topology.declare(channel, services, settings.OUTBOX["RETRY_DELAYS_SECONDS"], queue_shape())
    return [service.name for service in services]


def confirming_publisher() -> ConfirmingPublisher:
    """A publisher with confirms on the configured broker."""
    return ConfirmingPublisher(
        settings.CELERY_BROKER_URL,
        confirm_timeout=settings.OUTBOX["CONFIRM_TIMEOUT_SECONDS"],
    )
