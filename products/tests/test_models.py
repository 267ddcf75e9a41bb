"""Unit tests of the Product aggregate: no database, no broker."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from products.events import ProductCreatedEvent, ProductNameChangedEvent
from products.models import Product


def new_product() -> Product:
    product = Product.create(name="Apple", description="Fresh", price=Decimal("10.00"))
    product.collect_events()
    return product


def test_creating_a_product_raises_product_created_with_its_data() -> None:
    product = Product.create(name="Apple", description="Fresh", price=Decimal("10.00"))

    [event] = product.collect_events()

    assert isinstance(event, ProductCreatedEvent)
    assert (event.name, event.description, event.price) == ("Apple", "Fresh", Decimal("10.00"))
    assert event.aggregate_id == product.id.hex
    assert event.aggregate_version == 1
    assert product.inventory == 0


def test_renaming_carries_old_and_new_name_and_bumps_the_version() -> None:
    product = new_product()

    product.rename("Red apple")

    [event] = product.collect_events()
    assert isinstance(event, ProductNameChangedEvent)
    assert (event.old_name, event.new_name) == ("Apple", "Red apple")
    assert event.aggregate_version == 2
    assert event.data() == {"oldName": "Apple", "newName": "Red apple"}


def test_renaming_to_the_same_name_raises_nothing() -> None:
    product = new_product()

    product.rename("Apple")

    assert product.collect_events() == []


@pytest.mark.parametrize("price", [Decimal("0"), Decimal("-1")])
def test_a_price_must_be_positive(price: Decimal) -> None:
    with pytest.raises(ValidationError, match="greater than zero"):
        Product.create(name="Apple", description="", price=price)


def test_a_stale_inventory_event_never_overwrites_a_newer_one() -> None:
    product = new_product()

    assert product.sync_inventory(remaining=8, inventory_version=3)
    assert not product.sync_inventory(remaining=10, inventory_version=2)

    assert product.inventory == 8
    assert product.collect_events() == []
