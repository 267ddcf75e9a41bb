"""At-least-once delivery, exactly one effect: with real RabbitMQ, relay and worker processes."""

import json
import signal
import subprocess
import sys
import uuid
from decimal import Decimal

import pytest
from django.conf import settings
from kombu import Connection
from rest_framework.test import APIClient

from conftest import PROJECT_DIR, Processes, database_url
from inventory.models import Inventory
from orders.events import Address, OrderCreatedEvent, OrderLine
from outbox.cloudevents import CONTENT_TYPE, to_cloudevent
from outbox.models import OutboxEvent, ProcessedEvent
from tests.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def client(staff_client: APIClient) -> APIClient:
    return staff_client


INVENTORY_QUEUE = "inventory-receive-q"
APPLE = {"name": "好吃的苹果", "description": "原生态的苹果", "price": 10.0}

# Claims the pending outbox rows and publishes them with confirms, as the relay does, then
# dies by SIGKILL before marking them published: the crash window of the outbox pattern.
PUBLISH_THEN_DIE = """
import os, signal
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecommerce.settings")
django.setup()
from django.conf import settings
from django.db import transaction
from outbox.publisher import ConfirmingPublisher
from outbox.relay import claim_batch

publisher = ConfirmingPublisher(settings.CELERY_BROKER_URL)
with transaction.atomic():
    batch = claim_batch("default", 100)
    publisher.publish([event.to_message() for event in batch])
    print(" ".join(event.event_id for event in batch), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
"""


def create_product(client: APIClient) -> str:
    response = client.post("/products", APPLE, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def inventory_of(product_id: str) -> Inventory | None:
    return Inventory.objects.filter(product_id=product_id).first()


def ready_messages(broker: Connection, queue: str) -> int:
    _, ready, _ = broker.default_channel.queue_declare(queue, passive=True)
    return ready


def consumers_of(broker: Connection, queue: str) -> int:
    _, _, consumers = broker.default_channel.queue_declare(queue, passive=True)
    return consumers


def wait_until_inventory_queue_drained(
    client: APIClient, broker: Connection, product_id: str
) -> None:
    """Queue a later message for the inventory and wait until the worker has handled it.

    One consumer takes the queue in order and acknowledges each message before the next: once
    this rename is applied, every message queued before it has been handled and acknowledged.
    """
    assert consumers_of(broker, INVENTORY_QUEUE) == 1, "the in-order argument needs one consumer"
    response = client.post(f"/products/{product_id}/name", {"newName": "红富士"}, format="json")
    assert response.status_code == 200
    wait_until(
        lambda: inventory_of(product_id).product_name == "红富士",
        what="the inventory handled the rename queued after the earlier messages",
    )
    assert ready_messages(broker, INVENTORY_QUEUE) == 0


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
    with Connection(
        settings.CELERY_BROKER_URL, transport_options={"confirm_publish": True}
    ) as connection:
        producer = connection.Producer()
        for _ in range(2):
            producer.publish(
                body,
                exchange="order-publish-x",
                routing_key="OrderCreatedEvent",
                content_type=CONTENT_TYPE,
                content_encoding="utf-8",
                delivery_mode="persistent",
                retry=False,
            )


def test_delivering_the_same_message_twice_changes_stock_once(
    processes: Processes, broker: Connection, client: APIClient
) -> None:
    product_id = create_product(client)
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


def test_killing_the_relay_between_publish_and_mark_still_delivers_one_effect(
    processes: Processes, broker: Connection, client: APIClient
) -> None:
    processes.stop("relay")
    try:
        product_id = create_product(client)
        row = OutboxEvent.objects.get(aggregate_id=product_id, event_type="ProductCreatedEvent")
        env = {
            **processes.env,
            "DATABASE_URL": database_url(settings.DATABASES["default"]),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        }

        died = subprocess.run(
            [sys.executable, "-c", PUBLISH_THEN_DIE],
            cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip

        assert died.returncode == -signal.SIGKILL, died.stderr
        assert row.event_id.hex in died.stdout.split()
        row.refresh_from_db()
        assert row.is_pending
    finally:
        if "relay" not in processes.running:
            processes.start_relay()

    wait_until(
        lambda: not OutboxEvent.objects.get(pk=row.pk).is_pending and inventory_of(product_id),
        what="the restarted relay published the event again and the inventory exists",
    )
    wait_until_inventory_queue_drained(client, broker, product_id)
    [inventory] = Inventory.objects.filter(product_id=product_id)
    created = OutboxEvent.objects.filter(
        aggregate_id=inventory.id.hex, event_type="InventoryCreatedEvent"
    )
    assert created.count() == 1
    processed = ProcessedEvent.objects.filter(consumer="inventory", event_id=row.event_id.hex)
    assert processed.count() == 1
