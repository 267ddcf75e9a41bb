"""Integration tests of idempotent consumption, on real PostgreSQL (handlers called directly)."""

import json
import uuid
from decimal import Decimal

import pytest

from inventory.models import Inventory
from orders.models import CatalogProduct
from outbox.cloudevents import MalformedEvent
from outbox.consumer import Outcome, UnknownEvent, handle_batch, handle_message
from outbox.models import OutboxEvent, ProcessedEvent
from outbox.registry import get_service
from products.services import product_create

pytestmark = pytest.mark.django_db(transaction=True)


def product_created_body() -> bytes:
    product = product_create(name="Apple", description="", price=Decimal("10"))
    row = OutboxEvent.objects.get(aggregate_id=product.id.hex)
    return json.dumps(row.payload).encode()


def test_a_duplicate_is_skipped_per_consumer_but_handled_by_each_consumer() -> None:
    body = product_created_body()
    inventory, order = get_service("inventory"), get_service("order")

    assert handle_message(inventory, body) is Outcome.HANDLED
    assert handle_message(inventory, body) is Outcome.DUPLICATE
    assert handle_message(order, body) is Outcome.HANDLED
    assert handle_message(order, body) is Outcome.DUPLICATE

    assert Inventory.objects.count() == 1
    assert CatalogProduct.objects.count() == 1
    assert ProcessedEvent.objects.filter(consumer="inventory").count() == 1
    assert ProcessedEvent.objects.filter(consumer="order").count() == 1


def test_the_handlers_events_are_saved_in_the_same_transaction() -> None:
    handle_message(get_service("inventory"), product_created_body())

    inventory = Inventory.objects.get()
    assert OutboxEvent.objects.filter(
        aggregate_id=inventory.id.hex, event_type="InventoryCreatedEvent"
    ).exists()


def test_a_failing_handler_leaves_no_processed_record() -> None:
    document = json.loads(product_created_body())
    del document["data"]["name"]

    with pytest.raises(ValueError, match="data.name"):
        handle_message(get_service("inventory"), json.dumps(document).encode())

    assert not ProcessedEvent.objects.exists()
    assert not Inventory.objects.exists()


def test_an_event_without_a_handler_is_unknown() -> None:
    document = json.loads(product_created_body())
    document["type"] = "ProductTeleportedEvent"
    document["id"] = uuid.uuid4().hex

    with pytest.raises(UnknownEvent, match="no handler for ProductTeleportedEvent"):
        handle_message(get_service("inventory"), json.dumps(document).encode())


def test_in_a_batch_a_failing_message_rolls_back_alone_and_the_others_commit() -> None:
    first, second = product_created_body(), product_created_body()
    broken = json.loads(product_created_body())
    del broken["data"]["name"]

    outcomes = handle_batch(
        get_service("inventory"), [first, json.dumps(broken).encode(), second, first]
    )

    assert outcomes[0] is Outcome.HANDLED
    assert isinstance(outcomes[1], MalformedEvent)
    assert outcomes[2:] == [Outcome.HANDLED, Outcome.DUPLICATE]
    assert Inventory.objects.count() == 2
    assert sorted(ProcessedEvent.objects.values_list("event_id", flat=True)) == sorted(
        json.loads(body)["id"] for body in (first, second)
    )
