"""Faults lose nothing: a worker killed mid-transaction, the broker down, an unroutable event."""

from collections.abc import Iterator
from io import StringIO

import psycopg2
import pytest
from django.conf import settings
from django.core.management import call_command
from kombu import Connection
from rest_framework.test import APIClient

from conftest import Processes, database_url
from harness.waiting import wait_until
from inventory.models import Inventory
from orders.models import OrderSummary
from outbox.core import topology
from outbox.models import DeadLetter, OutboxEvent, ProcessedEvent
from tests.e2e.messages import cloudevent, publish_event
from tests.e2e.shop import ADDRESS, stocked_product
from tests.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def client(staff_client: APIClient) -> APIClient:
    return staff_client


def stocked_inventory(client: APIClient, stock: int) -> tuple[str, Inventory]:
    product_id = stocked_product(client, stock)
    return product_id, Inventory.objects.get(product_id=product_id)


def remaining(inventory: Inventory) -> int:
    inventory.refresh_from_db()
    return inventory.remaining


def order_created(product_id: str, count: int) -> dict:
    return cloudevent(
        "OrderCreatedEvent",
        source="order",
        data={"items": [{"productId": product_id, "count": count, "itemPrice": "10"}]},
    )


@pytest.fixture
def row_lock() -> Iterator[psycopg2.extensions.connection]:
    """A separate database session in which a test holds row locks."""
    session = psycopg2.connect(database_url(settings.DATABASES["default"]))
    yield session
    session.close()


def answers_dead_lettered(count: int) -> None:
    """Wait until the order context has dead-lettered the inventory's `count` answers: the
    orders of these tests exist only on the wire, so their answers fail for good. Waiting for
    that keeps a test's events from failing into the next test's database."""
    wait_until(
        lambda: (
            DeadLetter.objects.filter(service="order", event_type="StockReservedEvent").count()
            == count
        ),
        timeout=60,
        what="the answers to orders the order context never had dead-lettered",
    )


def backend_waiting_for_lock(session: psycopg2.extensions.connection) -> bool:
    with session.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND query ILIKE '%%inventory_inventory%%'"
        )
        return cursor.fetchone()[0] > 0


def test_a_worker_killed_inside_the_handlers_transaction_loses_nothing(
    processes: Processes, client: APIClient, row_lock: psycopg2.extensions.connection
) -> None:
    product_id, inventory = stocked_inventory(client, 10)
    event = order_created(product_id, 3)
    with row_lock.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM inventory_inventory WHERE id = %s FOR UPDATE", [str(inventory.id)]
        )
    publish_event(event)
    observer = psycopg2.connect(database_url(settings.DATABASES["default"]))
    observer.autocommit = True
    try:
        wait_until(lambda: backend_waiting_for_lock(observer), what="handler blocked inside")
        processes.kill("worker")
        row_lock.rollback()
        processes.start_worker()

        wait_until(lambda: remaining(inventory) == 7, what="stock decreased after redelivery")
        wait_until(lambda: not backend_waiting_for_lock(observer), what="old backend gone")
    finally:
        observer.close()
    stocked_product(client, 1)  # a barrier: queued behind any copy of the order event
    assert remaining(inventory) == 7
    assert ProcessedEvent.objects.filter(consumer="inventory", event_id=event["id"]).count() == 1
    answers_dead_lettered(1)


def test_a_batch_cut_off_from_the_database_is_handled_again_in_full(
    processes: Processes, client: APIClient, row_lock: psycopg2.extensions.connection
) -> None:
    product_id, inventory = stocked_inventory(client, 10)
    events = [order_created(product_id, 1), order_created(product_id, 2)]
    with row_lock.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM inventory_inventory WHERE id = %s FOR UPDATE", [str(inventory.id)]
        )
    for event in events:
        publish_event(event)
    observer = psycopg2.connect(database_url(settings.DATABASES["default"]))
    observer.autocommit = True
    try:
        wait_until(lambda: backend_waiting_for_lock(observer), what="handler blocked inside")
        with observer.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND query ILIKE '%%inventory_inventory%%'"
            )
        row_lock.rollback()

        wait_until(lambda: remaining(inventory) == 7, what="both orders' stock taken")
    finally:
        observer.close()
    stocked_product(client, 1)  # a barrier: queued behind any copy of the order events
    assert remaining(inventory) == 7
    handled = ProcessedEvent.objects.filter(
        consumer="inventory", event_id__in=[e["id"] for e in events]
    )
    assert handled.count() == 2
    answers_dead_lettered(2)


def test_orders_taken_while_the_broker_is_out_of_reach_drain_once_it_returns(
    processes: Processes, client: APIClient
) -> None:
    """The relay loses its broker, as when the broker goes down: orders are taken, their events
    wait in the outbox, and all of them are published once the broker is back. The broker is
    cut off by a proxy, never stopped: other tests, and other test workers, are using it."""
    product_id, inventory = stocked_inventory(client, 20)
    order = {"items": [{"productId": product_id, "count": 1, "itemPrice": 10}], "address": ADDRESS}
    broker = Connection(settings.CELERY_BROKER_URL)
    processes.stop("relay")
    try:
        with TcpProxy(broker.hostname, broker.port or 5672) as proxy:
            behind_proxy = broker.clone(hostname="127.0.0.1", port=proxy.port)
            relay = Processes(
                {**processes.env, "CELERY_BROKER_URL": behind_proxy.as_uri(include_password=True)}
            )
            relay.start_relay("relay-behind-proxy")
            try:
                proxy.cut()
                responses = [client.post("/orders", order, format="json") for _ in range(5)]
                assert [response.status_code for response in responses] == [201] * 5
                order_ids = [response.json()["id"] for response in responses]
                pending = OutboxEvent.objects.filter(aggregate_id__in=order_ids, published_at=None)
                assert pending.count() == 5
                proxy.restore()
                wait_until(lambda: not pending.exists(), what="the orders' events all published")
            finally:
                relay.stop_all()
    finally:
        processes.start_relay()

    wait_until(lambda: remaining(inventory) == 15, timeout=90, what="every order took stock")
    wait_until(
        lambda: OrderSummary.objects.filter(order_id__in=order_ids).count() == 5,
        timeout=30,
        what="every order in the read model",
    )
    stocked_product(client, 1)  # a barrier behind any redelivered copy
    assert remaining(inventory) == 15


def test_an_unroutable_event_is_kept_and_republished_once_a_queue_is_bound(
    processes: Processes, broker: Connection
) -> None:
    event = cloudevent("ProductRecalledEvent", source="product", data={"reason": "test"})

    publish_event(event)

    record = wait_until(
        lambda: DeadLetter.objects.filter(event_id=event["id"]).first(), what="unroutable kept"
    )
    assert record.kind == DeadLetter.Kind.UNROUTABLE
    assert record.service == "product"
    assert "No queue was bound" in record.error_message

    channel = broker.default_channel
    channel.queue_declare("recall-watcher", durable=False, auto_delete=False)
    channel.queue_bind("recall-watcher", topology.publish_exchange("product"), event["type"])
    try:
        out = StringIO()
        call_command("republish_unroutable", "--event-type", event["type"], stdout=out)
        assert "Moved 1, skipped 0, failed 0." in out.getvalue()
        message = wait_until(lambda: channel.basic_get("recall-watcher", no_ack=True))
        assert message.body.decode().count(event["id"]) == 1
        record.refresh_from_db()
        assert record.status == DeadLetter.Status.REPLAYED
    finally:
        channel.queue_delete("recall-watcher")
