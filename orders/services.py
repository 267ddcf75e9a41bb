"""Commands on orders, and the upkeep of the order read model and the catalog copy."""

from collections.abc import Sequence
from datetime import timedelta
from decimal import ROUND_DOWN, Decimal

from django.conf import settings
from django.db import connections, router, transaction
from django.utils import timezone

from orders.events import Address, OrderLine
from orders.models import (
    UNPAID_STATUSES,
    CancellationReason,
    CatalogCategory,
    CatalogProduct,
    Coupon,
    LoyaltyPoints,
    Order,
    OrderItem,
    OrderSummary,
    TooManyUnpaidOrders,
)
from outbox.core import store
from outbox.core.aggregates import StateConflict

# Every command runs in one transaction on the order context's own database.
DATABASE = router.db_for_write(Order)


@transaction.atomic(using=DATABASE)
def order_create(*, customer_id: int, lines: Sequence[OrderLine], address: Address) -> Order:
    """Take an order at the catalog copy's current prices (`Order.create` says why), unless
    the customer already has ORDERS["MAX_UNPAID_PER_CUSTOMER"] unpaid orders.

    Two orders of one customer taken at the same moment may both pass the cap: it bounds what
    one customer holds, and the order-create throttle bounds how fast they may ask.
    """
    _require_room_for_unpaid_order(customer_id)
    named = CatalogProduct.objects.filter(product_id__in=[line.product_id for line in lines])
    catalog = {product.product_id.hex: product for product in named}
    order = Order.create(customer_id=customer_id, lines=lines, address=address, catalog=catalog)
    store.save(order)
    OrderItem.objects.bulk_create(
        OrderItem(
            order=order,
            product_id=line.product_id,
            count=line.count,
            item_price=line.item_price,
        )
        for line in lines
    )
    return order


@transaction.atomic(using=DATABASE)
def order_change_address_detail(*, order_id: str, customer_id: int, detail: str) -> Order:
    order = Order.objects.select_for_update().get(pk=order_id, customer_id=customer_id)
    order.change_address_detail(detail)
    store.save(order)
    return order


@transaction.atomic(using=DATABASE)
def order_pay(*, order_id: str, customer_id: int, paid_price: Decimal) -> Order:
    order = Order.objects.select_for_update().get(pk=order_id, customer_id=customer_id)
    order.pay(paid_price)
    store.save(order)
    return order


@transaction.atomic(using=DATABASE)
def order_confirm(*, order_id: str) -> None:
    order = Order.objects.select_for_update().get(pk=order_id)
    order.confirm()
    store.save(order)


@transaction.atomic(using=DATABASE)
def order_reject(*, order_id: str, reason: str) -> None:
    order = Order.objects.select_for_update().get(pk=order_id)
    order.reject(reason)
    store.save(order)


def _require_room_for_unpaid_order(customer_id: int) -> None:
    cap = settings.ORDERS["MAX_UNPAID_PER_CUSTOMER"]
    if not cap:
        return
    # Counts no further than the cap: a customer with many open orders costs no more.
    unpaid = Order.objects.filter(customer_id=customer_id, status__in=UNPAID_STATUSES)
    if unpaid[:cap].count() >= cap:
        raise TooManyUnpaidOrders(
            f"You have {cap} unpaid orders, as many as a customer may have: "
            "pay or cancel one before ordering again."
        )


@transaction.atomic(using=DATABASE)
def order_cancel(
    *,
    order_id: str,
    customer_id: int,
    reason: CancellationReason = CancellationReason.CUSTOMER,
) -> Order:
    """Cancel an unpaid order; the inventory then puts back what it reserved for it."""
    order = Order.objects.select_for_update().get(pk=order_id, customer_id=customer_id)
    order.cancel(list(order.items.all()), reason=reason)
    store.save(order)
    return order


def order_expire_unpaid() -> int:
    """Cancel every order left unpaid for ORDERS["UNPAID_EXPIRY_MINUTES"], as its customer
    would, so that its stock goes back; how many. An order paid meanwhile stays paid."""
    cutoff = timezone.now() - timedelta(minutes=settings.ORDERS["UNPAID_EXPIRY_MINUTES"])
    expired = Order.objects.filter(status__in=UNPAID_STATUSES, created_at__lt=cutoff)
    cancelled = 0
    for order_id, customer_id in list(expired.values_list("id", "customer_id")):
        try:
            order_cancel(
                order_id=order_id.hex, customer_id=customer_id, reason=CancellationReason.EXPIRED
            )
        except StateConflict:
            continue
        cancelled += 1
    return cancelled


@transaction.atomic(using=DATABASE)
def order_request_item_count_change(
    *, order_id: str, customer_id: int, product_id: str, count: int
) -> Order:
    """Ask the inventory for a new count of one item; the order applies it once answered."""
    order = Order.objects.select_for_update().get(pk=order_id, customer_id=customer_id)
    order.request_item_count_change(
        items=list(order.items.all()), product_id=product_id, count=count
    )
    store.save(order)
    return order


@transaction.atomic(using=DATABASE)
def order_apply_item_count_change(*, order_id: str, change_id: str) -> None:
    order = Order.objects.select_for_update().get(pk=order_id)
    changed = order.apply_item_count_change(change_id=change_id, items=list(order.items.all()))
    if changed is not None:
        changed.save(update_fields=["count"])
        store.save(order)


@transaction.atomic(using=DATABASE)
def order_refuse_item_count_change(*, order_id: str, change_id: str, reason: str) -> None:
    order = Order.objects.select_for_update().get(pk=order_id)
    order.refuse_item_count_change(change_id=change_id, reason=reason)
    store.save(order)


@transaction.atomic(using=DATABASE)
def order_record_stock_released(*, order_id: str) -> None:
    order = Order.objects.select_for_update().get(pk=order_id)
    order.record_stock_released()
    store.save(order)


# The read model row, derived from the order and its items in one statement. A refresh that
# read an older version of the order than the row shows (two refreshes racing) changes nothing.
REFRESH_SUMMARY_SQL = f"""
INSERT INTO {OrderSummary._meta.db_table} AS summary
    (order_id, customer_id, status, total_price, item_count, address, cancellation_reason,
     created_at, order_version, refreshed_at)
SELECT ord.id, ord.customer_id, ord.status, ord.total_price,
       (SELECT coalesce(sum(item.count), 0) FROM {OrderItem._meta.db_table} AS item
         WHERE item.order_id = ord.id),
       concat_ws(' ', ord.province, ord.city, ord.detail), ord.cancellation_reason,
       ord.created_at, ord.version, now()
  FROM {Order._meta.db_table} AS ord
 WHERE ord.id = %s
ON CONFLICT (order_id) DO UPDATE SET
    customer_id = excluded.customer_id, status = excluded.status,
    total_price = excluded.total_price, item_count = excluded.item_count,
    address = excluded.address, cancellation_reason = excluded.cancellation_reason,
    created_at = excluded.created_at,
    order_version = excluded.order_version, refreshed_at = excluded.refreshed_at
 WHERE summary.order_version <= excluded.order_version
"""


def order_summary_refresh(*, order_id: str) -> None:
    """Rebuild an order's read model row from the order itself (event notification style).

    One upsert in SQL: the read model is a projection, and on a worker's hot path Django
    building the order, its items and the summary cost more than PostgreSQL deriving the row.
    """
    with connections[DATABASE].cursor() as cursor:
        cursor.execute(REFRESH_SUMMARY_SQL, [order_id])


@transaction.atomic(using=DATABASE)
def loyalty_reward_paid_order(*, order_id: str) -> None:
    """Grant a paid order's rewards: a point per whole unit of its total and, from a total of
    LOYALTY["COUPON_THRESHOLD"], a coupon of LOYALTY["COUPON_AMOUNT"]. Once per order, however
    often its payment is handled."""
    order = Order.objects.get(pk=order_id)
    LoyaltyPoints.objects.get_or_create(
        order_id=order.id,
        defaults={
            "customer_id": order.customer_id,
            "points": int(order.total_price.quantize(Decimal("1"), rounding=ROUND_DOWN)),
        },
    )
    if order.total_price >= settings.LOYALTY["COUPON_THRESHOLD"]:
        Coupon.objects.get_or_create(
            order_id=order.id,
            defaults={
                "customer_id": order.customer_id,
                "amount": settings.LOYALTY["COUPON_AMOUNT"],
            },
        )


@transaction.atomic(using=DATABASE)
def catalog_product_add(
    *, product_id: str, name: str, price: Decimal, product_version: int
) -> None:
    """Learn of a new product that orders may name."""
    CatalogProduct.objects.get_or_create(
        product_id=product_id,
        defaults={"name": name, "price": price, "product_version": product_version},
    )


@transaction.atomic(using=DATABASE)
def catalog_product_update(
    *, product_id: str, product_version: int, name: str | None = None, price: Decimal | None = None
) -> None:
    """Follow a product's new name or price; an older event changes nothing. An update that
    outruns the product's creation fails with `CatalogProduct.DoesNotExist` and is retried."""
    product = CatalogProduct.objects.select_for_update().get(pk=product_id)
    if product_version <= product.product_version:
        return
    product.name = name if name is not None else product.name
    product.price = price if price is not None else product.price
    product.product_version = product_version
    product.save()


@transaction.atomic(using=DATABASE)
def catalog_category_add(*, category_id: str, name: str) -> None:
    """Learn a category's name; products may have named the category before it arrived."""
    CatalogCategory.objects.get_or_create(category_id=category_id, defaults={"name": name})


@transaction.atomic(using=DATABASE)
def catalog_product_categorize(*, product_id: str, category_id: str, product_version: int) -> None:
    """Follow the category a product is in; an older product event changes nothing. A move
    that outruns the product's creation fails with `CatalogProduct.DoesNotExist` and is retried."""
    product = CatalogProduct.objects.select_for_update().get(pk=product_id)
    if product_version <= product.category_version:
        return
    product.category_id, product.category_version = category_id, product_version
    product.save(update_fields=["category_id", "category_version"])
