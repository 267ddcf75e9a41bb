"""Commands on products."""

from decimal import Decimal

from django.db import router, transaction

from outbox import store
from products.models import Product

# Every command runs in one transaction on the product context's own database.
DATABASE = router.db_for_write(Product)


def product_create(*, name: str, description: str, price: Decimal) -> Product:
    product = Product.create(name=name, description=description, price=price)
    store.save(product)
    return product


@transaction.atomic(using=DATABASE)
def product_rename(*, product_id: str, new_name: str) -> Product:
    product = Product.objects.select_for_update().get(pk=product_id)
    product.rename(new_name)
    store.save(product)
    return product


@transaction.atomic(using=DATABASE)
def product_change_price(*, product_id: str, new_price: Decimal) -> Product:
    product = Product.objects.select_for_update().get(pk=product_id)
    product.change_price(new_price)
    store.save(product)
    return product


@transaction.atomic(using=DATABASE)
def product_sync_inventory(*, product_id: str, remaining: int, inventory_version: int) -> None:
    """Keep the local copy of a product's stock; an older inventory event changes nothing."""
    product = Product.objects.select_for_update().get(pk=product_id)
    if product.sync_inventory(remaining=remaining, inventory_version=inventory_version):
        store.save(product)
