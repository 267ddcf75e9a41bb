"""Reads of inventories."""

from django.db.models import QuerySet

from inventory.models import Inventory


def inventory_list(*, product_id: str | None = None) -> QuerySet[Inventory]:
    inventories = Inventory.objects.all()
    if product_id is not None:
        inventories = inventories.filter(product_id=product_id)
    return inventories


def inventory_get(*, inventory_id: str) -> Inventory:
    """The inventory, or `Inventory.DoesNotExist`."""
    return Inventory.objects.get(pk=inventory_id)
