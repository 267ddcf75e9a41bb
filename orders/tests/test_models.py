"""Unit tests of the Order aggregate: no database, no broker."""

import uuid
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from orders.events import Address, OrderAddressChangedEvent, OrderCreatedEvent, OrderLine
from orders.models import CatalogProduct, Order, OrderStatus, PriceChanged
from outbox.core.aggregates import StateConflict

ADDRESS = Address(province="四川", city="成都", detail="天府软件园1号")


def line(count: int = 2, price: str = "10") -> OrderLine:
    return OrderLine(product_id=uuid.uuid4().hex, count=count, item_price=Decimal(price))


def catalog_of(*lines: OrderLine) -> dict[str, CatalogProduct]:
    """A catalog whose prices are those the lines name."""
    return {
        line.product_id: CatalogProduct(
            product_id=uuid.UUID(line.product_id), name="Apple", price=line.item_price
        )
        for line in lines
    }


def new_order(*lines: OrderLine) -> Order:
    """An order of `lines` (one of 2 x 10 without), at the prices they name."""
    lines = lines or (line(),)
    return Order.create(customer_id=1, lines=lines, address=ADDRESS, catalog=catalog_of(*lines))


def test_an_order_totals_its_lines_and_raises_order_created() -> None:
    first, second = line(2, "10"), line(1, "5.50")

    order = new_order(first, second)

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
        Order.create(customer_id=1, lines=[], address=ADDRESS, catalog={})


@pytest.mark.parametrize(("count", "price"), [(0, "10"), (-1, "10"), (1, "0")])
def test_counts_and_prices_must_be_positive(count: int, price: str) -> None:
    with pytest.raises(ValidationError):
        new_order(line(count, price))


def test_an_order_is_taken_only_at_the_catalogs_current_price() -> None:
    apple, pear = line(2, "10"), line(1, "5")
    catalog = catalog_of(apple, pear)
    catalog[pear.product_id].price = Decimal("6.00")

    with pytest.raises(PriceChanged, match=rf"items\[1\]: Apple \({pear.product_id}\) costs 6.00"):
        Order.create(customer_id=1, lines=[apple, pear], address=ADDRESS, catalog=catalog)


def test_an_order_takes_the_catalogs_price_and_refuses_an_unknown_product() -> None:
    apple, unknown = line(2, "10"), line(1, "5")
    catalog = catalog_of(apple)
    catalog[apple.product_id].price = Decimal("10.00")

    order = Order.create(customer_id=1, lines=[apple], address=ADDRESS, catalog=catalog)
    with pytest.raises(ValidationError, match=f"Unknown product {unknown.product_id}"):
        Order.create(customer_id=1, lines=[apple, unknown], address=ADDRESS, catalog=catalog)

    [event] = order.collect_events()
    assert event.data()["items"][0]["itemPrice"] == "10.00"


def test_the_address_detail_changes_until_the_order_is_paid() -> None:
    order = new_order()
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
    order = new_order()

    with pytest.raises(StateConflict, match="still being reserved"):
        order.pay(Decimal("20"))


def test_a_payment_must_match_the_total() -> None:
    order = new_order()
    order.confirm()

    with pytest.raises(ValidationError, match="total price 20"):
        order.pay(Decimal("19.99"))

    assert order.status == OrderStatus.CONFIRMED


def test_a_rejected_order_can_be_neither_paid_nor_redirected() -> None:
    order = new_order()

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
    order = new_order()
    order.confirm()

    with pytest.raises(StateConflict, match="confirmed order cannot be rejected"):
        order.reject("too late")
