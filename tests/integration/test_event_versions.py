"""Event versions and the contract on real PostgreSQL: a former version handled beside the
current one (handlers called through the consumer, no broker), and a drifted saved event
caught by the check that every test runs on its saved events."""

import json
import uuid
from decimal import Decimal

import pytest

from inventory.models import StockReservation
from inventory.services import inventory_create_for_product, stock_reserve_for_order
from orders.events import OrderItemCountChangeRequestedEvent
from outbox.core.cloudevents import to_cloudevent
from outbox.core.consumer import Outcome
from outbox.core.registry import get_service
from outbox.models import OutboxEvent
from products.services import product_create
from tests.consuming import deliver
from tests.event_contract import contract_breaches, event_contract
from tests.former_versions import item_count_change_as_version_1

pytestmark = pytest.mark.django_db


def change_requested(order_id: str, order_version: int, product_id: str, count: int) -> dict:
    """The CloudEvent as the order context writes it now: version 2."""
    event = OrderItemCountChangeRequestedEvent(
        aggregate_id=order_id,
        aggregate_version=order_version,
        change_id=uuid.uuid4().hex,
        product_id=product_id,
        new_count=count,
    )
    return to_cloudevent(event)


def adjusted_counts(order_id: str) -> list[int]:
    rows = OutboxEvent.objects.filter(
        event_type="StockReservationAdjustedEvent", aggregate_id=order_id
    )
    return [row.payload["data"]["count"] for row in rows.order_by("id")]


def test_the_inventory_handles_version_1_and_version_2_side_by_side() -> None:
    product_id = uuid.uuid4().hex
    inventory = inventory_create_for_product(
        product_id=product_id, product_name="Apple", product_version=1
    )
    inventory.remaining = 10
    inventory.save()
    order_id = uuid.uuid4().hex
    stock_reserve_for_order(order_id=order_id, items=[(product_id, 2)])
    old = item_count_change_as_version_1(change_requested(order_id, 2, product_id, 5))
    new = change_requested(order_id, 3, product_id, 4)
    inventory_service = get_service("inventory")

    assert event_contract().violations(old) == event_contract().violations(new) == []
    for cloudevent in (old, new):
        outcomes = deliver(inventory_service, [json.dumps(cloudevent).encode()])
        assert outcomes == [Outcome.HANDLED]

    assert StockReservation.objects.get(pk=order_id).held == {product_id: 4}
    assert adjusted_counts(order_id) == [5, 4]


def test_a_saved_event_that_drifted_from_its_contract_is_reported() -> None:
    product = product_create(name="Apple", description="", price=Decimal("10"))
    row = OutboxEvent.objects.get(aggregate_id=product.id.hex)
    payload = row.payload
    drifted = {**payload, "data": {**payload["data"], "colour": "red"}}
    drifted["data"].pop("price")
    OutboxEvent.objects.filter(pk=row.pk).update(payload=drifted)

    breaches = contract_breaches(["default"])

    assert breaches == [
        f"ProductCreatedEvent {row.event_id.hex}: "
        "data: 'price' is a required property; "
        "data: Additional properties are not allowed ('colour' was unexpected)"
    ]
    # As the product context wrote it, for the check at the end of this test.
    OutboxEvent.objects.filter(pk=row.pk).update(payload=payload)
    assert contract_breaches(["default"]) == []


def test_the_former_version_is_one_the_document_still_describes() -> None:
    cloudevent = change_requested(uuid.uuid4().hex, 2, uuid.uuid4().hex, 3)
    wrong = {**cloudevent, "data": item_count_change_as_version_1(cloudevent)["data"]}

    assert event_contract().violations(item_count_change_as_version_1(cloudevent)) == []
    assert event_contract().violations(wrong) == [
        "data: 'newCount' is a required property",
        "data: Additional properties are not allowed ('count' was unexpected)",
    ]
