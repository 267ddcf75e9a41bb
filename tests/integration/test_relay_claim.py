"""The relay's claim when another relay holds some pending rows (real PostgreSQL, RabbitMQ)."""

import threading
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection, transaction
from kombu import Connection

from outbox.core.publisher import ConfirmingPublisher, OutgoingMessage, SentBatch
from outbox.core.relay import Relay
from outbox.models import OutboxEvent
from products.services import product_create, product_rename

# `empty_inventory_queue` is autouse here too: each test reads back exactly what it published.
from tests.integration.test_relay import (  # noqa: F401
    INVENTORY_QUEUE,
    drain,
    empty_inventory_queue,
    new_relay,
)

pytestmark = pytest.mark.django_db(transaction=True)


def hold(row_ids: list[int], held: threading.Event, release: threading.Event) -> None:
    """Another relay's transaction: it has claimed these rows and not marked them yet."""
    try:
        with transaction.atomic():
            list(OutboxEvent.objects.select_for_update().filter(id__in=row_ids))
            held.set()
            release.wait(timeout=30)
    finally:
        connection.close()


def test_later_events_of_an_aggregate_wait_while_an_earlier_one_is_held(broker: Connection) -> None:
    product = product_create(name="v1", description="", price=Decimal("10"))
    product_rename(product_id=product.id.hex, new_name="v2")
    product_rename(product_id=product.id.hex, new_name="v3")
    other = product_create(name="Other", description="", price=Decimal("10"))
    second_event = OutboxEvent.objects.get(aggregate_id=product.id.hex, aggregate_version=2)
    held, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=hold, args=([second_event.id], held, release))
    holder.start()
    try:
        assert held.wait(timeout=10)
        published_while_held = new_relay().publish_pending()
    finally:
        release.set()
        holder.join(timeout=30)

    assert published_while_held == 2
    first = [(d["subject"], d["aggregateversion"]) for d in drain(broker, INVENTORY_QUEUE)]
    assert first == [(product.id.hex, 1), (other.id.hex, 1)]
    assert new_relay().publish_pending() == 2
    rest = [(d["subject"], d["aggregateversion"]) for d in drain(broker, INVENTORY_QUEUE)]
    assert rest == [(product.id.hex, 2), (product.id.hex, 3)]


class ReleasingPublisher(ConfirmingPublisher):
    """A real publisher that lets the other relay's transaction end once a batch is sent."""

    def __init__(self, release: threading.Event, released: threading.Thread) -> None:
        super().__init__(settings.CELERY_BROKER_URL)
        self.release, self.released = release, released

    def send(self, messages: list[OutgoingMessage]) -> SentBatch:
        sent = super().send(messages)
        self.release.set()
        self.released.join(timeout=30)
        return sent


def test_a_row_passed_over_during_a_drain_is_published_by_its_last_pass(
    broker: Connection,
) -> None:
    products = [product_create(name=f"p{n}", description="", price=Decimal("1")) for n in range(3)]
    first = OutboxEvent.objects.get(aggregate_id=products[0].id.hex)
    held, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=hold, args=([first.id], held, release))
    holder.start()
    assert held.wait(timeout=10)

    relay = Relay(ReleasingPublisher(release, holder), batch_size=1)
    published = relay.publish_pending()

    assert published == 3
    subjects = [d["subject"] for d in drain(broker, INVENTORY_QUEUE)]
    assert subjects == [products[1].id.hex, products[2].id.hex, products[0].id.hex]
    assert not OutboxEvent.objects.filter(published_at__isnull=True).exists()
