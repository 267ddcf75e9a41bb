"""Events the order context publishes: its contract with the other contexts."""

import dataclasses
from decimal import Decimal
from typing import ClassVar

from outbox.core.events import DomainEvent


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


@dataclasses.dataclass(frozen=True, kw_only=True)
class OrderCancelledEvent(OrderEvent):
    """The customer cancelled the order before paying. The inventory puts back what it holds
    for the order by its own record; `items` are the order's lines as the order knows them."""

    items: tuple[OrderLine, ...]


@dataclasses.dataclass(frozen=True, kw_only=True)
class OrderItemCountChangeRequestedEvent(OrderEvent):
    """The customer asked for the item to hold `new_count` units; the inventory answers.

    Version 2. Version 1 called the new count `count`, which reads as well as a number of
    units to add or take away.
    """

    data_version: ClassVar[int] = 2
    change_id: str
    product_id: str
    new_count: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class OrderItemCountChangedEvent(OrderEvent):
    """The inventory holds the new count: the item and the total changed."""

    change_id: str
    product_id: str
    old_count: int
    new_count: int
    total_price: Decimal


@dataclasses.dataclass(frozen=True, kw_only=True)
class OrderItemCountChangeRefusedEvent(OrderEvent):
    """The inventory could not hold the new count; the order is as it was."""

    change_id: str
    product_id: str
    count: int
    reason: str
