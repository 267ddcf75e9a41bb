"""Commands on products and categories."""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, router, transaction

from outbox.core import store
from outbox.core.aggregates import StateConflict
from products.models import Category, Product

# Every command runs in one transaction on the product context's own database.
DATABASE = router.db_for_write(Product)


def category_create(*, name: str) -> Category:
    """A new category; 409 when one of that name, whatever its case, exists."""
    category = Category.create(name=name)
    try:
        # A savepoint of its own, so that a caller's transaction survives the refusal.
        with transaction.atomic(using=DATABASE):
            store.save(category)
    except IntegrityError as error:
        if not _violates(error, "category_name_unique"):
            raise
        raise StateConflict(f"A category named {name!r} exists already.") from None
    return category


@transaction.atomic(using=DATABASE)
def product_create(
    *, name: str, description: str, price: Decimal, category_id: str | None = None
) -> Product:
    category = _known_category(category_id) if category_id is not None else None
    product = Product.create(name=name, description=description, price=price, category=category)
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
def product_move_to_category(*, product_id: str, category_id: str) -> Product:
    product = Product.objects.select_for_update().get(pk=product_id)
    product.move_to_category(_known_category(category_id))
    store.save(product)
    return product


@transaction.atomic(using=DATABASE)
def product_sync_inventory(*, product_id: str, remaining: int, inventory_version: int) -> None:
    """Keep the local copy of a product's stock; an older inventory event changes nothing."""
    product = Product.objects.select_for_update().get(pk=product_id)
    if product.sync_inventory(remaining=remaining, inventory_version=inventory_version):
        store.save(product)


def _known_category(category_id: str) -> Category:
    """The category a request names: an unknown one is bad input (400), not a missing page."""
    try:
        return Category.objects.get(pk=category_id)
    except Category.DoesNotExist:
        raise ValidationError({"categoryId": f"Unknown category {category_id}."}) from None


def _violates(error: IntegrityError, constraint: str) -> bool:
    diagnostics = getattr(error.__cause__, "diag", None)
    return getattr(diagnostics, "constraint_name", None) == constraint
