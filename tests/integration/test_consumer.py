"""Integration tests of idempotent consumption, on real PostgreSQL (handlers called directly)."""

import json
import uuid
from decimal import Decimal

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from inventory.models import Inventory
from inventory.services import inventory_create_for_product
from orders.models import CatalogProduct
from outbox.core.cloudevents import MalformedEvent
from outbox.core.consumer import Outcome, UnknownEvent
from outbox.core.registry import get_service
from outbox.models import OutboxEvent, ProcessedEvent
from products.services import product_create, product_rename
from tests.consuming import deliver

pytestmark = pytest.mark.django_db(transaction=True)


def product_created_body() -> bytes:
    product = product_create(name="Apple", description="", price=Decimal("10"))
    row = OutboxEvent.objects.get(aggregate_id=product.id.hex)
    return json.dumps(row.payload).encode()


def test_a_duplicate_is_skipped_per_consumer_but_handled_by_each_consumer() -> None:
    body = product_created_body()
    inventory, order = get_service("inventory"), get_service("order")

    assert deliver(inventory, [body]) == [Outcome.HANDLED]
    assert deliver(inventory, [body]) == [Outcome.DUPLICATE]
    assert deliver(order, [body]) == [Outcome.HANDLED]
    assert deliver(order, [body]) == [Outcome.DUPLICATE]

    assert Inventory.objects.count() == 1
    assert CatalogProduct.objects.count() == 1
    assert ProcessedEvent.objects.filter(consumer="inventory").count() == 1
    assert ProcessedEvent.objects.filter(consumer="order").count() == 1


def test_the_handlers_events_are_saved_in_the_same_transaction() -> None:
    assert deliver(get_service("inventory"), [product_created_body()]) == [Outcome.HANDLED]

    inventory = Inventory.objects.get()
    assert OutboxEvent.objects.filter(
        aggregate_id=inventory.id.hex, event_type="InventoryCreatedEvent"
    ).exists()


def test_a_failing_handler_leaves_no_processed_record() -> None:
    document = json.loads(product_created_body())
    del document["data"]["name"]

    [outcome] = deliver(get_service("inventory"), [json.dumps(document).encode()])

    assert isinstance(outcome, ValueError)
    assert "data.name" in str(outcome)

    assert not ProcessedEvent.objects.exists()
    assert not Inventory.objects.exists()


def test_an_event_without_a_handler_is_unknown() -> None:
    document = json.loads(product_created_body())
    document["type"] = "ProductTeleportedEvent"
    document["id"] = uuid.uuid4().hex

    [outcome] = deliver(get_service("inventory"), [json.dumps(document).encode()])

    assert isinstance(outcome, UnknownEvent)
    assert "no handler for ProductTeleportedEvent" in str(outcome)


def test_in_a_batch_a_failing_message_rolls_back_alone_and_the_others_commit() -> None:
    first, second = product_created_body(), product_created_body()
    broken = json.loads(product_created_body())
    del broken["data"]["name"]

    outcomes = deliver(
        get_service("inventory"), [first, json.dumps(broken).encode(), second, first]
    )

    assert outcomes[0] is Outcome.HANDLED
    assert isinstance(outcomes[1], MalformedEvent)
    assert outcomes[2:] == [Outcome.HANDLED, Outcome.DUPLICATE]
    assert Inventory.objects.count() == 2
    # What ran before the failure was rolled back: each event's writes committed once.
    assert OutboxEvent.objects.filter(event_type="InventoryCreatedEvent").count() == 2
    assert sorted(ProcessedEvent.objects.values_list("event_id", flat=True)) == sorted(
        json.loads(body)["id"] for body in (first, second)
    )


def test_an_event_that_failed_in_a_batch_is_handled_when_it_comes_again() -> None:
    product = product_create(name="Apple", description="", price=Decimal("10"))
    product_rename(product_id=product.id.hex, new_name="Red apple")
    created, renamed = (
        json.dumps(row.payload).encode()
        for row in OutboxEvent.objects.filter(aggregate_id=product.id.hex).order_by("id")
    )
    inventory = get_service("inventory")

    # The rename outruns the creation: it fails (no inventory yet) and its inbox record goes.
    first = deliver(inventory, [renamed, created])
    again = deliver(inventory, [renamed])

    assert isinstance(first[0], Inventory.DoesNotExist)
    assert first[1] is Outcome.HANDLED
    assert again == [Outcome.HANDLED]
    assert Inventory.objects.get().product_name == "Red apple"
    assert ProcessedEvent.objects.filter(consumer="inventory").count() == 2


def test_a_batch_without_failure_takes_no_savepoint_per_event() -> None:
    inventory = get_service("inventory")

    def savepoints_to_handle(size: int) -> int:
        bodies = [product_created_body() for _ in range(size)]
        with CaptureQueriesContext(connections[inventory.database]) as queries:
            outcomes = deliver(inventory, bodies)
        assert outcomes == [Outcome.HANDLED] * size
        return sum(query["sql"].startswith("SAVEPOINT") for query in queries.captured_queries)

    assert savepoints_to_handle(2) == savepoints_to_handle(8)


def test_an_event_twice_in_one_batch_is_handled_once() -> None:
    body = product_created_body()

    outcomes = deliver(get_service("inventory"), [body, body])

    assert outcomes == [Outcome.HANDLED, Outcome.DUPLICATE]
    assert Inventory.objects.count() == 1
    assert OutboxEvent.objects.filter(event_type="InventoryCreatedEvent").count() == 1


def test_a_second_creation_of_one_products_inventory_keeps_the_first_and_raises_nothing() -> None:
    product_id = uuid.uuid4().hex
    first = inventory_create_for_product(
        product_id=product_id, product_name="Apple", product_version=1
    )

    again = inventory_create_for_product(
        product_id=product_id, product_name="Pear", product_version=2
    )

    assert again == first
    assert again.product_name == "Apple"
    assert Inventory.objects.count() == 1
    assert OutboxEvent.objects.filter(event_type="InventoryCreatedEvent").count() == 1
