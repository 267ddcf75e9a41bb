"""Commands on inventories."""

from collections.abc import Iterable

from django.db import router, transaction

from inventory.models import Inventory, StockReservation
from outbox import store

# Every command runs in one transaction on the inventory context's own database.
DATABASE = router.db_for_write(Inventory)


def inventory_create_for_product(
    *, product_id: str, product_name: str, product_version: int
) -> Inventory:
    """Create the empty inventory of a new product (once: a product has one inventory)."""
    existing = Inventory.objects.filter(product_id=product_id).first()
    if existing is not None:
        return existing
    inventory = Inventory.create_for_product(
        product_id=product_id, product_name=product_name, product_version=product_version
    )
    store.save(inventory)
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

    Inventories are locked in product order so that two orders never deadlock each other.
    """
    existing = StockReservation.objects.filter(pk=order_id).first()
    if existing is not None:
        return existing
    wanted: dict[str, int] = {}
    for product_id, count in items:
        wanted[product_id] = wanted.get(product_id, 0) + count
    locked = (
        Inventory.objects.select_for_update().filter(product_id__in=wanted).order_by("product_id")
    )
    inventories = {inventory.product_id.hex: inventory for inventory in locked}
    reservation = StockReservation.for_order(
        order_id=order_id, wanted=wanted, inventories=inventories
    )
    for inventory in inventories.values():
        if inventory.pending_events:
            store.save(inventory)
    store.save(reservation)
    return reservation
