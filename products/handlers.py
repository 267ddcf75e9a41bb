"""How the product context reacts to other contexts' events."""

from outbox.core.cloudevents import ReceivedEvent
from outbox.core.registry import EventHandler, Subscription
from products import services


def sync_inventory(event: ReceivedEvent) -> None:
    """Inventory created or changed: keep the product's stock copy (state transfer)."""
    services.product_sync_inventory(
        product_id=event.field("productId", str),
        remaining=event.field("remaining", int),
        inventory_version=event.aggregate_version,
    )


EVENT_HANDLERS: dict[Subscription, EventHandler] = {
    Subscription("inventory", "InventoryCreatedEvent"): sync_inventory,
    Subscription("inventory", "InventoryChangedEvent"): sync_inventory,
}
