"""Events the inventory context publishes: its contract with the other contexts."""

import dataclasses
from typing import ClassVar

from outbox.events import DomainEvent


@dataclasses.dataclass(frozen=True, kw_only=True)
class InventoryEvent(DomainEvent):
    service: ClassVar[str] = "inventory"
    aggregate_type: ClassVar[str] = "Inventory"


@dataclasses.dataclass(frozen=True, kw_only=True)
class InventoryCreatedEvent(InventoryEvent):
    product_id: str
    product_name: str
    remaining: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class InventoryChangedEvent(InventoryEvent):
    """The stock of a product changed by `change` (negative when it decreased)."""

    product_id: str
    remaining: int
    change: int
    reason: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class StockReservationEvent(DomainEvent):
    service: ClassVar[str] = "inventory"
    aggregate_type: ClassVar[str] = "StockReservation"


@dataclasses.dataclass(frozen=True, kw_only=True)
class StockReservedEvent(StockReservationEvent):
    """Every item of the order was taken out of stock."""

    order_id: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class StockReservationRejectedEvent(StockReservationEvent):
    """The stock could not cover the order; nothing was taken out."""

    order_id: str
    reason: str
