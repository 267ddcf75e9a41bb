"""Connections to the broker, built from the project's settings."""
from django.conf import settings
from kombu import Connection

from outbox import registry, topology
from outbox.publisher import ConfirmingPublisher
from outbox.relay import Relay


def relay_from_settings() -> Relay:
    """A relay that publishes to the configured broker."""
    publisher = ConfirmingPublisher(
        settings.CELERY_BROKER_URL,
        confirm_timeout=settings.OUTBOX["CONFIRM_TIMEOUT_SECONDS"],
    )
    return Relay(publisher, batch_size=settings.OUTBOX["RELAY_BATCH_SIZE"])


def declare_topology() -> list[str]:
    """Declare every registered service's exchanges and queues; return the service names."""
    services = registry.all_services()
    with Connection(settings.CELERY_BROKER_URL) as connection:
        topology.declare(connection.default_channel, services)
    return [service.name for service in services]
