"""The Order aggregate, the order read model, and the local copy of the product catalog."""

import dataclasses
import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from orders.events import (
    Address,
    OrderAddressChangedEvent,
    OrderCancelledEvent,
    OrderConfirmedEvent,
    OrderCreatedEvent,
    OrderItemCountChangedEvent,
    OrderItemCountChangeRefusedEvent,
    OrderItemCountChangeRequestedEvent,
    OrderLine,
    OrderPaidEvent,
    OrderRejectedEvent,
)
from outbox.core.aggregates import AggregateRoot, StateConflict


class OrderStatus(models.TextChoices):
    """CREATED, then CONFIRMED (stock reserved) or REJECTED (not enough stock); then PAID.
    CANCELLED by the customer from CREATED or CONFIRMED."""

    CREATED = "CREATED"
    CONFIRMED = "CONFIRMED"
    REJECTED = "REJECTED"
    PAID = "PAID"
    CANCELLED = "CANCELLED"


# Orders that hold (or wait for) stock and may still be paid: they expire, and a customer may
# have only so many.
UNPAID_STATUSES = (OrderStatus.CREATED, OrderStatus.CONFIRMED)


class CancellationReason(models.TextChoices):
    """Why an order was cancelled: the customer gave it up, or it was not paid in time."""

    CUSTOMER = "CUSTOMER"
    EXPIRED = "EXPIRED"


# Users live in the identity database that every service shares, which may not be this
# context's: an order refers to its customer by id, with no foreign key across databases.
CUSTOMER_ID_HELP = "The id of the customer's user account."
# The largest count an item's column holds (PostgreSQL integer), for one item and for the
# order's summary of all, and the largest total (numeric(14, 2)).
MAX_ITEM_COUNT = 2_147_483_647
MAX_TOTAL_PRICE = Decimal("999999999999.99")


class PriceChanged(StateConflict):
    """An order names a price other than the catalog's current one for an item."""


class TooManyUnpaidOrders(StateConflict):
    """The customer has as many unpaid orders as they may have."""


@dataclasses.dataclass(frozen=True)
class PendingItemCountChange:
    """A change of an item's count that waits for the inventory's answer."""

    change_id: str
    product_id: str
    count: int


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
    cancellation_reason = models.CharField(max_length=20, choices=CancellationReason, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # At most one change of an item's count waits for the inventory at a time.
    pending_change_id = models.UUIDField(null=True, blank=True)
    pending_change_product_id = models.UUIDField(null=True, blank=True)
    pending_change_count = models.PositiveIntegerField(null=True, blank=True)
    change_refusal_reason = models.TextField(
        blank=True, help_text="Why the inventory refused the last change of an item's count."
    )
    stock_released_at = models.DateTimeField(
        null=True, blank=True, help_text="When the inventory put back the cancelled order's stock."
    )

    class Meta:
        ordering = ["-created_at"]
        # Small: only the orders still unpaid, which a customer's cap counts and expiry finds.
        indexes = [
            models.Index(
                fields=["customer_id"],
                condition=Q(status__in=UNPAID_STATUSES),
                name="order_unpaid_by_customer",
            ),
            models.Index(
                fields=["created_at"],
                condition=Q(status__in=UNPAID_STATUSES),
                name="order_unpaid_by_age",
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(total_price__gt=0), name="order_total_positive"),
            models.CheckConstraint(
                condition=(
                    Q(pending_change_id__isnull=True)
                    & Q(pending_change_product_id__isnull=True)
                    & Q(pending_change_count__isnull=True)
                )
                | (
                    Q(pending_change_id__isnull=False)
                    & Q(pending_change_product_id__isnull=False)
                    & Q(pending_change_count__gt=0)
                ),
                name="order_pending_change_complete",
            ),
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
        self._require_not_cancelled()
        if not new_detail.strip():
            raise ValidationError({"detail": "The address detail cannot be blank."})
        if new_detail == self.detail:
            return
        old_detail, self.detail = self.detail, new_detail
        self.raise_event(OrderAddressChangedEvent(old_detail=old_detail, new_detail=new_detail))

    def confirm(self) -> None:
        """The inventory reserved every item: the order can be paid. A cancelled order stays
        cancelled: its cancellation puts back whatever the inventory reserved."""
        if self.status in (OrderStatus.CONFIRMED, OrderStatus.CANCELLED):
            return
        self._require_created("confirmed")
        self.status = OrderStatus.CONFIRMED
        self.raise_event(OrderConfirmedEvent())

    def reject(self, reason: str) -> None:
        """The stock could not cover the order: it will not be fulfilled (unless cancelled)."""
        if self.status in (OrderStatus.REJECTED, OrderStatus.CANCELLED):
            return
        self._require_created("rejected")
        self.status, self.rejection_reason = OrderStatus.REJECTED, reason
        self.raise_event(OrderRejectedEvent(reason=reason))

    def pay(self, paid_price: Decimal) -> None:
        """Record the payment of the whole order, once its stock is reserved."""
        if self.status == OrderStatus.PAID:
            raise StateConflict("The order is already paid.")
        self._require_not_rejected()
        self._require_not_cancelled()
        if self.pending_change_id is not None:
            raise StateConflict(
                "An item's count is being changed; pay once the inventory has answered."
            )
        if self.status != OrderStatus.CONFIRMED:
            raise StateConflict("The order's stock is still being reserved; pay once confirmed.")
        if paid_price != self.total_price:
            raise ValidationError(
                {"paid_price": f"The payment must equal the total price {self.total_price}."}
            )
        self.status = OrderStatus.PAID
        self.raise_event(OrderPaidEvent(paid_price=paid_price))

    def cancel(
        self,
        items: Sequence["OrderItem"],
        *,
        reason: CancellationReason = CancellationReason.CUSTOMER,
    ) -> None:
        """The order is given up before it is paid, by the customer or for not being paid in
        time; the inventory puts its stock back.

        A change of an item's count still waiting is withdrawn with the order: whatever the
        inventory made of it, the cancellation puts back what it holds when it arrives.
        """
        if self.status == OrderStatus.CANCELLED:
            raise StateConflict("The order is already cancelled.")
        if self.status == OrderStatus.PAID:
            raise StateConflict("The order is paid: it can no longer be cancelled.")
        self._require_not_rejected()
        self.status, self.cancellation_reason = OrderStatus.CANCELLED, reason
        self._clear_pending_change()
        self.raise_event(OrderCancelledEvent(items=tuple(_line_of(item) for item in items)))

    @property
    def pending_change(self) -> PendingItemCountChange | None:
        if self.pending_change_id is None:
            return None
        # The three are set together (the order_pending_change_complete constraint).
        assert self.pending_change_product_id is not None and self.pending_change_count is not None
        return PendingItemCountChange(
            change_id=self.pending_change_id.hex,
            product_id=self.pending_change_product_id.hex,
            count=self.pending_change_count,
        )

    def request_item_count_change(
        self, *, items: Sequence["OrderItem"], product_id: str, count: int
    ) -> None:
        """Ask the inventory to hold `count` units of one of the order's items.

        Only once the order is confirmed: before, the inventory has no reservation to
        adjust, and may still refuse the whole order. One change at a time, so that each
        answer meets the change it answers. The same count changes nothing.
        """
        if self.status == OrderStatus.PAID:
            raise StateConflict("The order is paid: its items can no longer change.")
        self._require_not_rejected()
        self._require_not_cancelled()
        if self.status != OrderStatus.CONFIRMED:
            raise StateConflict(
                "The order's stock is still being reserved; change it once confirmed."
            )
        if self.pending_change_id is not None:
            raise StateConflict(
                "Another change of an item's count waits for the inventory; "
                "try again once it has answered."
            )
        item = _item_of(items, product_id)
        if not 0 < count <= MAX_ITEM_COUNT:
            raise ValidationError({"count": f"The count must be between 1 and {MAX_ITEM_COUNT}."})
        if count == item.count:
            return
        if sum(other.count for other in items) - item.count + count > MAX_ITEM_COUNT:
            raise ValidationError({"count": f"An order may hold at most {MAX_ITEM_COUNT} units."})
        if self.total_price + (count - item.count) * item.item_price > MAX_TOTAL_PRICE:
            raise ValidationError({"count": f"The order's total may be at most {MAX_TOTAL_PRICE}."})
        self.pending_change_id = uuid.uuid4()
        self.pending_change_product_id, self.pending_change_count = item.product_id, count
        self.change_refusal_reason = ""
        self.raise_event(
            OrderItemCountChangeRequestedEvent(
                change_id=self.pending_change_id.hex, product_id=product_id, new_count=count
            )
        )

    def apply_item_count_change(
        self, *, change_id: str, items: Sequence["OrderItem"]
    ) -> "OrderItem | None":
        """The inventory holds the new count: the item takes it at the price it was ordered
        at, and the total follows. Returns the changed item, or None for an answer to a
        change that is no longer pending (withdrawn by the order's cancellation)."""
        change = self.pending_change
        if change is None or change.change_id != change_id:
            return None
        item = _item_of(items, change.product_id)
        old_count, item.count = item.count, change.count
        self.total_price += (change.count - old_count) * item.item_price
        self._clear_pending_change()
        self.raise_event(
            OrderItemCountChangedEvent(
                change_id=change_id,
                product_id=change.product_id,
                old_count=old_count,
                new_count=change.count,
                total_price=self.total_price,
            )
        )
        return item

    def refuse_item_count_change(self, *, change_id: str, reason: str) -> None:
        """The inventory could not hold the new count: the order stays as it was, and says why."""
        change = self.pending_change
        if change is None or change.change_id != change_id:
            return
        self._clear_pending_change()
        self.change_refusal_reason = reason
        self.raise_event(
            OrderItemCountChangeRefusedEvent(
                change_id=change_id, product_id=change.product_id, count=change.count, reason=reason
            )
        )

    def record_stock_released(self) -> None:
        """The inventory put back what it held for this cancelled order: the saga is over."""
        if self.stock_released_at is None:
            self.stock_released_at = timezone.now()

    def _clear_pending_change(self) -> None:
        self.pending_change_id = self.pending_change_product_id = self.pending_change_count = None

    def _require_not_cancelled(self) -> None:
        if self.status == OrderStatus.CANCELLED:
            raise StateConflict("The order was cancelled.")

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


def _line_of(item: "OrderItem") -> OrderLine:
    return OrderLine(product_id=item.product_id.hex, count=item.count, item_price=item.item_price)


def _item_of(items: Sequence["OrderItem"], product_id: str) -> "OrderItem":
    for item in items:
        if item.product_id.hex == product_id:
            return item
    raise ValidationError({"productId": f"Product {product_id} is not an item of this order."})


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
    cancellation_reason = models.CharField(max_length=20, choices=CancellationReason, blank=True)
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
    # An id, not a foreign key: the product's event may arrive before its category's.
    category_id = models.UUIDField(null=True, blank=True, db_index=True)
    category_version = models.PositiveIntegerField(
        default=0, help_text="Version of the product event that set `category_id`."
    )

    def __str__(self) -> str:
        return self.name


class CatalogCategory(models.Model):
    """The names of the product categories: a local copy kept from category events."""

    category_id = models.UUIDField(primary_key=True)
    name = models.CharField(max_length=200)

    class Meta:
        verbose_name_plural = "catalog categories"

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
