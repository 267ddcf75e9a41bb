"""Unpaid orders expire, on real PostgreSQL: beat's task cancels an order left unpaid too long
the way its customer would (the same event, for the inventory to put its stock back), says
why, and leaves paid and fresh orders alone. tests/e2e/test_order_expiry.py plays it through
real workers."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.utils import timezone

from orders.events import Address, OrderLine
from orders.models import CancellationReason, CatalogProduct, Order, OrderStatus, OrderSummary
from orders.services import (
    order_cancel,
    order_confirm,
    order_create,
    order_pay,
    order_summary_refresh,
)
from orders.tasks import expire_unpaid_orders
from outbox.models import OutboxEvent

pytestmark = pytest.mark.django_db

ADDRESS = Address(province="四川", city="成都", detail="天府软件园1号")


def new_order(*, minutes_old: float, confirmed: bool = True) -> Order:
    """An order of 2 apples at 10, created `minutes_old` minutes ago."""
    product_id = uuid.uuid4()
    CatalogProduct.objects.create(
        product_id=product_id, name="Apple", price="10", product_version=1
    )
    line = OrderLine(product_id=product_id.hex, count=2, item_price=Decimal("10"))
    order = order_create(customer_id=7, lines=[line], address=ADDRESS)
    if confirmed:
        order_confirm(order_id=order.pk.hex)
    Order.objects.filter(pk=order.pk).update(
        created_at=timezone.now() - timedelta(minutes=minutes_old)
    )
    return Order.objects.get(pk=order.pk)


def cancellations_of(order: Order) -> list[dict]:
    rows = OutboxEvent.objects.filter(aggregate_id=order.pk.hex, event_type="OrderCancelledEvent")
    return [row.payload["data"] for row in rows]


def test_an_order_unpaid_past_the_limit_is_cancelled_as_expired_with_its_lines() -> None:
    limit = settings.ORDERS["UNPAID_EXPIRY_MINUTES"]
    confirmed = new_order(minutes_old=limit + 1)
    still_reserving = new_order(minutes_old=limit + 1, confirmed=False)

    expired = expire_unpaid_orders(service="order")

    assert expired == 2
    for order in (confirmed, still_reserving):
        order.refresh_from_db()
        assert (order.status, order.cancellation_reason) == (
            OrderStatus.CANCELLED,
            CancellationReason.EXPIRED,
        )
        [cancelled] = cancellations_of(order)
        [item] = order.items.all()
        assert [(line["productId"], line["count"]) for line in cancelled["items"]] == [
            (item.product_id.hex, 2)
        ]


def test_paid_fresh_and_already_closed_orders_are_left_alone() -> None:
    limit = settings.ORDERS["UNPAID_EXPIRY_MINUTES"]
    paid = new_order(minutes_old=limit * 10)
    order_pay(order_id=paid.pk.hex, customer_id=7, paid_price=Decimal("20.00"))
    fresh = new_order(minutes_old=limit - 1)
    cancelled = new_order(minutes_old=limit * 10)
    order_cancel(order_id=cancelled.pk.hex, customer_id=7)

    expired = expire_unpaid_orders(service="order")

    assert expired == 0
    statuses = {order.pk: Order.objects.get(pk=order.pk).status for order in (paid, fresh)}
    assert statuses == {paid.pk: OrderStatus.PAID, fresh.pk: OrderStatus.CONFIRMED}
    assert Order.objects.get(pk=cancelled.pk).cancellation_reason == CancellationReason.CUSTOMER
    assert [cancellations_of(order) for order in (paid, fresh)] == [[], []]
    assert len(cancellations_of(cancelled)) == 1


def test_the_read_model_says_why_an_order_was_cancelled() -> None:
    limit = settings.ORDERS["UNPAID_EXPIRY_MINUTES"]
    by_customer = new_order(minutes_old=1)
    order_cancel(order_id=by_customer.pk.hex, customer_id=7)
    not_paid = new_order(minutes_old=limit + 1)
    expire_unpaid_orders(service="order")

    for order in (by_customer, not_paid):
        order_summary_refresh(order_id=order.pk.hex)

    reasons = {
        summary.order_id: (summary.status, summary.cancellation_reason)
        for summary in OrderSummary.objects.all()
    }
    assert reasons == {
        by_customer.pk: (OrderStatus.CANCELLED, CancellationReason.CUSTOMER),
        not_paid.pk: (OrderStatus.CANCELLED, CancellationReason.EXPIRED),
    }
