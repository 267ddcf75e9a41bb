"""Commands on inventories."""

from collections.abc import Iterable

from django.db import router, transaction

from inventory.models import Inventory, StockReservation
from outbox.core import store

# Every command runs in one transaction on the inventory context's own database.
DATABASE = router.db_for_write(Inventory)


def inventory_create_for_product(
    *, product_id: str, product_name: str, product_version: int
) -> Inventory:
    """Create the empty inventory of a new product (once: a product has one inventory, and a
    second creation returns it unchanged)."""
    inventory = Inventory.create_for_product(
        product_id=product_id, product_name=product_name, product_version=product_version
    )
    if not store.save_new(inventory):
        return Inventory.objects.get(product_id=product_id)
    return inventory


@transaction.atomic(using=DATABASE)
def inventory_increase(*, inventory_id: str, number: int) -> Inventory:
    inventory = Inventory.objects.select_for_update().get(pk=inventory_id)
    inventory.increase(number)
    store.save(inventory)
    return inventory


@transaction.atomic(using=DATABASE)
def inventory_decrease(*, inventory_id: str, number: int) -> Inventory:
    inventory = Inventory.objects.select_for_update().get(pk=inventory_id)
    inventory.decrease(number)
    store.save(inventory)
    return inventory


@transaction.atomic(using=DATABASE)
def inventory_sync_product_name(*, product_id: str, name: str, product_version: int) -> None:
    """Keep the copy of the product's name; a rename that outruns the product's creation
    fails with `Inventory.DoesNotExist`, so it is retried once the inventory exists."""
    inventory = Inventory.objects.select_for_update().get(product_id=product_id)
    if inventory.sync_product_name(name=name, product_version=product_version):
        store.save(inventory)


@transaction.atomic(using=DATABASE)
def stock_reserve_for_order(*, order_id: str, items: Iterable[tuple[str, int]]) -> StockReservation:
    """Take every item of an order out of stock, or refuse the order; once per order.

    The reservation is inserted unless the order has its answer already (a redelivered
    creation, or a cancellation that outran it); then the inventories' changes, made only in
    memory so far, are dropped, and the existing answer is returned.
    """
    wanted = _units_by_product(items)
    inventories = _locked_inventories(wanted)
    reservation = StockReservation.for_order(
        order_id=order_id, wanted=wanted, inventories=inventories
    )
    if not store.save_new(reservation):
        return StockReservation.objects.get(pk=order_id)
    _save_changed(inventories.values())
    return reservation


@transaction.atomic(using=DATABASE)
def stock_release_for_order(
    *, order_id: str, order_version: int, order_items: Iterable[tuple[str, int]]
) -> StockReservation:
    """Put back what is reserved for a cancelled order (the stock saga's compensation), once.

    A cancellation that outruns the order's creation is recorded as the order's answer, so
    that the creation, arriving later, reserves nothing. `order_items` serves only a
    reservation made before the held units were recorded.
    """
    reservation = StockReservation.objects.select_for_update().filter(pk=order_id).first()
    if reservation is None:
        reservation = StockReservation.cancelled_before_reservation(
            order_id=order_id, order_version=order_version
        )
        store.save(reservation)
        return reservation
    units_ordered = _units_by_product(order_items)
    inventories = _locked_inventories(reservation.holdings(units_ordered))
    reservation.release(
        order_version=order_version, order_items=units_ordered, inventories=inventories
    )
    _save_changed(inventories.values())
    store.save(reservation)
    return reservation


@transaction.atomic(using=DATABASE)
def stock_reservation_adjust(
    *, order_id: str, order_version: int, change_id: str, product_id: str, count: int
) -> StockReservation:
    """Hold `count` units of one product for an order, or refuse with the reason. A change
    follows the order's confirmation, so the reservation exists; until it is found the
    change fails with `StockReservation.DoesNotExist` and is retried."""
    reservation = StockReservation.objects.select_for_update().get(pk=order_id)
    inventory = _locked_inventories([product_id]).get(product_id)
    reservation.adjust(
        order_version=order_version,
        change_id=change_id,
        product_id=product_id,
        count=count,
        inventory=inventory,
    )
    _save_changed([inventory] if inventory is not None else [])
    store.save(reservation)
    return reservation


def _units_by_product(items: Iterable[tuple[str, int]]) -> dict[str, int]:
    units: dict[str, int] = {}
    for product_id, count in items:
        units[product_id] = units.get(product_id, 0) + count
    return units


def _locked_inventories(product_ids: Iterable[str]) -> dict[str, Inventory]:
    """The inventories of these products, locked in product order as every command does, so
    that two of them never wait on each other."""
    locked = (
        Inventory.objects.select_for_update()
        .filter(product_id__in=list(product_ids))
        .order_by("product_id")
    )
    return {inventory.product_id.hex: inventory for inventory in locked}


def _save_changed(inventories: Iterable[Inventory]) -> None:
    for inventory in inventories:
        if inventory.pending_events:
            store.save(inventory)
