"""Events the order context publishes: its contract with the other contexts."""

import dataclasses
from decimal import Decimal
from typing import ClassVar

from outbox.events import DomainEvent


@dataclasses.dataclass(frozen=True)
class OrderLine:
    product_id: str
    count: int
    item_price: Decimal


@dataclasses.dataclass(frozen=True)
class Address:
    province: str
    city: str
    detail: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class OrderEvent(DomainEvent):
    service: ClassVar[str] = "order"
    aggregate_type: ClassVar[str] = "Order"


@dataclasses.dataclass(frozen=True, kw_only=True)
class OrderCreatedEvent(OrderEvent):
    customer_id: int
    items: tuple[OrderLine, ...]
    address: Address
    total_price: Decimal


@dataclasses.dataclass(frozen=True, kw_only=True)
class OrderAddressChangedEvent(OrderEvent):
    old_detail: str
    new_detail: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class OrderPaidEvent(OrderEvent):
    paid_price: Decimal


@dataclasses.dataclass(frozen=True, kw_only=True)
class OrderConfirmedEvent(OrderEvent):
    """The inventory reserved the order's items."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class OrderRejectedEvent(OrderEvent):
    reason: str
