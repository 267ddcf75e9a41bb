"""How the order context reacts to events: the product catalog copy, its own read model, and
the rewards of paid orders."""

from decimal import Decimal, InvalidOperation

from orders import services
from orders.events import OrderEvent, OrderPaidEvent
from outbox.cloudevents import MalformedEvent, ReceivedEvent
from outbox.registry import EventHandler, Subscription


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


def add_catalog_product(event: ReceivedEvent) -> None:
    services.catalog_product_add(
        product_id=event.subject,
        product_version=event.aggregate_version,
        name=event.field("name", str),
        price=decimal_field(event, "price"),
    )


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


def decimal_field(event: ReceivedEvent, name: str) -> Decimal:
    try:
        return Decimal(event.field(name, str))
    except InvalidOperation:
        raise MalformedEvent(f"{event.type}: data.{name} is not a decimal") from None


EVENT_HANDLERS: dict[Subscription, EventHandler] = {
    Subscription("product", "ProductCreatedEvent"): add_catalog_product,
    Subscription("product", "ProductNameChangedEvent"): rename_catalog_product,
    Subscription("product", "ProductPriceChangedEvent"): reprice_catalog_product,
    Subscription("inventory", "StockReservedEvent"): confirm_order,
    Subscription("inventory", "StockReservationRejectedEvent"): reject_order,
    **{
        Subscription("order", event_class.event_type()): refresh_order_summary
        for event_class in OrderEvent.__subclasses__()
    },
    # A service has one handler per event type: the payment's refreshes the summary too.
    Subscription("order", OrderPaidEvent.event_type()): reward_paid_order,
}
