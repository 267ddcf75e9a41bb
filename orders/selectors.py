"""Reads of orders and of the order read model."""
from django.db.models import QuerySet

from orders.models import Order, OrderSummary


def order_list() -> QuerySet[Order]:
    return Order.objects.prefetch_related("items")


def order_get(*, order_id: str) -> Order:
    """The order with its items, or `Order.DoesNotExist`."""
    return order_list().get(pk=order_id)


def order_summary_list() -> QuerySet[OrderSummary]:
    return OrderSummary.objects.all()


def order_summary_get(*, order_id: str) -> OrderSummary:
    """The read model row of an order, or `OrderSummary.DoesNotExist`."""
    return OrderSummary.objects.get(pk=order_id)
