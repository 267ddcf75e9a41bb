"""Unit tests of cancelling an order and changing an item's count: no database, no broker."""

import uuid
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from orders.events import (
    Address,
    OrderCancelledEvent,
    OrderItemCountChangedEvent,
    OrderItemCountChangeRefusedEvent,
    OrderItemCountChangeRequestedEvent,
    OrderLine,
)
from orders.models import (
    MAX_ITEM_COUNT,
    CancellationReason,
    CatalogProduct,
    Order,
    OrderItem,
    OrderStatus,
)
from outbox.core.aggregates import StateConflict

ADDRESS = Address(province="四川", city="成都", detail="天府软件园1号")


def placed_order(*counts: int) -> tuple[Order, list[OrderItem]]:
    """An order of one line per count, at 10 each, with the items the service would save."""
    lines = [
        OrderLine(product_id=uuid.uuid4().hex, count=count, item_price=Decimal("10"))
        for count in counts
    ]
    catalog = {
        line.product_id: CatalogProduct(
            product_id=uuid.UUID(line.product_id), name="Apple", price=line.item_price
        )
        for line in lines
    }
    order = Order.create(customer_id=1, lines=lines, address=ADDRESS, catalog=catalog)
    items = [
        OrderItem(
            order=order,
            product_id=uuid.UUID(line.product_id),
            count=line.count,
            item_price=line.item_price,
        )
        for line in lines
    ]
    order.collect_events()
    return order, items


def confirmed_order(*counts: int) -> tuple[Order, list[OrderItem]]:
    order, items = placed_order(*counts)
    order.confirm()
    order.collect_events()
    return order, items


@pytest.mark.parametrize("confirmed", [False, True])
def test_an_unpaid_order_is_cancelled_with_its_lines(confirmed: bool) -> None:
    order, items = confirmed_order(2, 3) if confirmed else placed_order(2, 3)

    order.cancel(items)

    assert (order.status, order.cancellation_reason) == (
        OrderStatus.CANCELLED,
        CancellationReason.CUSTOMER,
    )
    [event] = order.collect_events()
    assert isinstance(event, OrderCancelledEvent)
    assert [(line["productId"], line["count"]) for line in event.data()["items"]] == [
        (items[0].product_id.hex, 2),
        (items[1].product_id.hex, 3),
    ]


def test_an_order_not_paid_in_time_is_cancelled_as_expired_with_the_same_event() -> None:
    by_customer, customer_items = confirmed_order(2)
    expired, expired_items = confirmed_order(2)

    by_customer.cancel(customer_items)
    expired.cancel(expired_items, reason=CancellationReason.EXPIRED)

    assert expired.cancellation_reason == CancellationReason.EXPIRED
    [cancelled_by_customer], [cancelled_as_expired] = (
        by_customer.collect_events(),
        expired.collect_events(),
    )
    assert type(cancelled_as_expired) is type(cancelled_by_customer) is OrderCancelledEvent


def test_cancelling_twice_paid_or_rejected_is_a_conflict() -> None:
    cancelled, items = placed_order(2)
    cancelled.cancel(items)
    paid, paid_items = confirmed_order(2)
    paid.pay(Decimal("20"))
    rejected, rejected_items = placed_order(2)
    rejected.reject("Apple: 2 wanted, 1 remain.")

    with pytest.raises(StateConflict, match="already cancelled"):
        cancelled.cancel(items)
    with pytest.raises(StateConflict, match="paid: it can no longer be cancelled"):
        paid.cancel(paid_items)
    with pytest.raises(StateConflict, match="rejected: Apple"):
        rejected.cancel(rejected_items)


def test_the_inventorys_late_answer_leaves_a_cancelled_order_cancelled() -> None:
    reserved, items = placed_order(2)
    reserved.cancel(items)
    refused, refused_items = placed_order(2)
    refused.cancel(refused_items)
    reserved.collect_events(), refused.collect_events()

    reserved.confirm()
    refused.reject("Apple: 2 wanted, 1 remain.")

    assert (reserved.status, refused.status) == (OrderStatus.CANCELLED, OrderStatus.CANCELLED)
    assert reserved.collect_events() == refused.collect_events() == []


def test_a_cancelled_order_can_be_neither_paid_nor_redirected() -> None:
    order, items = confirmed_order(2)
    order.cancel(items)

    with pytest.raises(StateConflict, match="cancelled"):
        order.pay(Decimal("20"))
    with pytest.raises(StateConflict, match="cancelled"):
        order.change_address_detail("天府软件园2号")


def test_the_stock_release_is_recorded_once() -> None:
    order, items = confirmed_order(2)
    order.cancel(items)

    order.record_stock_released()
    first = order.stock_released_at
    order.record_stock_released()

    assert first is not None and order.stock_released_at == first


def test_a_change_is_pending_until_the_inventory_answers() -> None:
    order, items = confirmed_order(2, 1)
    product_id = items[0].product_id.hex

    order.request_item_count_change(items=items, product_id=product_id, count=5)

    [event] = order.collect_events()
    assert isinstance(event, OrderItemCountChangeRequestedEvent)
    assert (event.product_id, event.new_count) == (product_id, 5)
    assert order.pending_change is not None
    assert order.pending_change.change_id == event.change_id
    assert (items[0].count, order.total_price) == (2, Decimal("30"))


def test_an_applied_change_sets_the_count_and_the_total_at_the_ordered_price() -> None:
    order, items = confirmed_order(2, 1)
    order.request_item_count_change(items=items, product_id=items[0].product_id.hex, count=5)
    assert order.pending_change is not None
    change_id = order.pending_change.change_id

    changed = order.apply_item_count_change(change_id=change_id, items=items)

    assert changed is items[0] and items[0].count == 5
    assert order.total_price == Decimal("60")
    assert order.pending_change is None
    requested, applied = order.collect_events()
    assert isinstance(applied, OrderItemCountChangedEvent)
    assert (applied.old_count, applied.new_count, applied.total_price) == (2, 5, Decimal("60"))


def test_a_change_down_lowers_the_total() -> None:
    order, items = confirmed_order(4)
    order.request_item_count_change(items=items, product_id=items[0].product_id.hex, count=1)

    assert order.pending_change is not None
    order.apply_item_count_change(change_id=order.pending_change.change_id, items=items)

    assert (items[0].count, order.total_price) == (1, Decimal("10"))


def test_a_refused_change_keeps_the_order_and_says_why() -> None:
    order, items = confirmed_order(2)
    order.request_item_count_change(items=items, product_id=items[0].product_id.hex, count=9)
    assert order.pending_change is not None
    change_id = order.pending_change.change_id

    order.refuse_item_count_change(change_id=change_id, reason="Apple: 7 more wanted, 3 remain.")

    assert (items[0].count, order.total_price) == (2, Decimal("20"))
    assert order.pending_change is None
    assert order.change_refusal_reason == "Apple: 7 more wanted, 3 remain."
    assert isinstance(order.collect_events()[-1], OrderItemCountChangeRefusedEvent)


def test_an_answer_to_no_pending_change_changes_nothing() -> None:
    order, items = confirmed_order(2)
    order.request_item_count_change(items=items, product_id=items[0].product_id.hex, count=3)
    assert order.pending_change is not None
    change_id = order.pending_change.change_id
    order.cancel(items)
    order.collect_events()

    assert order.apply_item_count_change(change_id=change_id, items=items) is None
    order.refuse_item_count_change(change_id=change_id, reason="too late")

    assert (items[0].count, order.total_price, order.change_refusal_reason) == (2, 20, "")
    assert order.collect_events() == []


def test_a_change_waits_for_the_confirmation_and_goes_one_at_a_time() -> None:
    created, created_items = placed_order(2)
    order, items = confirmed_order(2)
    product_id = items[0].product_id.hex
    order.request_item_count_change(items=items, product_id=product_id, count=3)

    with pytest.raises(StateConflict, match="still being reserved"):
        created.request_item_count_change(
            items=created_items, product_id=created_items[0].product_id.hex, count=3
        )
    with pytest.raises(StateConflict, match="Another change"):
        order.request_item_count_change(items=items, product_id=product_id, count=4)
    with pytest.raises(StateConflict, match="being changed"):
        order.pay(Decimal("20"))


def test_a_change_of_a_paid_or_cancelled_order_is_a_conflict() -> None:
    paid, paid_items = confirmed_order(2)
    paid.pay(Decimal("20"))
    cancelled, cancelled_items = confirmed_order(2)
    cancelled.cancel(cancelled_items)

    with pytest.raises(StateConflict, match="paid"):
        paid.request_item_count_change(
            items=paid_items, product_id=paid_items[0].product_id.hex, count=3
        )
    with pytest.raises(StateConflict, match="cancelled"):
        cancelled.request_item_count_change(
            items=cancelled_items, product_id=cancelled_items[0].product_id.hex, count=3
        )


def test_a_change_names_a_line_of_the_order_and_a_count_in_bounds() -> None:
    order, items = confirmed_order(2, 1)

    with pytest.raises(ValidationError, match="not an item of this order"):
        order.request_item_count_change(items=items, product_id=uuid.uuid4().hex, count=3)
    with pytest.raises(ValidationError, match="between 1 and"):
        order.request_item_count_change(items=items, product_id=items[0].product_id.hex, count=0)
    with pytest.raises(ValidationError, match="at most"):
        order.request_item_count_change(
            items=items, product_id=items[0].product_id.hex, count=MAX_ITEM_COUNT
        )
    assert order.pending_change is None and order.collect_events() == []


def test_the_same_count_changes_nothing() -> None:
    order, items = confirmed_order(2)

    order.request_item_count_change(items=items, product_id=items[0].product_id.hex, count=2)

    assert order.pending_change is None and order.collect_events() == []
