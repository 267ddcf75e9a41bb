"""The Inventory aggregate: the stock of one product."""
import uuid

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from inventory.events import InventoryChangedEvent, InventoryCreatedEvent
from outbox.aggregates import AggregateRoot, StateConflict


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
    if number <= 0:
        raise ValidationError({"number": "The number must be greater than zero."})
