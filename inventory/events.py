"""Events the inventory context publishes: its contract with the other contexts."""

import dataclasses
from typing import ClassVar

from outbox.core.events import DomainEvent


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


@dataclasses.dataclass(frozen=True, kw_only=True)
class ReleasedItem:
    product_id: str
    count: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class StockReleasedEvent(StockReservationEvent):
    """The order was cancelled: what its reservation held went back into stock (the stock
    saga's compensation). `items` is empty when nothing was reserved: the order had been
    refused, or its cancellation arrived first."""

    order_id: str
    items: tuple[ReleasedItem, ...]


@dataclasses.dataclass(frozen=True, kw_only=True)
class StockReservationAdjustedEvent(StockReservationEvent):
    """The reservation now holds `count` units of the product, as the order's change asked."""

    order_id: str
    change_id: str
    product_id: str
    count: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class StockReservationAdjustmentRejectedEvent(StockReservationEvent):
    """The order's change could not be reserved; the reservation is as it was."""

    order_id: str
    change_id: str
    product_id: str
    count: int
    reason: str
