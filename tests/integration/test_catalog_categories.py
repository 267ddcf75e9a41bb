"""The order context's catalog copy learns categories from product events, in any order of
arrival: messages handled by the real consumer code on real PostgreSQL, without a broker."""

import json
import uuid
from decimal import Decimal

import pytest
from django.test import Client
from rest_framework.test import APIClient

from orders.models import CatalogCategory, CatalogProduct
from orders.selectors import catalog_product_list
from outbox.core.cloudevents import MalformedEvent
from outbox.core.consumer import Outcome
from outbox.core.registry import get_service
from outbox.models import OutboxEvent
from products.services import category_create, product_create, product_move_to_category
from tests.consuming import deliver as handle

pytestmark = pytest.mark.django_db(transaction=True)


def body_of(event_type: str, aggregate_id: uuid.UUID, version: int = 1) -> bytes:
    """The message the relay would publish for an event in the outbox."""
    row = OutboxEvent.objects.get(
        event_type=event_type, aggregate_id=aggregate_id.hex, aggregate_version=version
    )
    return json.dumps(row.payload).encode()


def deliver(*bodies: bytes) -> list[Outcome | Exception]:
    """The order consumer's outcomes for the messages, as the worker hands them over."""
    return handle(get_service("order"), bodies)


def category(name: str) -> tuple[uuid.UUID, bytes]:
    """A new category's id and its CategoryCreatedEvent."""
    created = category_create(name=name)
    return created.id, body_of("CategoryCreatedEvent", created.id)


def product(category_id: uuid.UUID | None = None) -> tuple[uuid.UUID, bytes]:
    """A new product's id and its ProductCreatedEvent."""
    created = product_create(
        name="Apple",
        description="",
        price=Decimal("10"),
        category_id=category_id.hex if category_id else None,
    )
    return created.id, body_of("ProductCreatedEvent", created.id)


def move(product_id: uuid.UUID, category_id: uuid.UUID, version: int) -> bytes:
    """Move a product to a category; its ProductCategoryChangedEvent."""
    product_move_to_category(product_id=product_id.hex, category_id=category_id.hex)
    return body_of("ProductCategoryChangedEvent", product_id, version)


def catalog_entry(product_id: uuid.UUID) -> tuple[uuid.UUID | None, str | None]:
    """The category id and name that the catalog copy shows for a product."""
    entry = catalog_product_list().get(product_id=product_id)
    return entry.category_id, entry.category_name


def test_a_category_then_a_product_in_it() -> None:
    fruit, fruit_created = category("Fruit")
    apple, apple_created = product(fruit)

    assert deliver(fruit_created, apple_created) == [Outcome.HANDLED, Outcome.HANDLED]

    assert catalog_entry(apple) == (fruit, "Fruit")


def test_a_product_that_arrives_before_its_category_gets_its_name_when_it_arrives() -> None:
    fruit, fruit_created = category("Fruit")
    apple, apple_created = product(fruit)

    deliver(apple_created)
    assert catalog_entry(apple) == (fruit, None)
    deliver(fruit_created)

    assert catalog_entry(apple) == (fruit, "Fruit")


def test_a_product_without_a_category_and_one_from_before_categories() -> None:
    apple, apple_created = product()
    pear, pear_created = product()
    document = json.loads(pear_created)
    del document["data"]["categoryId"]

    assert deliver(apple_created, json.dumps(document).encode()) == [Outcome.HANDLED] * 2

    assert catalog_entry(apple) == (None, None)
    assert catalog_entry(pear) == (None, None)


def test_a_move_follows_the_product_and_a_stale_one_changes_nothing() -> None:
    (fruit, fruit_created), (apples, apples_created) = category("Fruit"), category("Apples")
    red, red_created = category("Red apples")
    apple, apple_created = product(fruit)
    to_apples, to_red = move(apple, apples, version=2), move(apple, red, version=3)

    deliver(fruit_created, apples_created, red_created, apple_created, to_red)
    assert deliver(to_apples) == [Outcome.HANDLED]

    assert catalog_entry(apple) == (red, "Red apples")
    assert CatalogProduct.objects.get().category_version == 3


def test_a_move_that_outruns_the_products_creation_fails_to_be_retried() -> None:
    fruit, _ = category("Fruit")
    apple, apple_created = product()
    to_fruit = move(apple, fruit, version=2)

    [outcome] = deliver(to_fruit)
    assert isinstance(outcome, CatalogProduct.DoesNotExist)
    assert deliver(apple_created, to_fruit) == [Outcome.HANDLED, Outcome.HANDLED]

    assert catalog_entry(apple) == (fruit, None)


def test_a_category_delivered_twice_is_learnt_once() -> None:
    _, fruit_created = category("Fruit")

    assert deliver(fruit_created, fruit_created) == [Outcome.HANDLED, Outcome.DUPLICATE]

    assert list(CatalogCategory.objects.values_list("name", flat=True)) == ["Fruit"]


def test_a_category_id_that_is_no_id_is_a_malformed_event() -> None:
    _, apple_created = product()
    document = json.loads(apple_created)
    document["data"]["categoryId"] = "fruit"

    [outcome] = deliver(json.dumps(document).encode())

    assert isinstance(outcome, MalformedEvent)
    assert "data.categoryId is not an id" in str(outcome)

    assert not CatalogProduct.objects.exists()


def test_the_catalog_copy_lists_the_products_of_a_category() -> None:
    (fruit, fruit_created), (bread, bread_created) = category("Fruit"), category("Bread")
    (apple, apple_created), (_, baguette_created) = product(fruit), product(bread)
    deliver(fruit_created, bread_created, apple_created, baguette_created)

    [entry] = catalog_product_list(category_id=fruit.hex)

    assert (entry.product_id, entry.category_name) == (apple, "Fruit")


def test_the_admin_shows_the_category_copy_but_cannot_change_it(admin_client: Client) -> None:
    fruit, fruit_created = category("Fruit")
    deliver(fruit_created)
    page = "/admin/orders/catalogcategory/"

    assert "Fruit" in admin_client.get(page).content.decode()
    assert admin_client.get(f"{page}add/").status_code == 403
    admin_client.post(f"{page}{fruit.hex}/change/", {"name": "Forged"})
    assert CatalogCategory.objects.get().name == "Fruit"


def test_the_catalog_lists_what_an_order_may_name_at_its_current_price_by_category() -> None:
    fruit, fruit_created = category("Fruit")
    apple, apple_created = product(fruit)
    pear, pear_created = product()
    deliver(fruit_created, apple_created, pear_created)
    client = APIClient()

    everything = client.get("/catalog").json()["results"]
    in_fruit = client.get("/catalog", {"categoryId": fruit.hex}).json()["results"]
    malformed = client.get("/catalog", {"categoryId": "fruit"})

    assert {entry["productId"] for entry in everything} == {apple.hex, pear.hex}
    assert in_fruit == [
        {
            "productId": apple.hex,
            "name": "Apple",
            "price": 10.0,
            "categoryId": fruit.hex,
            "categoryName": "Fruit",
        }
    ]
    assert (malformed.status_code, list(malformed.json()["errors"])) == (400, ["categoryId"])
