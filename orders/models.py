"""The Order aggregate, the order read model, and the local copy of the product catalog."""

import dataclasses
import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from orders.events import (
    Address,
    OrderAddressChangedEvent,
    OrderConfirmedEvent,
    OrderCreatedEvent,
    OrderLine,
    OrderPaidEvent,
    OrderRejectedEvent,
)
from outbox.aggregates import AggregateRoot, StateConflict


class OrderStatus(models.TextChoices):
    """CREATED, then CONFIRMED (stock reserved) or REJECTED (not enough stock); then PAID."""

    CREATED = "CREATED"
    CONFIRMED = "CONFIRMED"
    REJECTED = "REJECTED"
    PAID = "PAID"


# Users live in the identity database that every service shares, which may not be this
# context's: an order refers to its customer by id, with no foreign key across databases.
CUSTOMER_ID_HELP = "The id of the customer's user account."
# The largest count an item's column holds (PostgreSQL integer), for one item and for the
# order's summary of all, and the largest total (numeric(14, 2)).
MAX_ITEM_COUNT = 2_147_483_647
MAX_TOTAL_PRICE = Decimal("999999999999.99")


class PriceChanged(StateConflict):
    """An order names a price other than the catalog's current one for an item."""


class Order(AggregateRoot):
    """A customer's order: items at the price they were ordered at, and where to send them."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    customer_id = models.IntegerField(db_index=True, help_text=CUSTOMER_ID_HELP)
    status = models.CharField(max_length=20, choices=OrderStatus, default=OrderStatus.CREATED)
    total_price = models.DecimalField(max_digits=14, decimal_places=2)
    province = models.CharField(max_length=100)
    city = models.CharField(max_length=100)
    detail = models.CharField(max_length=500)
    rejection_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(total_price__gt=0), name="order_total_positive"),
        ]

    def __str__(self) -> str:
        return f"Order {self.pk.hex}"

    @classmethod
    def create(
        cls,
        *,
        customer_id: int,
        lines: Sequence[OrderLine],
        address: Address,
        catalog: Mapping[str, "CatalogProduct"],
    ) -> "Order":
        """A new order of at least one line, priced from the catalog, which raises
        OrderCreatedEvent.

        Each line carries the price the customer was shown, and the order is taken only at the
        catalog's current price: a customer neither chooses a price nor pays one they did not
        see. `catalog` holds the catalog copy's products by id (hex).
        """
        _require_valid_lines(lines)
        lines = _priced_from_catalog(lines, catalog)
        total_price = sum((line.item_price * line.count for line in lines), Decimal("0"))
        if total_price > MAX_TOTAL_PRICE:
            raise ValidationError({"items": f"The order's total may be at most {MAX_TOTAL_PRICE}."})
        order = cls(
            id=uuid.uuid4(),
            customer_id=customer_id,
            total_price=total_price,
            province=address.province,
            city=address.city,
            detail=address.detail,
        )
        order.raise_event(
            OrderCreatedEvent(
                customer_id=customer_id,
                items=tuple(lines),
                address=address,
                total_price=total_price,
            )
        )
        return order

    @property
    def address(self) -> Address:
        return Address(province=self.province, city=self.city, detail=self.detail)

    def change_address_detail(self, new_detail: str) -> None:
        """Correct where the order goes; only until it is paid."""
        if self.status == OrderStatus.PAID:
            raise StateConflict("The order is paid: its address can no longer change.")
        self._require_not_rejected()
        if not new_detail.strip():
            raise ValidationError({"detail": "The address detail cannot be blank."})
        if new_detail == self.detail:
            return
        old_detail, self.detail = self.detail, new_detail
        self.raise_event(OrderAddressChangedEvent(old_detail=old_detail, new_detail=new_detail))

    def confirm(self) -> None:
        """The inventory reserved every item: the order can be paid."""
        if self.status == OrderStatus.CONFIRMED:
            return
        self._require_created("confirmed")
        self.status = OrderStatus.CONFIRMED
        self.raise_event(OrderConfirmedEvent())

    def reject(self, reason: str) -> None:
        """The stock could not cover the order: it will not be fulfilled."""
        if self.status == OrderStatus.REJECTED:
            return
        self._require_created("rejected")
        self.status, self.rejection_reason = OrderStatus.REJECTED, reason
        self.raise_event(OrderRejectedEvent(reason=reason))

    def pay(self, paid_price: Decimal) -> None:
        """Record the payment of the whole order, once its stock is reserved."""
        if self.status == OrderStatus.PAID:
            raise StateConflict("The order is already paid.")
        self._require_not_rejected()
        if self.status != OrderStatus.CONFIRMED:
            raise StateConflict("The order's stock is still being reserved; pay once confirmed.")
        if paid_price != self.total_price:
            raise ValidationError(
                {"paid_price": f"The payment must equal the total price {self.total_price}."}
            )
        self.status = OrderStatus.PAID
        self.raise_event(OrderPaidEvent(paid_price=paid_price))

    def _require_created(self, outcome: str) -> None:
        if self.status != OrderStatus.CREATED:
            raise StateConflict(f"A {self.status.lower()} order cannot be {outcome}.")

    def _require_not_rejected(self) -> None:
        if self.status == OrderStatus.REJECTED:
            raise StateConflict(f"The order was rejected: {self.rejection_reason}")


def _require_valid_lines(lines: Sequence[OrderLine]) -> None:
    if not lines:
        raise ValidationError({"items": "An order needs at least one item."})
    for line in lines:
        if not 0 < line.count <= MAX_ITEM_COUNT:
            raise ValidationError(
                {"items": f"Every item's count must be between 1 and {MAX_ITEM_COUNT}."}
            )
        if line.item_price <= 0:
            raise ValidationError({"items": "Every item's price must be greater than zero."})
    if sum(line.count for line in lines) > MAX_ITEM_COUNT:
        raise ValidationError({"items": f"An order may hold at most {MAX_ITEM_COUNT} units."})


def _priced_from_catalog(
    lines: Sequence[OrderLine], catalog: Mapping[str, "CatalogProduct"]
) -> list[OrderLine]:
    unknown = {
        f"items[{index}].productId": f"Unknown product {line.product_id}."
        for index, line in enumerate(lines)
        if line.product_id not in catalog
    }
    if unknown:
        raise ValidationError(unknown)
    changed = [
        f"items[{index}]: {product.name} ({line.product_id}) costs {product.price}, "
        f"not {line.item_price}"
        for index, line in enumerate(lines)
        if line.item_price != (product := catalog[line.product_id]).price
    ]
    if changed:
        raise PriceChanged(
            f"The price changed: {'; '.join(changed)}. Order again at the new price."
        )
    return [dataclasses.replace(line, item_price=catalog[line.product_id].price) for line in lines]


class OrderItem(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    product_id = models.UUIDField()
    count = models.PositiveIntegerField()
    item_price = models.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(count__gt=0), name="order_item_count_positive"),
            models.CheckConstraint(condition=Q(item_price__gt=0), name="order_item_price_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.count} x {self.product_id.hex}"


class OrderSummary(models.Model):
    """The read model of orders (CQRS), rebuilt from the Order whenever an order event arrives."""

    order_id = models.UUIDField(primary_key=True)
    customer_id = models.IntegerField(db_index=True)
    status = models.CharField(max_length=20, choices=OrderStatus)
    total_price = models.DecimalField(max_digits=14, decimal_places=2)
    item_count = models.PositiveIntegerField()
    address = models.CharField(max_length=720)
    created_at = models.DateTimeField()
    order_version = models.PositiveIntegerField()
    refreshed_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "order summaries"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Order {self.order_id.hex} ({self.status})"


class CatalogProduct(models.Model):
    """The products that can be ordered: a local copy kept from product events."""

    product_id = models.UUIDField(primary_key=True)
    name = models.CharField(max_length=200)
    price = models.DecimalField(max_digits=12, decimal_places=2)
    product_version = models.PositiveIntegerField()

    def __str__(self) -> str:
        return self.name


class LoyaltyPoints(models.Model):
    """Points a customer earned with one order; their balance is the sum."""

    order_id = models.UUIDField(primary_key=True)
    customer_id = models.IntegerField(db_index=True, help_text=CUSTOMER_ID_HELP)
    points = models.PositiveIntegerField()
    awarded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "loyalty points"

    def __str__(self) -> str:
        return f"{self.points} points for order {self.order_id.hex}"


class Coupon(models.Model):
    """A discount on a future order, granted for a large order."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    customer_id = models.IntegerField(db_index=True, help_text=CUSTOMER_ID_HELP)
    order_id = models.UUIDField(unique=True, help_text="The order that earned it.")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    granted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-granted_at"]

    def __str__(self) -> str:
        return f"Coupon of {self.amount}"
