"""Unit tests of the Inventory aggregate: no database, no broker."""

import uuid

import pytest
from django.core.exceptions import ValidationError

from inventory.events import (
    InventoryChangedEvent,
    StockReservationRejectedEvent,
    StockReservedEvent,
)
from inventory.models import InsufficientStock, Inventory, ReservationStatus, StockReservation


def new_inventory(remaining: int = 0) -> Inventory:
    inventory = Inventory.create_for_product(
        product_id=uuid.uuid4().hex, product_name="Apple", product_version=1
    )
    inventory.remaining = remaining
    inventory.collect_events()
    return inventory


def test_increasing_raises_inventory_changed_with_the_new_remaining() -> None:
    inventory = new_inventory()

    inventory.increase(10)

    [event] = inventory.collect_events()
    assert isinstance(event, InventoryChangedEvent)
    assert (event.remaining, event.change) == (10, 10)
    assert event.product_id == inventory.product_id.hex


def test_decreasing_below_zero_is_refused_and_changes_nothing() -> None:
    inventory = new_inventory(remaining=3)

    with pytest.raises(InsufficientStock, match="only 3 remain"):
        inventory.decrease(4)

    assert inventory.remaining == 3
    assert inventory.collect_events() == []


@pytest.mark.parametrize("number", [0, -5])
def test_counts_must_be_positive(number: int) -> None:
    inventory = new_inventory(remaining=3)

    with pytest.raises(ValidationError):
        inventory.increase(number)
    with pytest.raises(ValidationError):
        inventory.decrease(number)


def test_product_name_copy_ignores_older_product_events() -> None:
    inventory = new_inventory()

    assert inventory.sync_product_name(name="Red apple", product_version=3)
    assert not inventory.sync_product_name(name="Green apple", product_version=2)

    assert inventory.product_name == "Red apple"


def test_a_reservation_takes_every_item_out_of_stock() -> None:
    apples, pears = new_inventory(remaining=5), new_inventory(remaining=2)
    order_id = uuid.uuid4().hex

    reservation = StockReservation.for_order(
        order_id=order_id,
        wanted={apples.product_id.hex: 3, pears.product_id.hex: 2},
        inventories={apples.product_id.hex: apples, pears.product_id.hex: pears},
    )

    assert reservation.status == ReservationStatus.RESERVED
    assert (apples.remaining, pears.remaining) == (2, 0)
    [event] = reservation.collect_events()
    assert isinstance(event, StockReservedEvent) and event.order_id == order_id


def test_a_reservation_that_one_item_cannot_cover_takes_nothing() -> None:
    apples, pears = new_inventory(remaining=5), new_inventory(remaining=1)
    unknown = uuid.uuid4().hex

    reservation = StockReservation.for_order(
        order_id=uuid.uuid4().hex,
        wanted={apples.product_id.hex: 3, pears.product_id.hex: 2, unknown: 1},
        inventories={apples.product_id.hex: apples, pears.product_id.hex: pears},
    )

    assert reservation.status == ReservationStatus.REJECTED
    assert (apples.remaining, pears.remaining) == (5, 1)
    assert apples.collect_events() == [] and pears.collect_events() == []
    [event] = reservation.collect_events()
    assert isinstance(event, StockReservationRejectedEvent)
    assert "2 wanted, 1 remain" in event.reason and f"{unknown} has no inventory" in event.reason
