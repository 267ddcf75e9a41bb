"""The Inventory aggregate (the stock of one product) and the stock reservation of an order."""

import uuid
from collections.abc import Mapping

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from inventory.events import (
    InventoryChangedEvent,
    InventoryCreatedEvent,
    ReleasedItem,
    StockReleasedEvent,
    StockReservationAdjustedEvent,
    StockReservationAdjustmentRejectedEvent,
    StockReservationRejectedEvent,
    StockReservedEvent,
)
from outbox.core.aggregates import AggregateRoot, StateConflict

# The most units an inventory's column holds (PostgreSQL integer).
MAX_REMAINING = 2_147_483_647


class InsufficientStock(StateConflict):
    """A decrease larger than what remains."""


class Inventory(AggregateRoot):
    """How many units of a product remain. `product_name` is a copy kept from product events."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    product_id = models.UUIDField(unique=True)
    product_name = models.CharField(max_length=200)
    product_version = models.PositiveIntegerField(
        default=0, help_text="Version of the product event that set `product_name`."
    )
    remaining = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "inventories"
        ordering = ["product_name"]
        constraints = [
            models.CheckConstraint(condition=Q(remaining__gte=0), name="remaining_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.product_name}: {self.remaining}"

    @classmethod
    def create_for_product(
        cls, *, product_id: str, product_name: str, product_version: int
    ) -> "Inventory":
        """The empty inventory of a newly created product."""
        inventory = cls(
            id=uuid.uuid4(),
            product_id=uuid.UUID(product_id),
            product_name=product_name,
            product_version=product_version,
        )
        inventory.raise_event(
            InventoryCreatedEvent(product_id=product_id, product_name=product_name, remaining=0)
        )
        return inventory

    def increase(self, number: int, *, reason: str = "manual increase") -> None:
        _require_positive(number)
        if self.remaining + number > MAX_REMAINING:
            raise StateConflict(
                f"Cannot add {number} to {self.product_name}: "
                f"at most {MAX_REMAINING - self.remaining} more fit."
            )
        self.remaining += number
        self._changed(number, reason)

    def decrease(self, number: int, *, reason: str = "manual decrease") -> None:
        """Take units out; never below zero."""
        _require_positive(number)
        if number > self.remaining:
            raise InsufficientStock(
                f"Cannot take {number} of {self.product_name}: only {self.remaining} remain."
            )
        self.remaining -= number
        self._changed(-number, reason)

    def sync_product_name(self, *, name: str, product_version: int) -> bool:
        """Take the product's new name, unless a newer product event was already applied."""
        if product_version <= self.product_version:
            return False
        self.product_name, self.product_version = name, product_version
        return True

    def _changed(self, change: int, reason: str) -> None:
        self.raise_event(
            InventoryChangedEvent(
                product_id=self.product_id.hex,
                remaining=self.remaining,
                change=change,
                reason=reason,
            )
        )


def _require_positive(number: int) -> None:
    if not 0 < number <= MAX_REMAINING:
        raise ValidationError({"number": f"The number must be between 1 and {MAX_REMAINING}."})


class ReservationStatus(models.TextChoices):
    RESERVED = "RESERVED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"


class StockReservation(AggregateRoot):
    """The inventory's answer to one order: all its items taken out of stock, or none; then
    adjusted to the order's changes, and released if the order is cancelled."""

    id = models.UUIDField(primary_key=True, help_text="The order's id.")
    status = models.CharField(max_length=20, choices=ReservationStatus)
    reason = models.TextField(blank=True)
    held = models.JSONField(
        null=True,
        help_text="Units taken out of stock for the order now, by product id: what a "
        "cancellation puts back. Null for a reservation made before they were recorded.",
    )
    order_version = models.PositiveIntegerField(
        default=0, help_text="Version of the last order change or cancellation applied."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Order {self.id.hex}: {self.status}"

    @classmethod
    def for_order(
        cls, *, order_id: str, wanted: Mapping[str, int], inventories: Mapping[str, Inventory]
    ) -> "StockReservation":
        """Decrease every inventory by what the order wants, or refuse the whole order."""
        reservation = cls(id=uuid.UUID(order_id))
        shortages = [
            _shortage(product_id, count, inventories.get(product_id))
            for product_id, count in wanted.items()
            if product_id not in inventories or inventories[product_id].remaining < count
        ]
        if shortages:
            reservation.status, reservation.reason = ReservationStatus.REJECTED, " ".join(shortages)
            reservation.held = {}
            reservation.raise_event(
                StockReservationRejectedEvent(order_id=order_id, reason=reservation.reason)
            )
            return reservation
        for product_id, count in wanted.items():
            inventories[product_id].decrease(count, reason=f"order {order_id}")
        reservation.status, reservation.held = ReservationStatus.RESERVED, dict(wanted)
        reservation.raise_event(StockReservedEvent(order_id=order_id))
        return reservation

    @classmethod
    def cancelled_before_reservation(
        cls, *, order_id: str, order_version: int
    ) -> "StockReservation":
        """The order's cancellation outran its creation: recorded, so that the order's
        creation, when it arrives, finds its answer given and reserves nothing."""
        reservation = cls(
            id=uuid.UUID(order_id),
            status=ReservationStatus.CANCELLED,
            held={},
            order_version=order_version,
        )
        reservation.raise_event(StockReleasedEvent(order_id=order_id, items=()))
        return reservation

    def holdings(self, order_items: Mapping[str, int]) -> dict[str, int]:
        """Units held for the order now, by product id. A reservation made before they were
        recorded (inventory migration 0003) holds what its order was created with, which the
        order's cancellation carries as `order_items`: such an order never changed."""
        if self.status != ReservationStatus.RESERVED:
            return {}
        return dict(self.held if self.held is not None else order_items)

    def release(
        self,
        *,
        order_version: int,
        order_items: Mapping[str, int],
        inventories: Mapping[str, Inventory],
    ) -> None:
        """The order was cancelled: put back into stock exactly what is held for it, once."""
        if self.status == ReservationStatus.CANCELLED:
            return
        released = self.holdings(order_items)
        for product_id, count in released.items():
            inventories[product_id].increase(count, reason=f"order {self.id.hex} cancelled")
        self.status, self.held = ReservationStatus.CANCELLED, {}
        self.order_version = max(self.order_version, order_version)
        self.raise_event(
            StockReleasedEvent(
                order_id=self.id.hex,
                items=tuple(
                    ReleasedItem(product_id=product_id, count=count)
                    for product_id, count in released.items()
                ),
            )
        )

    def adjust(
        self,
        *,
        order_version: int,
        change_id: str,
        product_id: str,
        count: int,
        inventory: Inventory | None,
    ) -> None:
        """Hold `count` units of one of the order's products: take the difference out of
        stock or put it back, or refuse the change when the stock cannot cover it.

        A change older than what was applied is a copy of one already answered; a change
        that reaches a cancelled reservation was withdrawn with its order: neither changes
        anything nor needs an answer.
        """
        if order_version <= self.order_version or self.status != ReservationStatus.RESERVED:
            return
        self.order_version = order_version
        if self.held is None:
            self._refuse_adjustment(
                change_id, product_id, count, "The order was reserved before items could change."
            )
        elif product_id not in self.held or inventory is None:
            self._refuse_adjustment(
                change_id,
                product_id,
                count,
                f"Product {product_id} is not reserved for this order.",
            )
        elif count - self.held[product_id] > inventory.remaining:
            self._refuse_adjustment(
                change_id,
                product_id,
                count,
                f"{inventory.product_name}: {count - self.held[product_id]} more wanted, "
                f"{inventory.remaining} remain.",
            )
        else:
            self._take_or_put_back(inventory, count - self.held[product_id])
            self.held = {**self.held, product_id: count}
            self.raise_event(
                StockReservationAdjustedEvent(
                    order_id=self.id.hex, change_id=change_id, product_id=product_id, count=count
                )
            )

    def _take_or_put_back(self, inventory: Inventory, difference: int) -> None:
        reason = f"order {self.id.hex} changed"
        if difference > 0:
            inventory.decrease(difference, reason=reason)
        elif difference < 0:
            inventory.increase(-difference, reason=reason)

    def _refuse_adjustment(self, change_id: str, product_id: str, count: int, reason: str) -> None:
        self.raise_event(
            StockReservationAdjustmentRejectedEvent(
                order_id=self.id.hex,
                change_id=change_id,
                product_id=product_id,
                count=count,
                reason=reason,
            )
        )


def _shortage(product_id: str, wanted: int, inventory: Inventory | None) -> str:
    if inventory is None:
        return f"Product {product_id} has no inventory."
    return f"{inventory.product_name}: {wanted} wanted, {inventory.remaining} remain."
