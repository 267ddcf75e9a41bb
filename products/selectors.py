"""Reads of products."""

from django.db.models import QuerySet

from products.models import Product


def product_list() -> QuerySet[Product]:
    return Product.objects.all()


def product_get(*, product_id: str) -> Product:
    """The product, or `Product.DoesNotExist`."""
    return Product.objects.get(pk=product_id)
