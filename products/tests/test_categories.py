"""Unit tests of the Category aggregate and of a product's category: no database, no broker."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from products.events import (
    CategoryCreatedEvent,
    ProductCategoryChangedEvent,
    ProductCreatedEvent,
)
from products.models import Category, Product


def new_category(name: str = "Fruit") -> Category:
    category = Category.create(name=name)
    category.collect_events()
    return category


def test_creating_a_category_raises_category_created_on_the_product_exchange() -> None:
    category = Category.create(name="Fruit")

    [event] = category.collect_events()

    assert isinstance(event, CategoryCreatedEvent)
    assert (event.service, event.aggregate_type) == ("product", "Category")
    assert (event.aggregate_id, event.aggregate_version) == (category.id.hex, 1)
    assert event.data() == {"name": "Fruit"}


@pytest.mark.parametrize("name", ["", "   "])
def test_a_category_needs_a_name(name: str) -> None:
    with pytest.raises(ValidationError, match="A category needs a name"):
        Category.create(name=name)


def test_a_product_created_in_a_category_names_it_in_its_event() -> None:
    category = new_category()

    product = Product.create(
        name="Apple", description="", price=Decimal("10.00"), category=category
    )

    [event] = product.collect_events()
    assert isinstance(event, ProductCreatedEvent)
    assert product.category_id == category.id
    assert event.data() == {
        "name": "Apple",
        "description": "",
        "price": "10.00",
        "categoryId": category.id.hex,
    }


def test_a_product_may_be_in_no_category() -> None:
    product = Product.create(name="Apple", description="", price=Decimal("10.00"))

    [event] = product.collect_events()
    assert product.category_id is None
    assert event.data()["categoryId"] is None


def test_moving_a_product_carries_the_old_and_the_new_category() -> None:
    fruit, apples = new_category("Fruit"), new_category("Apples")
    product = Product.create(name="Apple", description="", price=Decimal("10"), category=fruit)
    product.collect_events()

    product.move_to_category(apples)

    [event] = product.collect_events()
    assert isinstance(event, ProductCategoryChangedEvent)
    assert product.category_id == apples.id
    assert event.aggregate_version == 2
    assert event.data() == {"oldCategoryId": fruit.id.hex, "newCategoryId": apples.id.hex}


def test_moving_a_product_out_of_no_category_has_no_old_one() -> None:
    product = Product.create(name="Apple", description="", price=Decimal("10"))
    product.collect_events()

    product.move_to_category(new_category())

    [event] = product.collect_events()
    assert isinstance(event, ProductCategoryChangedEvent)
    assert event.old_category_id is None


def test_moving_a_product_to_its_own_category_raises_nothing() -> None:
    fruit = new_category()
    product = Product.create(name="Apple", description="", price=Decimal("10"), category=fruit)
    product.collect_events()

    product.move_to_category(fruit)

    assert product.collect_events() == []
    assert product.version == 1
