"""Unit tests of the Inventory aggregate: no database, no broker."""
import uuid

import pytest
from django.core.exceptions import ValidationError

from inventory.events import InventoryChangedEvent
from inventory.models import InsufficientStock, Inventory


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
