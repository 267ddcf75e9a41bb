"""The relay against a broker that refuses a batch (real PostgreSQL and RabbitMQ)."""

from collections.abc import Iterator
from decimal import Decimal

import pytest
from kombu import Connection

from outbox.core import registry, topology
from outbox.core.publisher import PublishFailed
from outbox.models import OutboxEvent
from products.services import product_create
from tests.integration.test_relay import new_relay

pytestmark = pytest.mark.django_db(transaction=True)

FULL_QUEUE = "relay-test-full-q"


@pytest.fixture
def refusing_queue(broker: Connection) -> Iterator[None]:
    """A queue that takes no message, bound to the product exchange: the broker nacks them.

    The other queues bound to the exchange still receive the messages; they are emptied after.
    """
    channel = broker.default_channel
    channel.queue_declare(
        FULL_QUEUE, durable=False, auto_delete=False,
        arguments={"x-max-length": 0, "x-overflow": "reject-publish"},
    )  # fmt: skip
    channel.queue_bind(FULL_QUEUE, topology.publish_exchange("product"), "ProductCreatedEvent")
    try:
        yield
    finally:
        channel.queue_delete(FULL_QUEUE)
        for service in registry.all_services():
            channel.queue_purge(topology.receive_queue(service.name))


def test_a_batch_the_broker_nacks_stays_pending_though_its_mark_was_written(
    refusing_queue: None,
) -> None:
    product_create(name="Apple", description="", price=Decimal("10"))

    with pytest.raises(PublishFailed, match="nacked"):
        new_relay().publish_pending()

    row = OutboxEvent.objects.get()
    assert row.published_at is None
    assert row.attempts == 1
    assert "nacked" in row.last_error
