"""The Inventory aggregate (the stock of one product) and the stock reservation of an order."""

import uuid
from collections.abc import Mapping

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from inventory.events import (
    InventoryChangedEvent,
    InventoryCreatedEvent,
    StockReservationRejectedEvent,
    StockReservedEvent,
)
from outbox.aggregates import AggregateRoot, StateConflict

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


class StockReservation(AggregateRoot):
    """The inventory's answer to one order: all its items taken out of stock, or none."""

    id = models.UUIDField(primary_key=True, help_text="The order's id.")
    status = models.CharField(max_length=20, choices=ReservationStatus)
    reason = models.TextField(blank=True)
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
            reservation.raise_event(
                StockReservationRejectedEvent(order_id=order_id, reason=reservation.reason)
            )
            return reservation
        for product_id, count in wanted.items():
            inventories[product_id].decrease(count, reason=f"order {order_id}")
        reservation.status = ReservationStatus.RESERVED
        reservation.raise_event(StockReservedEvent(order_id=order_id))
        return reservation


def _shortage(product_id: str, wanted: int, inventory: Inventory | None) -> str:
    if inventory is None:
        return f"Product {product_id} has no inventory."
    return f"{inventory.product_name}: {wanted} wanted, {inventory.remaining} remain."
