"""Events the product context publishes: its contract with the other contexts."""

import dataclasses
from decimal import Decimal
from typing import ClassVar

from outbox.events import DomainEvent


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProductEvent(DomainEvent):
    service: ClassVar[str] = "product"
    aggregate_type: ClassVar[str] = "Product"


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProductCreatedEvent(ProductEvent):
    name: str
    description: str
    price: Decimal


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProductNameChangedEvent(ProductEvent):
    old_name: str
    new_name: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProductPriceChangedEvent(ProductEvent):
    old_price: Decimal
    new_price: Decimal
