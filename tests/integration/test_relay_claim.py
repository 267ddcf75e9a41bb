"""The relay's claim when another relay holds some pending rows (real PostgreSQL, RabbitMQ)."""
import threading
from decimal import Decimal

import pytest
from django.db import connection, transaction
from kombu import Connection

from outbox.models import OutboxEvent
from tests.integration.test_relay import INVENTORY_QUEUE, drain, new_relay
from products.services import product_create, product_rename

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
