"""Reads of orders and of the order read model: a customer sees only their own."""

from django.db.models import OuterRef, QuerySet, Subquery, Sum

from orders.models import (
    CatalogCategory,
    CatalogProduct,
    Coupon,
    LoyaltyPoints,
    Order,
    OrderSummary,
)


def order_list(*, customer_id: int) -> QuerySet[Order]:
    return Order.objects.filter(customer_id=customer_id).prefetch_related("items")


def order_get(*, order_id: str, customer_id: int) -> Order:
    """The customer's order with its items, or `Order.DoesNotExist`."""
    return order_list(customer_id=customer_id).get(pk=order_id)


def order_summary_list(*, customer_id: int) -> QuerySet[OrderSummary]:
    return OrderSummary.objects.filter(customer_id=customer_id)


def order_summary_get(*, order_id: str, customer_id: int) -> OrderSummary:
    """The read model row of the customer's order, or `OrderSummary.DoesNotExist`."""
    return order_summary_list(customer_id=customer_id).get(pk=order_id)


def loyalty_points_balance(*, customer_id: int) -> int:
    """The points a customer has earned with all their orders."""
    earned = LoyaltyPoints.objects.filter(customer_id=customer_id).aggregate(total=Sum("points"))
    return earned["total"] or 0


def coupon_list(*, customer_id: int) -> QuerySet[Coupon]:
    return Coupon.objects.filter(customer_id=customer_id)


def catalog_product_list(*, category_id: str | None = None) -> QuerySet[CatalogProduct]:
    """The products orders may name, each with `category_name`: None while the product is in
    no category, or in one whose event has not arrived yet."""
    names = CatalogCategory.objects.filter(category_id=OuterRef("category_id")).values("name")
    products = CatalogProduct.objects.annotate(category_name=Subquery(names)).order_by("name")
    if category_id is not None:
        products = products.filter(category_id=category_id)
    return products
