"""Commands on orders, and the upkeep of the order read model and the catalog copy."""

from collections.abc import Sequence
from decimal import ROUND_DOWN, Decimal

from django.conf import settings
from django.db import router, transaction

from orders.events import Address, OrderLine
from orders.models import CatalogProduct, Coupon, LoyaltyPoints, Order, OrderItem, OrderSummary
from outbox import store

# Every command runs in one transaction on the order context's own database.
DATABASE = router.db_for_write(Order)


@transaction.atomic(using=DATABASE)
def order_create(*, customer_id: int, lines: Sequence[OrderLine], address: Address) -> Order:
    """Take an order at the catalog copy's current prices (`Order.create` says why)."""
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


def order_summary_refresh(*, order_id: str) -> None:
    """Rebuild an order's read model row from the order itself (event notification style)."""
    order = Order.objects.prefetch_related("items").filter(pk=order_id).first()
    if order is None:
        return
    OrderSummary.objects.update_or_create(
        order_id=order.id,
        defaults={
            "customer_id": order.customer_id,
            "status": order.status,
            "total_price": order.total_price,
            "item_count": sum(item.count for item in order.items.all()),
            "address": f"{order.province} {order.city} {order.detail}",
            "created_at": order.created_at,
            "order_version": order.version,
        },
    )


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
