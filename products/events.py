"""Events the product context publishes: its contract with the other contexts."""

import dataclasses
import uuid
from decimal import Decimal
from typing import ClassVar

from outbox.core.events import DomainEvent


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProductEvent(DomainEvent):
    service: ClassVar[str] = "product"
    aggregate_type: ClassVar[str] = "Product"


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProductCreatedEvent(ProductEvent):
    name: str
    description: str
    price: Decimal
    category_id: uuid.UUID | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProductNameChangedEvent(ProductEvent):
    old_name: str
    new_name: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProductPriceChangedEvent(ProductEvent):
    old_price: Decimal
    new_price: Decimal


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProductCategoryChangedEvent(ProductEvent):
    old_category_id: uuid.UUID | None
    new_category_id: uuid.UUID


@dataclasses.dataclass(frozen=True, kw_only=True)
class CategoryEvent(DomainEvent):
    service: ClassVar[str] = "product"
    aggregate_type: ClassVar[str] = "Category"


@dataclasses.dataclass(frozen=True, kw_only=True)
class CategoryCreatedEvent(CategoryEvent):
    name: str
