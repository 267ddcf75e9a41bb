"""The inventory's compensation and adjustments on real PostgreSQL: what is saved and raised,
once, whatever order the order's events arrive in."""

import uuid

import pytest

from inventory.models import Inventory, ReservationStatus, StockReservation
from inventory.services import (
    inventory_create_for_product,
    stock_release_for_order,
    stock_reservation_adjust,
    stock_reserve_for_order,
)
from outbox.models import OutboxEvent

pytestmark = pytest.mark.django_db


def stocked(remaining: int) -> str:
    """The product id of a new inventory holding `remaining`."""
    product_id = uuid.uuid4().hex
    inventory = inventory_create_for_product(
        product_id=product_id, product_name="好吃的苹果", product_version=1
    )
    inventory.remaining = remaining
    inventory.save()
    return product_id


def remaining(product_id: str) -> int:
    return Inventory.objects.get(product_id=product_id).remaining


def events(event_type: str, aggregate_id: str) -> list[dict]:
    rows = OutboxEvent.objects.filter(event_type=event_type, aggregate_id=aggregate_id)
    return [row.payload["data"] for row in rows.order_by("id")]


def test_a_release_puts_the_stock_back_once_however_often_it_comes() -> None:
    apple = stocked(10)
    order_id = uuid.uuid4().hex
    stock_reserve_for_order(order_id=order_id, items=[(apple, 3)])

    for _ in range(2):
        stock_release_for_order(order_id=order_id, order_version=2, order_items=[(apple, 3)])

    assert remaining(apple) == 10
    assert events("StockReleasedEvent", order_id) == [
        {"orderId": order_id, "items": [{"productId": apple, "count": 3}]}
    ]
    inventory_id = Inventory.objects.get(product_id=apple).id.hex
    changes = events("InventoryChangedEvent", inventory_id)
    assert [(change["change"], change["remaining"]) for change in changes] == [(-3, 7), (3, 10)]


def test_a_reservation_coming_twice_takes_the_stock_once() -> None:
    apple = stocked(10)
    order_id = uuid.uuid4().hex
    first = stock_reserve_for_order(order_id=order_id, items=[(apple, 3)])

    again = stock_reserve_for_order(order_id=order_id, items=[(apple, 3)])

    assert again == first
    assert again.status == ReservationStatus.RESERVED
    assert remaining(apple) == 7
    assert len(events("StockReservedEvent", order_id)) == 1
    inventory_id = Inventory.objects.get(product_id=apple).id.hex
    assert len(events("InventoryChangedEvent", inventory_id)) == 1


def test_a_release_before_the_reservation_makes_the_order_reserve_nothing() -> None:
    apple = stocked(10)
    order_id = uuid.uuid4().hex

    stock_release_for_order(order_id=order_id, order_version=2, order_items=[(apple, 3)])
    stock_reserve_for_order(order_id=order_id, items=[(apple, 3)])

    assert remaining(apple) == 10
    assert StockReservation.objects.get(pk=order_id).status == ReservationStatus.CANCELLED
    assert events("StockReleasedEvent", order_id) == [{"orderId": order_id, "items": []}]
    assert events("StockReservedEvent", order_id) == []


def test_a_release_after_adjustments_puts_back_what_is_held_then() -> None:
    apple, pear = stocked(10), stocked(10)
    order_id = uuid.uuid4().hex
    stock_reserve_for_order(order_id=order_id, items=[(apple, 2), (pear, 2)])

    stock_reservation_adjust(
        order_id=order_id, order_version=3, change_id="a", product_id=apple, count=6
    )
    stock_reservation_adjust(
        order_id=order_id, order_version=5, change_id="b", product_id=pear, count=1
    )
    assert (remaining(apple), remaining(pear)) == (4, 9)
    stock_release_for_order(order_id=order_id, order_version=7, order_items=[(apple, 2), (pear, 2)])

    assert (remaining(apple), remaining(pear)) == (10, 10)
    [released] = events("StockReleasedEvent", order_id)
    assert {(item["productId"], item["count"]) for item in released["items"]} == {
        (apple, 6),
        (pear, 1),
    }


def test_an_adjustment_beyond_the_stock_is_refused_and_takes_nothing() -> None:
    apple = stocked(5)
    order_id = uuid.uuid4().hex
    stock_reserve_for_order(order_id=order_id, items=[(apple, 2)])

    stock_reservation_adjust(
        order_id=order_id, order_version=3, change_id="a", product_id=apple, count=6
    )

    assert remaining(apple) == 3
    assert StockReservation.objects.get(pk=order_id).held == {apple: 2}
    assert events("StockReservationAdjustmentRejectedEvent", order_id) == [
        {
            "orderId": order_id,
            "changeId": "a",
            "productId": apple,
            "count": 6,
            "reason": "好吃的苹果: 4 more wanted, 3 remain.",
        }
    ]


def test_an_adjustment_that_meets_its_cancelled_order_changes_nothing() -> None:
    apple = stocked(10)
    order_id = uuid.uuid4().hex
    stock_reserve_for_order(order_id=order_id, items=[(apple, 2)])
    stock_release_for_order(order_id=order_id, order_version=4, order_items=[(apple, 2)])

    stock_reservation_adjust(
        order_id=order_id, order_version=3, change_id="a", product_id=apple, count=6
    )

    assert remaining(apple) == 10
    assert events("StockReservationAdjustedEvent", order_id) == []
    assert events("StockReservationAdjustmentRejectedEvent", order_id) == []
