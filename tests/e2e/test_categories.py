"""Categories reach the order context's catalog copy through the outbox, on real RabbitMQ,
relay and worker processes: once for a redelivered event, right for a reordered pair."""

import uuid

import pytest
from kombu import Connection
from rest_framework.test import APIClient

from conftest import Processes
from harness.waiting import wait_until
from orders.models import CatalogCategory, CatalogProduct
from orders.selectors import catalog_product_list
from outbox.core.cloudevents import to_cloudevent
from outbox.models import OutboxEvent, ProcessedEvent
from products.events import CategoryCreatedEvent
from tests.e2e.messages import event_message, publish_all
from tests.e2e.shop import ready_messages

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ORDER_QUEUE = "order-receive-q"
APPLE = {"name": "好吃的苹果", "description": "原生态的苹果", "price": 10.0}


@pytest.fixture
def client(staff_client: APIClient) -> APIClient:
    return staff_client


def create_category(client: APIClient, name: str) -> str:
    response = client.post("/categories", {"name": name}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def create_product(client: APIClient, category_id: str) -> str:
    response = client.post("/products", {**APPLE, "categoryId": category_id}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def catalog_entry(product_id: str) -> tuple[str | None, str | None] | None:
    """The category id and name the order catalog shows for a product, None before it has it."""
    entry = catalog_product_list().filter(product_id=product_id).first()
    if entry is None:
        return None
    return (entry.category_id.hex if entry.category_id else None), entry.category_name


def category_created(name: str) -> dict:
    """The CloudEvent of a CategoryCreatedEvent, as the product context publishes it."""
    event = CategoryCreatedEvent(name=name, aggregate_id=uuid.uuid4().hex, aggregate_version=1)
    return to_cloudevent(event)


def test_a_category_and_a_product_in_it_reach_the_order_catalog(
    processes: Processes, client: APIClient
) -> None:
    fruit, apples = create_category(client, "水果"), create_category(client, "苹果")
    product_id = create_product(client, fruit)

    wait_until(
        lambda: catalog_entry(product_id) == (fruit, "水果"),
        what="the catalog copy has the product in its category, by name",
    )
    moved = client.post(f"/products/{product_id}/category", {"categoryId": apples}, format="json")
    assert moved.status_code == 200

    wait_until(
        lambda: catalog_entry(product_id) == (apples, "苹果"),
        what="the catalog copy followed the product to its new category",
    )
    assert CatalogProduct.objects.get(pk=product_id).category_version == 2


def test_a_redelivered_category_created_event_is_applied_once(
    processes: Processes, broker: Connection
) -> None:
    document, sentinel = category_created("水果"), category_created("Sentinel")

    publish_all([event_message(document), event_message(document), event_message(sentinel)])

    # One consumer takes the queue in order: once the sentinel is in, both copies were handled.
    wait_until(
        lambda: CatalogCategory.objects.filter(pk=sentinel["subject"]).exists(),
        what="the order context handled the sentinel published after both copies",
    )
    assert ready_messages(broker, ORDER_QUEUE) == 0
    processed = ProcessedEvent.objects.filter(consumer="order", event_id=document["id"])
    assert processed.count() == 1
    [copy] = CatalogCategory.objects.filter(pk=document["subject"])
    assert copy.name == "水果"


def test_a_product_delivered_before_its_category_ends_with_the_right_copy(
    processes: Processes, client: APIClient
) -> None:
    processes.stop("relay")
    try:
        fruit = create_category(client, "水果")
        product_id = create_product(client, fruit)
        product_created = OutboxEvent.objects.get(
            aggregate_id=product_id, event_type="ProductCreatedEvent"
        )

        publish_all([event_message(product_created.payload)])

        wait_until(
            lambda: catalog_entry(product_id) == (fruit, None),
            what="the product reached the catalog before its category",
        )
        assert not CatalogCategory.objects.filter(pk=fruit).exists()
    finally:
        processes.start_relay()

    wait_until(
        lambda: catalog_entry(product_id) == (fruit, "水果"),
        what="the category arrived after the product and named it",
    )
    # The relay publishes the product's event again: it never marked it published.
    wait_until(
        lambda: not OutboxEvent.objects.get(pk=product_created.pk).is_pending,
        what="the relay published the product's event a second time",
    )
    sentinel = category_created("Sentinel")
    publish_all([event_message(sentinel)])
    wait_until(
        lambda: CatalogCategory.objects.filter(pk=sentinel["subject"]).exists(),
        what="the order context handled the sentinel queued after the second copy",
    )
    processed = ProcessedEvent.objects.filter(
        consumer="order", event_id=product_created.event_id.hex
    )
    assert processed.count() == 1
    assert catalog_entry(product_id) == (fruit, "水果")
