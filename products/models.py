"""The Product and Category aggregates."""

import uuid
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

from outbox.core.aggregates import AggregateRoot
from products.events import (
    CategoryCreatedEvent,
    ProductCategoryChangedEvent,
    ProductCreatedEvent,
    ProductNameChangedEvent,
    ProductPriceChangedEvent,
)


class Category(AggregateRoot):
    """A group of products. Its name is unique whatever the case: "Fruit" and "fruit" are one."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name_plural = "categories"
        constraints = [models.UniqueConstraint(Lower("name"), name="category_name_unique")]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def create(cls, *, name: str) -> "Category":
        """A new category, which raises CategoryCreatedEvent."""
        _require_name(name, "A category needs a name.")
        category = cls(id=uuid.uuid4(), name=name)
        category.raise_event(CategoryCreatedEvent(name=name))
        return category


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
    # Products from before categories existed have none, and may keep it that way.
    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.PROTECT, related_name="products"
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gt=0), name="product_price_positive"),
        ]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def create(
        cls, *, name: str, description: str, price: Decimal, category: Category | None = None
    ) -> "Product":
        """A new product, in a category or in none, which raises ProductCreatedEvent."""
        _require_name(name, "A product needs a name.")
        _require_positive_price(price)
        product = cls(
            id=uuid.uuid4(), name=name, description=description, price=price, category=category
        )
        product.raise_event(
            ProductCreatedEvent(
                name=name,
                description=description,
                price=price,
                category_id=category.id if category else None,
            )
        )
        return product

    def rename(self, new_name: str) -> None:
        """Change the name; consumers that keep a copy get the old and the new one."""
        _require_name(new_name, "A product needs a name.")
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

    def move_to_category(self, category: Category) -> None:
        """Put the product in another category; consumers get the old and the new one."""
        if category.id == self.category_id:
            return
        old_category_id, self.category = self.category_id, category
        self.raise_event(
            ProductCategoryChangedEvent(
                old_category_id=old_category_id, new_category_id=category.id
            )
        )

    def sync_inventory(self, *, remaining: int, inventory_version: int) -> bool:
        """Take the stock from an inventory event, unless a newer one was already applied."""
        if inventory_version <= self.inventory_version:
            return False
        self.inventory, self.inventory_version = remaining, inventory_version
        return True


def _require_name(name: str, message: str) -> None:
    if not name.strip():
        raise ValidationError({"name": message})


def _require_positive_price(price: Decimal) -> None:
    if price <= 0:
        raise ValidationError({"price": "The price must be greater than zero."})
