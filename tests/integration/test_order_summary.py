"""The order read model: the row `order_summary_refresh` derives from the order, on real
PostgreSQL. tests/e2e plays it through the outbox."""

import uuid
from decimal import Decimal

import pytest

from orders.events import Address, OrderLine
from orders.models import CatalogProduct, Order, OrderStatus, OrderSummary
from orders.services import order_confirm, order_create, order_summary_refresh

pytestmark = pytest.mark.django_db

ADDRESS = Address(province="四川", city="成都", detail="天府软件园1号")


def new_order(*counts: int) -> Order:
    lines = []
    for count in counts:
        product_id = uuid.uuid4()
        CatalogProduct.objects.create(
            product_id=product_id, name="Apple", price="2.50", product_version=1
        )
        lines.append(OrderLine(product_id=product_id.hex, count=count, item_price=Decimal("2.50")))
    return order_create(customer_id=7, lines=lines, address=ADDRESS)


def test_a_refresh_writes_the_orders_current_state() -> None:
    order = new_order(2, 3)
    order_summary_refresh(order_id=order.pk.hex)
    order_confirm(order_id=order.pk.hex)

    order_summary_refresh(order_id=order.pk.hex)

    summary = OrderSummary.objects.get(order_id=order.pk)
    order.refresh_from_db()
    assert (summary.status, summary.order_version) == (OrderStatus.CONFIRMED, order.version)
    assert (summary.customer_id, summary.total_price, summary.item_count) == (
        7,
        Decimal("12.50"),
        5,
    )
    assert summary.address == "四川 成都 天府软件园1号"
    assert summary.created_at == order.created_at


def test_a_refresh_that_read_an_older_version_changes_nothing() -> None:
    order = new_order(1)
    order_summary_refresh(order_id=order.pk.hex)
    # As if a refresh that read a later version of the order had committed first.
    OrderSummary.objects.filter(order_id=order.pk).update(
        order_version=order.version + 1, status=OrderStatus.CONFIRMED
    )

    order_summary_refresh(order_id=order.pk.hex)

    summary = OrderSummary.objects.get(order_id=order.pk)
    assert (summary.status, summary.order_version) == (OrderStatus.CONFIRMED, order.version + 1)


def test_a_refresh_of_an_unknown_order_writes_nothing() -> None:
    order_summary_refresh(order_id=uuid.uuid4().hex)

    assert not OrderSummary.objects.exists()
