"""Integration tests of the relay against real PostgreSQL and RabbitMQ (no workers)."""

import json
import threading
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection
from kombu import Connection

from outbox.core import topology
from outbox.core.publisher import ConfirmingPublisher
from outbox.core.relay import Relay
from outbox.models import OutboxEvent
from products.services import product_create, product_rename

pytestmark = pytest.mark.django_db(transaction=True)

INVENTORY_QUEUE = topology.receive_queue("inventory")


@pytest.fixture(autouse=True)
def empty_inventory_queue(broker: Connection) -> None:
    """Each test reads back exactly what it published."""
    broker.default_channel.queue_purge(INVENTORY_QUEUE)


def new_relay(batch_size: int = 500) -> Relay:
    return Relay(ConfirmingPublisher(settings.CELERY_BROKER_URL), batch_size=batch_size)


def drain(broker: Connection, queue: str) -> list[dict]:
    """Every message now in the queue, acknowledged, as parsed CloudEvents."""
    channel = broker.default_channel
    documents = []
    while (message := channel.basic_get(queue)) is not None:
        documents.append(json.loads(message.body))
        channel.basic_ack(message.delivery_tag)
    return documents


def test_pending_events_are_published_then_marked(broker: Connection) -> None:
    product = product_create(name="Apple", description="", price=Decimal("10"))

    published = new_relay().publish_pending()

    assert published == 1
    [document] = drain(broker, INVENTORY_QUEUE)
    assert document["type"] == "ProductCreatedEvent"
    assert document["subject"] == product.id.hex
    assert not OutboxEvent.objects.filter(published_at__isnull=True).exists()
    assert new_relay().publish_pending() == 0


def test_events_of_one_aggregate_leave_in_the_order_raised(broker: Connection) -> None:
    product = product_create(name="v1", description="", price=Decimal("10"))
    for version in range(2, 8):
        product_rename(product_id=product.id.hex, new_name=f"v{version}")

    new_relay(batch_size=2).publish_pending()

    versions = [document["aggregateversion"] for document in drain(broker, INVENTORY_QUEUE)]
    assert versions == [1, 2, 3, 4, 5, 6, 7]


def test_two_relays_at_once_publish_every_event_once(broker: Connection) -> None:
    for index in range(300):
        product_create(name=f"p{index}", description="", price=Decimal("1"))
    counts: list[int] = []

    def run_relay() -> None:
        try:
            counts.append(new_relay(batch_size=20).publish_pending())
        finally:
            connection.close()

    relays = [threading.Thread(target=run_relay) for _ in range(2)]
    for relay in relays:
        relay.start()
    for relay in relays:
        relay.join(timeout=60)

    assert sum(counts) == 300
    ids = [document["id"] for document in drain(broker, INVENTORY_QUEUE)]
    assert len(ids) == len(set(ids)) == 300
    assert not OutboxEvent.objects.filter(published_at__isnull=True).exists()


def test_an_unconfirmed_batch_stays_pending_with_the_error() -> None:
    product_create(name="Apple", description="", price=Decimal("10"))
    unreachable = Relay(ConfirmingPublisher("amqp://nobody:unreachable@127.0.0.1:1//"))

    with pytest.raises(Exception, match="Connection refused|ECONNREFUSED|refused"):
        unreachable.publish_pending()

    row = OutboxEvent.objects.get()
    assert row.published_at is None
    assert row.attempts == 1
    assert row.last_error
