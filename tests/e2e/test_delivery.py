"""At-least-once delivery, exactly one effect: with real RabbitMQ, relay and worker processes."""

import json
import uuid
from decimal import Decimal

import pytest
from kombu import Connection
from rest_framework.test import APIClient

from conftest import Processes
from harness.waiting import wait_until
from orders.events import Address, OrderCreatedEvent, OrderLine
from outbox.core.cloudevents import CONTENT_TYPE, to_cloudevent
from outbox.core.publisher import OutgoingMessage
from outbox.models import ProcessedEvent
from tests.e2e.messages import publish_all
from tests.e2e.shop import created_product, inventory_of, wait_until_inventory_queue_drained

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def client(staff_client: APIClient) -> APIClient:
    return staff_client


def order_created_body(product_id: str, count: int) -> tuple[str, bytes]:
    """The id and the CloudEvent of an OrderCreatedEvent, as the order context publishes it."""
    line = OrderLine(product_id=product_id, count=count, item_price=Decimal("10"))
    event = OrderCreatedEvent(
        customer_id=1,
        items=(line,),
        address=Address(province="四川", city="成都", detail="天府软件园1号"),
        total_price=line.item_price * count,
        aggregate_id=uuid.uuid4().hex,
        aggregate_version=1,
    )
    return event.event_id.hex, json.dumps(to_cloudevent(event)).encode()


def publish_twice(body: bytes) -> None:
    """Publish the very same message twice, each confirmed by the broker."""
    message = OutgoingMessage(
        "order-publish-x", "OrderCreatedEvent", body, {"content_type": CONTENT_TYPE}
    )
    publish_all([message, message])


def test_delivering_the_same_message_twice_changes_stock_once(
    processes: Processes, broker: Connection, client: APIClient
) -> None:
    product_id = created_product(client)
    inventory = wait_until(lambda: inventory_of(product_id), what="inventory created")
    response = client.post(
        f"/inventories/{inventory.id.hex}/increase", {"increaseNumber": 10}, format="json"
    )
    assert response.status_code == 200
    event_id, body = order_created_body(product_id, count=2)

    publish_twice(body)

    processed = ProcessedEvent.objects.filter(consumer="inventory", event_id=event_id)
    wait_until(
        lambda: processed.exists() and inventory_of(product_id).remaining == 8,
        what="the first copy decreased the stock",
    )
    wait_until_inventory_queue_drained(client, broker, product_id)
    assert inventory_of(product_id).remaining == 8
    assert processed.count() == 1
