"""The Product aggregate."""

import uuid
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from outbox.aggregates import AggregateRoot
from products.events import (
    ProductCreatedEvent,
    ProductNameChangedEvent,
    ProductPriceChangedEvent,
)


class Product(AggregateRoot):
    """Something for sale. `inventory` is a local copy of its stock, kept from inventory events."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    price = models.DecimalField(max_digits=12, decimal_places=2)
    created_at = models.DateTimeField(auto_now_add=True)
    inventory = models.PositiveIntegerField(default=0)
    inventory_version = models.PositiveIntegerField(
        default=0, help_text="Version of the inventory event that set `inventory`."
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gt=0), name="product_price_positive"),
        ]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def create(cls, *, name: str, description: str, price: Decimal) -> "Product":
        """A new product, which raises ProductCreatedEvent."""
        _require_name(name)
        _require_positive_price(price)
        product = cls(id=uuid.uuid4(), name=name, description=description, price=price)
        product.raise_event(ProductCreatedEvent(name=name, description=description, price=price))
        return product

    def rename(self, new_name: str) -> None:
        """Change the name; consumers that keep a copy get the old and the new one."""
        _require_name(new_name)
        if new_name == self.name:
            return
        old_name, self.name = self.name, new_name
        self.raise_event(ProductNameChangedEvent(old_name=old_name, new_name=new_name))

    def change_price(self, new_price: Decimal) -> None:
        """Change the price of future orders."""
        _require_positive_price(new_price)
        if new_price == self.price:
            return
        old_price, self.price = self.price, new_price
        self.raise_event(ProductPriceChangedEvent(old_price=old_price, new_price=new_price))

    def sync_inventory(self, *, remaining: int, inventory_version: int) -> bool:
        """Take the stock from an inventory event, unless a newer one was already applied."""
        if inventory_version <= self.inventory_version:
            return False
        self.inventory, self.inventory_version = remaining, inventory_version
        return True


def _require_name(name: str) -> None:
    if not name.strip():
        raise ValidationError({"name": "A product needs a name."})


def _require_positive_price(price: Decimal) -> None:
    if price <= 0:
        raise ValidationError({"price": "The price must be greater than zero."})
