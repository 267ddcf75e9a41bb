"""A breaking change on the wire, with real RabbitMQ, relay and worker processes.

OrderItemCountChangeRequestedEvent is version 2 (the wanted count is `newCount`); version 1
(`count`) is still accepted while its events drain. A change asked for by the previous release,
whose event waits in the inventory's queue as version 1, and one asked for now go through side
by side: the inventory upcasts the first, and both orders end with the count they asked for.
"""

from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from rest_framework.test import APIClient

from conftest import Processes
from harness.waiting import wait_until
from inventory.models import StockReservation
from orders.models import Order
from orders.services import order_request_item_count_change
from outbox.models import OutboxEvent, ProcessedEvent
from tests.e2e.messages import publish_event
from tests.e2e.shop import stocked_product
from tests.e2e.test_cancel_and_change import (
    change_count,
    place_order,
    settled_change,
    stock_everywhere,
    wait_for_status,
)
from tests.former_versions import ITEM_COUNT_CHANGE_REQUESTED, item_count_change_as_version_1

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def requested_by_the_previous_release(order_id: str, product_id: str, count: int) -> dict:
    """Ask for the change as the previous release did: its outbox row held version 1, and its
    relay published it before this release started. The CloudEvent it published."""
    order = Order.objects.get(pk=order_id)
    with transaction.atomic():
        order_request_item_count_change(
            order_id=order_id, customer_id=order.customer_id, product_id=product_id, count=count
        )
        row = OutboxEvent.objects.select_for_update().get(
            aggregate_id=order_id, event_type=ITEM_COUNT_CHANGE_REQUESTED
        )
        row.payload = item_count_change_as_version_1(row.payload)
        row.published_at = timezone.now()
        row.save(update_fields=["payload", "published_at"])
    return row.payload


def handled_by_inventory(cloudevent: dict[str, Any]) -> bool:
    return ProcessedEvent.objects.filter(consumer="inventory", event_id=cloudevent["id"]).exists()


def test_a_change_of_version_1_and_one_of_version_2_are_handled_side_by_side(
    processes: Processes, staff_client: APIClient
) -> None:
    apple = stocked_product(staff_client, 10)
    before, now = place_order(staff_client, apple, 1), place_order(staff_client, apple, 1)
    for order_id in (before, now):
        wait_for_status(staff_client, order_id, "CONFIRMED")

    left_in_the_queue = requested_by_the_previous_release(before, apple, 3)
    publish_event(left_in_the_queue)
    change_count(staff_client, now, apple, 4)

    assert left_in_the_queue["data"]["count"] == 3
    current = OutboxEvent.objects.get(aggregate_id=now, event_type=ITEM_COUNT_CHANGE_REQUESTED)
    assert current.payload["data"]["newCount"] == 4
    assert current.payload["dataschema"].endswith(":v2")
    for order_id, count in ((before, 3), (now, 4)):
        settled = settled_change(staff_client, order_id)
        assert ([item["count"] for item in settled["items"]], settled["totalPrice"]) == (
            [count],
            count * 10,
        )
        assert StockReservation.objects.get(pk=order_id).held == {apple: count}
    wait_until(lambda: handled_by_inventory(left_in_the_queue), what="the inventory handled v1")
    stock_everywhere(staff_client, apple, 10 - 3 - 4)
