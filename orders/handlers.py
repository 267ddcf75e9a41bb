"""How the order context reacts to events: the product catalog copy, its own read model, and
the rewards of paid orders."""

import uuid
from decimal import Decimal, InvalidOperation

from orders import services
from orders.events import OrderEvent, OrderItemCountChangeRequestedEvent, OrderPaidEvent
from outbox.core.cloudevents import MalformedEvent, ReceivedEvent
from outbox.core.registry import EventHandler, FormerVersion, Subscription, Upcaster
from outbox.core.versions import data_not_read


def refresh_order_summary(event: ReceivedEvent) -> None:
    """Any order event means "re-read order X" for the read model (event notification)."""
    services.order_summary_refresh(order_id=event.subject)


def reward_paid_order(event: ReceivedEvent) -> None:
    """A paid order earns its rewards, and the read model shows the payment.

    Through the outbox, not an in-process listener: a reward that a crash lost, or that a
    rolled-back payment granted, would be a promise broken to the customer.
    """
    services.order_summary_refresh(order_id=event.subject)
    services.loyalty_reward_paid_order(order_id=event.subject)


def confirm_order(event: ReceivedEvent) -> None:
    """The inventory reserved the order's items (the happy end of the stock saga)."""
    services.order_confirm(order_id=event.field("orderId", str))


def reject_order(event: ReceivedEvent) -> None:
    """The inventory could not cover the order (the end of the stock saga)."""
    services.order_reject(order_id=event.field("orderId", str), reason=event.field("reason", str))


def apply_item_count_change(event: ReceivedEvent) -> None:
    """The inventory holds an item's new count: the order takes it."""
    services.order_apply_item_count_change(
        order_id=event.field("orderId", str), change_id=event.field("changeId", str)
    )


def refuse_item_count_change(event: ReceivedEvent) -> None:
    """The inventory could not hold an item's new count: the order keeps the old one."""
    services.order_refuse_item_count_change(
        order_id=event.field("orderId", str),
        change_id=event.field("changeId", str),
        reason=event.field("reason", str),
    )


def record_stock_released(event: ReceivedEvent) -> None:
    """The inventory put back a cancelled order's stock (the saga's compensation is done)."""
    services.order_record_stock_released(order_id=event.field("orderId", str))


def add_catalog_product(event: ReceivedEvent) -> None:
    services.catalog_product_add(
        product_id=event.subject,
        product_version=event.aggregate_version,
        name=event.field("name", str),
        price=decimal_field(event, "price"),
    )
    # Null for a product in no category; absent from events of before categories existed.
    if event.data.get("categoryId") is not None:
        categorize_catalog_product(event, "categoryId")


def rename_catalog_product(event: ReceivedEvent) -> None:
    services.catalog_product_update(
        product_id=event.subject,
        product_version=event.aggregate_version,
        name=event.field("newName", str),
    )


def reprice_catalog_product(event: ReceivedEvent) -> None:
    services.catalog_product_update(
        product_id=event.subject,
        product_version=event.aggregate_version,
        price=decimal_field(event, "newPrice"),
    )


def move_catalog_product(event: ReceivedEvent) -> None:
    categorize_catalog_product(event, "newCategoryId")


def categorize_catalog_product(event: ReceivedEvent, category_field: str) -> None:
    services.catalog_product_categorize(
        product_id=event.subject,
        product_version=event.aggregate_version,
        category_id=uuid_field(event, category_field),
    )


def add_catalog_category(event: ReceivedEvent) -> None:
    """A new category's name, for the products that are, or will be, in it."""
    services.catalog_category_add(category_id=event.subject, name=event.field("name", str))


def uuid_field(event: ReceivedEvent, name: str) -> str:
    try:
        return uuid.UUID(event.field(name, str)).hex
    except ValueError:
        raise MalformedEvent(f"{event.type}: data.{name} is not an id") from None


def decimal_field(event: ReceivedEvent, name: str) -> Decimal:
    try:
        return Decimal(event.field(name, str))
    except InvalidOperation:
        raise MalformedEvent(f"{event.type}: data.{name} is not a decimal") from None


EVENT_HANDLERS: dict[Subscription, EventHandler] = {
    Subscription("product", "ProductCreatedEvent"): add_catalog_product,
    Subscription("product", "ProductNameChangedEvent"): rename_catalog_product,
    Subscription("product", "ProductPriceChangedEvent"): reprice_catalog_product,
    Subscription("product", "ProductCategoryChangedEvent"): move_catalog_product,
    Subscription("product", "CategoryCreatedEvent"): add_catalog_category,
    Subscription("inventory", "StockReservedEvent"): confirm_order,
    Subscription("inventory", "StockReservationRejectedEvent"): reject_order,
    Subscription("inventory", "StockReservationAdjustedEvent"): apply_item_count_change,
    Subscription("inventory", "StockReservationAdjustmentRejectedEvent"): refuse_item_count_change,
    Subscription("inventory", "StockReleasedEvent"): record_stock_released,
    **{
        Subscription("order", event_class.event_type()): refresh_order_summary
        for event_class in OrderEvent.__subclasses__()
    },
    # A service has one handler per event type: the payment's refreshes the summary too.
    Subscription("order", OrderPaidEvent.event_type()): reward_paid_order,
}

# The read model reads nothing of the order's own events, so it takes version 1 of the item
# count change as it is, while such events may still be on the wire.
UPCASTERS: dict[FormerVersion, Upcaster] = {
    FormerVersion(Subscription("order", OrderItemCountChangeRequestedEvent.event_type()), 1): (
        data_not_read
    ),
}
