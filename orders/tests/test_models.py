"""Unit tests of the Order aggregate: no database, no broker."""

import uuid
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from orders.events import Address, OrderAddressChangedEvent, OrderCreatedEvent, OrderLine
from orders.models import Order, OrderStatus
from outbox.aggregates import StateConflict

ADDRESS = Address(province="四川", city="成都", detail="天府软件园1号")


def line(count: int = 2, price: str = "10") -> OrderLine:
    return OrderLine(product_id=uuid.uuid4().hex, count=count, item_price=Decimal(price))


def test_an_order_totals_its_lines_and_raises_order_created() -> None:
    first, second = line(2, "10"), line(1, "5.50")

    order = Order.create(customer_id=1, lines=[first, second], address=ADDRESS)

    [event] = order.collect_events()
    assert isinstance(event, OrderCreatedEvent)
    assert order.total_price == Decimal("25.50")
    assert event.data()["items"][0] == {
        "productId": first.product_id,
        "count": 2,
        "itemPrice": "10",
    }
    assert event.data()["address"]["detail"] == "天府软件园1号"


def test_an_order_needs_at_least_one_item() -> None:
    with pytest.raises(ValidationError, match="at least one item"):
        Order.create(customer_id=1, lines=[], address=ADDRESS)


@pytest.mark.parametrize(("count", "price"), [(0, "10"), (-1, "10"), (1, "0")])
def test_counts_and_prices_must_be_positive(count: int, price: str) -> None:
    with pytest.raises(ValidationError):
        Order.create(customer_id=1, lines=[line(count, price)], address=ADDRESS)


def test_the_address_detail_changes_until_the_order_is_paid() -> None:
    order = Order.create(customer_id=1, lines=[line()], address=ADDRESS)
    order.change_address_detail("天府软件园2号")
    order.confirm()
    order.pay(Decimal("20"))

    with pytest.raises(StateConflict, match="paid"):
        order.change_address_detail("天府软件园3号")

    created, changed, confirmed, paid = order.collect_events()
    assert isinstance(changed, OrderAddressChangedEvent)
    assert (changed.old_detail, changed.new_detail) == ("天府软件园1号", "天府软件园2号")
    assert order.status == OrderStatus.PAID
    assert [e.aggregate_version for e in (created, changed, confirmed, paid)] == [1, 2, 3, 4]


def test_an_order_is_paid_only_once_confirmed() -> None:
    order = Order.create(customer_id=1, lines=[line()], address=ADDRESS)

    with pytest.raises(StateConflict, match="still being reserved"):
        order.pay(Decimal("20"))


def test_a_payment_must_match_the_total() -> None:
    order = Order.create(customer_id=1, lines=[line()], address=ADDRESS)
    order.confirm()

    with pytest.raises(ValidationError, match="total price 20"):
        order.pay(Decimal("19.99"))

    assert order.status == OrderStatus.CONFIRMED


def test_a_rejected_order_can_be_neither_paid_nor_redirected() -> None:
    order = Order.create(customer_id=1, lines=[line()], address=ADDRESS)

    order.reject("Apple: 2 wanted, 1 remain.")
    order.reject("Apple: 2 wanted, 1 remain.")

    assert order.status == OrderStatus.REJECTED
    assert [type(event).__name__ for event in order.collect_events()] == [
        "OrderCreatedEvent",
        "OrderRejectedEvent",
    ]
    with pytest.raises(StateConflict, match="rejected: Apple"):
        order.pay(Decimal("20"))
    with pytest.raises(StateConflict, match="rejected"):
        order.change_address_detail("elsewhere")


def test_a_confirmed_order_cannot_be_rejected() -> None:
    order = Order.create(customer_id=1, lines=[line()], address=ADDRESS)
    order.confirm()

    with pytest.raises(StateConflict, match="confirmed order cannot be rejected"):
        order.reject("too late")
