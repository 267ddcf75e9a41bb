"""Integration tests of saving aggregates with their events, on real PostgreSQL."""

import uuid
from decimal import Decimal

import pytest
from django.db import transaction

from inventory.models import Inventory
from outbox.core import store
from outbox.models import OutboxEvent
from products.models import Product
from products.services import product_create, product_rename

pytestmark = pytest.mark.django_db(transaction=True)


class Boom(Exception):
    pass


def test_the_outbox_row_commits_with_the_business_row() -> None:
    product = product_create(name="Apple", description="", price=Decimal("10"))

    row = OutboxEvent.objects.get(aggregate_id=product.id.hex)
    assert row.event_type == "ProductCreatedEvent"
    assert row.service == "product"
    assert row.published_at is None
    assert row.payload["data"]["name"] == "Apple"
    assert row.payload["id"] == row.event_id.hex


def test_a_rollback_leaves_neither_the_business_row_nor_the_event() -> None:
    with pytest.raises(Boom), transaction.atomic():
        product_create(name="Apple", description="", price=Decimal("10"))
        raise Boom

    assert Product.objects.count() == 0
    assert OutboxEvent.objects.count() == 0


def test_events_of_one_aggregate_are_stored_in_the_order_raised() -> None:
    product = product_create(name="Apple", description="", price=Decimal("10"))
    product_rename(product_id=product.id.hex, new_name="Red apple")
    product_rename(product_id=product.id.hex, new_name="Green apple")

    rows = OutboxEvent.objects.filter(aggregate_id=product.id.hex).order_by("id")
    assert [row.aggregate_version for row in rows] == [1, 2, 3]
    assert [row.payload["data"].get("newName") for row in rows] == [
        None,
        "Red apple",
        "Green apple",
    ]


def test_saving_writes_every_field_of_the_row_as_the_orm_would() -> None:
    product = product_create(name="Apple", description="Crisp", price=Decimal("10"))
    product_rename(product_id=product.id.hex, new_name="Red apple")

    stored = Product.objects.get(pk=product.pk)
    assert (stored.name, stored.description, stored.price) == ("Red apple", "Crisp", 10)
    assert (stored.version, stored.created_at) == (2, product.created_at)


def test_an_auto_now_field_is_set_on_each_save() -> None:
    inventory = Inventory.create_for_product(
        product_id=uuid.uuid4().hex, product_name="Apple", product_version=1
    )
    store.save(inventory)
    first = Inventory.objects.get(pk=inventory.pk).updated_at

    inventory.increase(3)
    store.save(inventory)

    stored = Inventory.objects.get(pk=inventory.pk)
    assert (stored.remaining, stored.version) == (3, inventory.version)
    assert stored.updated_at > first


def test_an_aggregate_whose_row_is_gone_is_written_again_as_model_save_does() -> None:
    product = product_create(name="Apple", description="", price=Decimal("10"))
    Product.objects.filter(pk=product.pk).delete()

    product.rename("Red apple")
    store.save(product)

    assert Product.objects.get(pk=product.pk).name == "Red apple"
