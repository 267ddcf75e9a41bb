"""Where each model lives when the contexts have databases of their own."""

from django.contrib.auth.models import User
from django.test import override_settings

from ecommerce.routers import ContextRouter
from orders.models import Order
from outbox.models import OutboxEvent
from products.models import Product

SPLIT = {"products": "products", "inventory": "inventory", "orders": "orders"}
router = ContextRouter()


@override_settings(CONTEXT_DATABASES=SPLIT)
def test_a_context_reads_and_writes_its_own_database_only() -> None:
    assert router.db_for_write(Order) == router.db_for_read(Order) == "orders"
    assert router.db_for_write(Product) == "products"
    assert router.allow_migrate("orders", "orders")
    assert not router.allow_migrate("products", "orders")
    assert not router.allow_migrate("default", "orders")


@override_settings(CONTEXT_DATABASES=SPLIT)
def test_every_context_database_has_an_outbox_and_identity_stays_on_default() -> None:
    assert all(router.allow_migrate(database, "outbox") for database in SPLIT.values())
    assert not router.allow_migrate("default", "outbox")
    # The outbox's rows are always written with a database named by the outbox machinery.
    assert router.db_for_write(OutboxEvent) is None
    assert router.db_for_write(User) is None
    assert router.allow_migrate("default", "auth")
    assert not router.allow_migrate("orders", "auth")


def test_by_default_everything_shares_one_database() -> None:
    assert router.db_for_write(Order) == "default"
    assert router.allow_migrate("default", "outbox")
    assert router.allow_migrate("default", "orders")
