"""Rewards for orders: seed 004's example of listeners added without touching the order code.

When an order is created the customer earns points and, above a set total, a coupon. Each
reward is an AFTER_COMMIT listener with its own transaction: it runs only if the order
committed, and a failing reward is logged without undoing the order.
"""

from decimal import ROUND_DOWN, Decimal

from django.conf import settings

from orders.events import OrderCreatedEvent
from orders.models import Coupon, LoyaltyPoints
from outbox.listeners import listen


@listen(OrderCreatedEvent)
def award_points(event: OrderCreatedEvent) -> None:
    """One point per whole unit of the order's total."""
    points = int(event.total_price.quantize(Decimal("1"), rounding=ROUND_DOWN))
    LoyaltyPoints.objects.get_or_create(
        order_id=event.aggregate_id,
        defaults={"customer_id": event.customer_id, "points": points},
    )


@listen(OrderCreatedEvent)
def grant_coupon_for_large_order(event: OrderCreatedEvent) -> None:
    """A coupon for an order of at least LOYALTY_COUPON_THRESHOLD."""
    if event.total_price < settings.LOYALTY["COUPON_THRESHOLD"]:
        return
    Coupon.objects.get_or_create(
        order_id=event.aggregate_id,
        defaults={"customer_id": event.customer_id, "amount": settings.LOYALTY["COUPON_AMOUNT"]},
    )
