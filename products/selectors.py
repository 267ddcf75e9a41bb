"""Reads of products and categories."""

from django.db.models import QuerySet

from products.models import Category, Product


def product_list(*, category_id: str | None = None) -> QuerySet[Product]:
    products = Product.objects.all()
    if category_id is not None:
        products = products.filter(category_id=category_id)
    return products


def product_get(*, product_id: str) -> Product:
    """The product, or `Product.DoesNotExist`."""
    return Product.objects.get(pk=product_id)


def category_list() -> QuerySet[Category]:
    return Category.objects.all()


def category_get(*, category_id: str) -> Category:
    """The category, or `Category.DoesNotExist`."""
    return Category.objects.get(pk=category_id)
