"""Unit tests of releasing and adjusting a stock reservation: no database, no broker."""

import uuid

from inventory.events import (
    InventoryChangedEvent,
    StockReleasedEvent,
    StockReservationAdjustedEvent,
    StockReservationAdjustmentRejectedEvent,
)
from inventory.models import Inventory, ReservationStatus, StockReservation


def new_inventory(remaining: int, name: str = "Apple") -> Inventory:
    inventory = Inventory.create_for_product(
        product_id=uuid.uuid4().hex, product_name=name, product_version=1
    )
    inventory.remaining = remaining
    inventory.collect_events()
    return inventory


def reserved(wanted: dict[Inventory, int]) -> StockReservation:
    """A reservation of `wanted` units of each inventory, its events already emitted."""
    reservation = StockReservation.for_order(
        order_id=uuid.uuid4().hex,
        wanted={inventory.product_id.hex: count for inventory, count in wanted.items()},
        inventories={inventory.product_id.hex: inventory for inventory in wanted},
    )
    for aggregate in (reservation, *wanted):
        aggregate.collect_events()
    return reservation


def by_product(*inventories: Inventory) -> dict[str, Inventory]:
    return {inventory.product_id.hex: inventory for inventory in inventories}


def test_a_reservation_records_what_it_holds() -> None:
    apples, pears = new_inventory(5), new_inventory(2, "Pear")

    reservation = reserved({apples: 3, pears: 2})

    assert reservation.held == {apples.product_id.hex: 3, pears.product_id.hex: 2}


def test_releasing_puts_back_exactly_what_is_held_once() -> None:
    apples, pears = new_inventory(5), new_inventory(2, "Pear")
    reservation = reserved({apples: 3, pears: 2})

    reservation.release(order_version=2, order_items={}, inventories=by_product(apples, pears))
    reservation.release(order_version=2, order_items={}, inventories=by_product(apples, pears))

    assert (apples.remaining, pears.remaining) == (5, 2)
    assert reservation.status == ReservationStatus.CANCELLED and reservation.held == {}
    [released] = reservation.collect_events()
    assert isinstance(released, StockReleasedEvent)
    assert {(item.product_id, item.count) for item in released.items} == {
        (apples.product_id.hex, 3),
        (pears.product_id.hex, 2),
    }
    [changed] = apples.collect_events()
    assert isinstance(changed, InventoryChangedEvent)
    assert (changed.change, changed.remaining) == (3, 5)


def test_a_refused_reservation_releases_nothing() -> None:
    apples = new_inventory(1)
    reservation = reserved({apples: 3})

    reservation.release(order_version=2, order_items={}, inventories=by_product(apples))

    assert apples.remaining == 1 and apples.collect_events() == []
    [released] = reservation.collect_events()
    assert isinstance(released, StockReleasedEvent)
    assert released.items == ()


def test_a_reservation_made_before_holdings_were_recorded_releases_the_orders_items() -> None:
    apples = new_inventory(5)
    reservation = reserved({apples: 3})
    reservation.held = None

    reservation.release(
        order_version=2, order_items={apples.product_id.hex: 3}, inventories=by_product(apples)
    )

    assert apples.remaining == 5


def test_a_cancellation_before_the_reservation_records_it_cancelled() -> None:
    order_id = uuid.uuid4().hex

    reservation = StockReservation.cancelled_before_reservation(order_id=order_id, order_version=2)

    assert reservation.status == ReservationStatus.CANCELLED
    assert reservation.holdings({uuid.uuid4().hex: 2}) == {}
    [released] = reservation.collect_events()
    assert isinstance(released, StockReleasedEvent)
    assert (released.order_id, released.items) == (order_id, ())


def test_an_adjustment_takes_the_difference_or_puts_it_back() -> None:
    apples = new_inventory(5)
    reservation = reserved({apples: 2})
    product_id = apples.product_id.hex
    assert reservation.held is not None

    reservation.adjust(
        order_version=3, change_id="up", product_id=product_id, count=5, inventory=apples
    )
    assert (apples.remaining, reservation.held[product_id]) == (0, 5)
    reservation.adjust(
        order_version=5, change_id="down", product_id=product_id, count=1, inventory=apples
    )

    assert (apples.remaining, reservation.held[product_id]) == (4, 1)
    up, down = reservation.collect_events()
    assert isinstance(up, StockReservationAdjustedEvent) and (up.change_id, up.count) == ("up", 5)
    assert isinstance(down, StockReservationAdjustedEvent)
    assert (down.change_id, down.count) == ("down", 1)
    taken, put_back = apples.collect_events()
    assert isinstance(taken, InventoryChangedEvent) and isinstance(put_back, InventoryChangedEvent)
    assert (taken.change, put_back.change) == (-3, 4)


def test_an_adjustment_the_stock_cannot_cover_is_refused_with_the_reason() -> None:
    apples = new_inventory(4)
    reservation = reserved({apples: 2})
    assert reservation.held is not None

    reservation.adjust(
        order_version=3, change_id="c", product_id=apples.product_id.hex, count=5, inventory=apples
    )

    assert (apples.remaining, reservation.held[apples.product_id.hex]) == (2, 2)
    [refused] = reservation.collect_events()
    assert isinstance(refused, StockReservationAdjustmentRejectedEvent)
    assert refused.reason == "Apple: 3 more wanted, 2 remain."


def test_an_old_or_late_adjustment_changes_nothing() -> None:
    apples = new_inventory(5)
    reservation = reserved({apples: 2})
    product_id = apples.product_id.hex
    reservation.adjust(
        order_version=3, change_id="c", product_id=product_id, count=3, inventory=apples
    )
    reservation.collect_events(), apples.collect_events()

    reservation.adjust(
        order_version=3, change_id="c", product_id=product_id, count=3, inventory=apples
    )
    reservation.release(order_version=5, order_items={}, inventories=by_product(apples))
    reservation.collect_events(), apples.collect_events()
    reservation.adjust(
        order_version=4, change_id="d", product_id=product_id, count=4, inventory=apples
    )

    assert apples.remaining == 5
    assert reservation.collect_events() == apples.collect_events() == []
