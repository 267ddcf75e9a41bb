"""How the inventory context reacts to other contexts' events."""

from collections.abc import Mapping
from typing import Any

from inventory import services
from outbox.core.cloudevents import MalformedEvent, ReceivedEvent
from outbox.core.registry import EventHandler, FormerVersion, Subscription, Upcaster


def create_inventory(event: ReceivedEvent) -> None:
    """A product was created: it gets an empty inventory."""
    services.inventory_create_for_product(
        product_id=event.subject,
        product_name=event.field("name", str),
        product_version=event.aggregate_version,
    )


def sync_product_name(event: ReceivedEvent) -> None:
    """A product was renamed: keep the inventory's copy of the name."""
    services.inventory_sync_product_name(
        product_id=event.subject,
        name=event.field("newName", str),
        product_version=event.aggregate_version,
    )


def reserve_stock_for_order(event: ReceivedEvent) -> None:
    """An order was created: take its items out of stock, or refuse it."""
    services.stock_reserve_for_order(order_id=event.subject, items=order_items(event))


def release_stock_for_order(event: ReceivedEvent) -> None:
    """An order was cancelled: put back what was reserved for it."""
    services.stock_release_for_order(
        order_id=event.subject,
        order_version=event.aggregate_version,
        order_items=order_items(event),
    )


def adjust_stock_for_order(event: ReceivedEvent) -> None:
    """An order's item count is to change: adjust the reservation, or refuse the change."""
    count = event.field("newCount", int)
    if count < 1:
        raise MalformedEvent(f"{event.type}: data.newCount is {count}, not a positive count")
    services.stock_reservation_adjust(
        order_id=event.subject,
        order_version=event.aggregate_version,
        change_id=event.field("changeId", str),
        product_id=event.field("productId", str),
        count=count,
    )


def item_count_change_from_version_1(data: Mapping[str, Any]) -> dict[str, Any]:
    """Version 1 of OrderItemCountChangeRequestedEvent called the new count `count`."""
    upcast = dict(data)
    upcast["newCount"] = upcast.pop("count")
    return upcast


def order_items(event: ReceivedEvent) -> list[tuple[str, int]]:
    """(product id, count) of each item of an OrderCreatedEvent or an OrderCancelledEvent."""
    items = event.field("items", list)
    try:
        return [(str(item["productId"]), int(item["count"])) for item in items]
    except (TypeError, KeyError, ValueError) as error:
        raise MalformedEvent(f"{event.type}: data.items is not a list of items: {error}") from None


EVENT_HANDLERS: dict[Subscription, EventHandler] = {
    Subscription("product", "ProductCreatedEvent"): create_inventory,
    Subscription("product", "ProductNameChangedEvent"): sync_product_name,
    Subscription("order", "OrderCreatedEvent"): reserve_stock_for_order,
    Subscription("order", "OrderCancelledEvent"): release_stock_for_order,
    Subscription("order", "OrderItemCountChangeRequestedEvent"): adjust_stock_for_order,
}

# Accepted while events of the former version may still be on the wire (docs/architecture.md,
# "Event versions").
UPCASTERS: dict[FormerVersion, Upcaster] = {
    FormerVersion(
        Subscription("order", "OrderItemCountChangeRequestedEvent"), 1
    ): item_count_change_from_version_1,
}
