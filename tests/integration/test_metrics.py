"""The metrics counted in-process against real PostgreSQL and RabbitMQ, and the web's /metrics
and the admin's operations page that show them."""

import json
from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.conf import settings
from django.test import Client, override_settings
from kombu import Connection

from outbox.core import topology
from outbox.core.publisher import ConfirmingPublisher
from outbox.core.registry import get_service
from outbox.core.relay import Relay
from outbox.models import DeadLetter, OutboxEvent
from outbox.tests.rows import saved_outbox_event
from products.services import product_create
from tests.consuming import deliver
from tests.metrics_text import Scrape

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "metrics-token-of-these-tests"


@pytest.fixture(autouse=True)
def metrics_token() -> Iterator[None]:
    with override_settings(METRICS={**settings.METRICS, "TOKEN": TOKEN}):
        yield


def metrics(client: Client) -> Scrape:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content
    return Scrape(response.content.decode())


def product_created_body() -> bytes:
    product = product_create(name="Apple", description="", price=Decimal("10"))
    row = OutboxEvent.objects.get(aggregate_id=product.id.hex)
    return json.dumps(row.payload).encode()


@pytest.mark.events_written_by_hand
def test_a_relay_batch_counts_its_events_by_service_and_its_duration(
    client: Client, broker: Connection
) -> None:
    before = metrics(client)
    saved_outbox_event(service="inventory", event_type="InventoryChangedEvent")
    product_create(name="Apple", description="", price=Decimal("10"))
    product_create(name="Pear", description="", price=Decimal("10"))

    relay = Relay(ConfirmingPublisher(settings.CELERY_BROKER_URL))
    try:
        assert relay.publish_pending() == 3
    finally:
        relay.publisher.close()
        broker.default_channel.queue_purge(topology.receive_queue("inventory"))
        broker.default_channel.queue_purge(topology.receive_queue("order"))
        broker.default_channel.queue_purge(topology.receive_queue("product"))

    after = metrics(client)
    published = "outbox_events_published_total"
    assert after.moved(before, published, service="product") == 2
    assert after.moved(before, published, service="inventory") == 1
    assert (
        after.moved(before, "outbox_publish_batch_duration_seconds_count", database="default") == 1
    )
    assert after.value("outbox_last_publish_batch_events", database="default") == 3
    assert after.value("outbox_pending_events", database="default") == 0


def test_a_consumer_batch_counts_each_outcome_by_consumer_and_event_type(client: Client) -> None:
    before = metrics(client)
    body = product_created_body()
    inventory = get_service("inventory")

    outcomes = deliver(inventory, [body, body, b"{not json"])

    assert [type(outcome).__name__ for outcome in outcomes] == [
        "Outcome",
        "Outcome",
        "MalformedEvent",
    ]
    after = metrics(client)
    moved = after.moved
    handled = "outbox_events_handled_total"
    labels = {"consumer": "inventory", "event_type": "ProductCreatedEvent"}
    assert moved(before, handled, **labels, outcome="handled") == 1
    assert moved(before, handled, **labels, outcome="duplicate") == 1
    assert (
        moved(before, handled, consumer="inventory", event_type="unreadable", outcome="failed") == 1
    )
    assert moved(before, "outbox_handler_duration_seconds_count", **labels) == 1
    assert moved(before, "outbox_consumer_batch_duration_seconds_count", consumer="inventory") == 1


def test_a_batch_handled_again_after_a_failure_counts_each_event_once(client: Client) -> None:
    before = metrics(client)
    handled_first, broken, handled_last = (product_created_body() for _ in range(3))
    document = json.loads(broken)
    del document["data"]["name"]

    outcomes = deliver(
        get_service("inventory"), [handled_first, json.dumps(document).encode(), handled_last]
    )

    assert [type(outcome).__name__ for outcome in outcomes] == [
        "Outcome",
        "MalformedEvent",
        "Outcome",
    ]
    moved = metrics(client).moved
    labels = {"consumer": "inventory", "event_type": "ProductCreatedEvent"}
    assert moved(before, "outbox_events_handled_total", **labels, outcome="handled") == 2
    assert moved(before, "outbox_events_handled_total", **labels, outcome="failed") == 1
    assert moved(before, "outbox_handler_duration_seconds_count", **labels) == 2


@pytest.mark.events_written_by_hand
def test_metrics_show_the_outbox_backlog_dead_letters_and_queue_depths(
    client: Client, broker: Connection
) -> None:
    for _ in range(3):
        saved_outbox_event()
    oldest = OutboxEvent.objects.order_by("id").first()
    OutboxEvent.objects.filter(pk=oldest.pk).update(created_at=oldest.created_at.replace(year=2025))
    DeadLetter.objects.create(
        message_key="inventory:one", service="inventory", kind="failed", body=b"{}"
    )
    DeadLetter.objects.create(
        message_key="order:one", service="order", kind="unroutable", body=b"{}"
    )
    DeadLetter.objects.create(
        message_key="order:two", service="order", kind="failed", body=b"{}", status="replayed"
    )

    scrape = metrics(client)

    assert scrape.value("outbox_database_up", database="default") == 1
    assert scrape.value("outbox_pending_events", database="default") == 3
    assert scrape.value("outbox_oldest_pending_event_age_seconds", database="default") > 86400
    pending = "outbox_dead_letters_pending"
    assert scrape.value(pending, service="inventory", kind="failed") == 1
    assert scrape.value(pending, service="order", kind="unroutable") == 1
    assert scrape.value(pending, service="order", kind="failed") == 0
    assert scrape.has(pending, service="product", kind="failed")
    assert scrape.value("outbox_broker_up") == 1
    receive = {"queue": "order-receive-q", "service": "order", "role": "receive"}
    assert scrape.has("outbox_queue_messages", **receive)
    assert scrape.has("outbox_queue_consumers", **receive)
    assert scrape.has("outbox_queue_messages", queue="order-receive-dlq", role="failed")


def test_metrics_ask_for_the_token(client: Client) -> None:
    refused = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer guess")
    right = client.get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")

    assert refused.status_code == wrong.status_code == 403
    assert "METRICS_TOKEN" in refused.content.decode()
    assert right.status_code == 200
    assert b"outbox_pending_events" in right.content


@override_settings(METRICS={**settings.METRICS, "TOKEN": ""}, DEBUG=False)
def test_without_a_token_metrics_are_closed_to_everyone_while_debug_is_off(client: Client) -> None:
    local = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    guessed = client.get("/metrics", HTTP_AUTHORIZATION="Bearer ")

    assert local.status_code == guessed.status_code == 403
    assert "METRICS_TOKEN is not set" in local.content.decode()


@override_settings(METRICS={**settings.METRICS, "TOKEN": ""}, DEBUG=True)
def test_without_a_token_metrics_answer_this_machine_only_while_debug_is_on(
    client: Client,
) -> None:
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200


def test_metrics_turned_off_count_nothing_and_answer_404(client: Client) -> None:
    before = metrics(client)

    with override_settings(METRICS={**settings.METRICS, "ENABLED": False}):
        deliver(get_service("inventory"), [product_created_body()])
        assert client.get("/metrics").status_code == 404

    handled = {"consumer": "inventory", "event_type": "ProductCreatedEvent", "outcome": "handled"}
    after = metrics(client)
    assert after.moved(before, "outbox_events_handled_total", **handled) == 0


OPERATIONS = "/admin/operations/"


@pytest.mark.events_written_by_hand
def test_the_operations_page_shows_lag_dead_letters_queues_and_the_last_batch(
    admin_client: Client, broker: Connection
) -> None:
    for _ in range(2):
        saved_outbox_event()
    last_batch_time = "2026-03-04T05:06:07Z"
    for _ in range(4):
        saved_outbox_event(published_at=last_batch_time)
    saved_outbox_event(published_at="2026-03-04T05:00:00Z")
    DeadLetter.objects.create(
        message_key="inventory:one", service="inventory", kind="failed", body=b"{}"
    )

    page = admin_client.get(OPERATIONS)

    assert page.status_code == 200
    assert page.context["broker_error"] == ""
    [database] = page.context["databases"]
    assert database["lag"].pending == 2
    assert database["last_batch"].size == 4
    assert database["last_batch"].published_at.isoformat() == "2026-03-04T05:06:07+00:00"
    pending = {(row.service, row.kind): row.pending for row in database["dead_letters"]}
    assert pending[("inventory", "failed")] == 1 and pending[("order", "unroutable")] == 0
    queues = {queue.queue: queue for queue in page.context["queues"]}
    assert {"inventory-receive-q", "inventory-receive-dlq", "inventory-publish-dlq"} <= set(queues)
    html = page.content.decode()
    assert "2026-03-04 05:06:07" in html and "inventory-receive-dlq" in html


def test_the_operations_page_is_for_staff_and_linked_from_the_admin_index(
    admin_client: Client, client: Client, django_user_model: type
) -> None:
    assert OPERATIONS in admin_client.get("/admin/").content.decode()
    customer = django_user_model.objects.create_user(username="shopper", password="pw")
    client.force_login(customer)

    refused = client.get(OPERATIONS)

    assert refused.status_code == 302 and refused["Location"].startswith("/admin/login/")
