"""Crashes of the real processes at the worst moments lose nothing and apply nothing twice.

Each test starts a real relay, worker or web process armed at a crash point of
`outbox.core.faults` (OUTBOX_CRASH_AT), proves that it died there by SIGKILL, then that every
effect arrived, once.
"""

import re
import signal
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests
from django.contrib.auth.models import AbstractUser
from knox.models import AuthToken
from kombu import Connection
from rest_framework.test import APIClient

from conftest import Processes
from harness.processes import consumer_count
from harness.waiting import wait_until
from inventory.models import Inventory, StockReservation
from orders.models import CatalogProduct, Order
from outbox.core import topology
from outbox.core.faults import CRASH_AT_VARIABLE, CrashPoint
from outbox.models import OutboxEvent, ProcessedEvent
from tests.e2e.shop import (
    ADDRESS,
    created_product,
    inventory_of,
    orderable_product,
    wait_until_inventory_queue_drained,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# What `outbox.core.faults` logs as it kills its process.
CRASH_MARKER = re.compile(r"crash point (?P<point>[a-z-]+) reached: process (?P<pid>\d+) kills")


def armed(processes: Processes, point: CrashPoint, event_type: str, **env: str) -> Processes:
    """Processes on the session's test database and broker, armed to crash at `point`."""
    return Processes({**processes.env, CRASH_AT_VARIABLE: f"{point}:{event_type}", **env})


def assert_killed_at(processes: Processes, name: str, point: CrashPoint) -> None:
    """Wait for an armed process to die; it died by SIGKILL, at `point`."""
    process = processes.running.pop(name)
    wait_until(lambda: process.poll() is not None, timeout=60, what=f"{name} dead at {point}")
    log = processes.written_since_start(name)
    assert process.returncode == -signal.SIGKILL, log[-3000:]
    crashes = [match.groupdict() for match in CRASH_MARKER.finditer(log)]
    assert crashes == [{"point": point, "pid": str(process.pid)}], log[-3000:]


def skipped_as_duplicate(processes: Processes, consumer: str, event: OutboxEvent) -> bool:
    """Whether the session's worker logged a copy of the event it had handled before."""
    line = f"{consumer} skipped duplicate {event.event_type} {event.event_id.hex}"
    return line in processes.written_since_start("worker")


def order_body(product_id: str, count: int) -> dict:
    return {
        "items": [{"productId": product_id, "count": count, "itemPrice": 10}],
        "address": ADDRESS,
    }


def test_the_relay_killed_between_publish_and_mark_publishes_again_and_the_effect_is_once(
    processes: Processes, broker: Connection, staff_client: APIClient
) -> None:
    processes.stop("relay")
    crashing = armed(processes, CrashPoint.RELAY_AFTER_PUBLISH, "ProductCreatedEvent")
    try:
        product_id = created_product(staff_client)
        created = OutboxEvent.objects.get(aggregate_id=product_id, event_type="ProductCreatedEvent")
        crashing.start_relay("crashing-relay", wait=False)

        assert_killed_at(crashing, "crashing-relay", CrashPoint.RELAY_AFTER_PUBLISH)
        wait_until(lambda: inventory_of(product_id), what="the crashed relay's copy handled")
        created.refresh_from_db()
        assert created.is_pending, "the mark died with the relay's transaction"
    finally:
        crashing.stop_all()
        processes.start_relay()

    wait_until(
        lambda: (
            skipped_as_duplicate(processes, "inventory", created)
            and skipped_as_duplicate(processes, "order", created)
        ),
        what="the restarted relay's copy skipped by both consumers",
    )
    wait_until(
        lambda: not OutboxEvent.objects.get(pk=created.pk).is_pending,
        what="the restarted relay's mark",
    )
    wait_until_inventory_queue_drained(staff_client, broker, product_id)
    [inventory] = Inventory.objects.filter(product_id=product_id)
    assert inventory.remaining == 0
    inventory_events = OutboxEvent.objects.filter(aggregate_id=inventory.id.hex)
    assert inventory_events.filter(event_type="InventoryCreatedEvent").count() == 1
    for consumer in ("inventory", "order"):
        handled = ProcessedEvent.objects.filter(consumer=consumer, event_id=created.event_id.hex)
        assert handled.count() == 1
    assert CatalogProduct.objects.filter(product_id=product_id).count() == 1


@contextmanager
def worker_crashing_after_commit(
    processes: Processes, broker: Connection, service: str, event_type: str
) -> Iterator[Processes]:
    """The session's worker replaced by a worker of `service` alone, armed to crash once it
    committed the handling of `event_type`; the session's worker is back afterwards."""
    processes.stop("worker")
    crashing = armed(
        processes, CrashPoint.WORKER_AFTER_COMMIT, event_type, ECOMMERCE_SERVICES=service
    )
    try:
        crashing.start_worker("crashing-worker", wait=False)
        wait_until(
            lambda: consumer_count(broker, topology.receive_queue(service)) == 1,
            timeout=60,
            what=f"the armed worker consuming the {service} queue",
        )
        yield crashing
    finally:
        crashing.stop_all()
        processes.start_worker()


def placed_order(client: APIClient, product_id: str, count: int) -> str:
    response = client.post("/orders", order_body(product_id, count), format="json")
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def test_a_worker_killed_after_commit_before_the_ack_gets_the_message_again_and_skips_it(
    processes: Processes,
    broker: Connection,
    staff_client: APIClient,
    customer_client: APIClient,
) -> None:
    product_id = orderable_product(staff_client, 10)
    with worker_crashing_after_commit(
        processes, broker, "inventory", "OrderCreatedEvent"
    ) as crashing:
        order_id = placed_order(customer_client, product_id, 3)

        assert_killed_at(crashing, "crashing-worker", CrashPoint.WORKER_AFTER_COMMIT)
        assert inventory_of(product_id).remaining == 7, "the handling committed before the crash"

    created = OutboxEvent.objects.get(aggregate_id=order_id, event_type="OrderCreatedEvent")
    wait_until(
        lambda: skipped_as_duplicate(processes, "inventory", created),
        what="the unacknowledged message redelivered and skipped",
    )
    wait_until(
        lambda: Order.objects.get(pk=order_id).status == "CONFIRMED",
        what="the order confirmed by the reservation",
    )
    wait_until_inventory_queue_drained(staff_client, broker, product_id)
    assert inventory_of(product_id).remaining == 7
    handled = ProcessedEvent.objects.filter(consumer="inventory", event_id=created.event_id.hex)
    assert handled.count() == 1
    assert StockReservation.objects.filter(pk=order_id).count() == 1
    wait_until(
        lambda: staff_client.get(f"/products/{product_id}").json()["inventory"] == 7,
        what="the product's stock copy follows",
    )


def test_a_worker_killed_after_committing_a_payments_rewards_grants_them_once(
    processes: Processes,
    broker: Connection,
    staff_client: APIClient,
    customer_client: APIClient,
) -> None:
    product_id = orderable_product(staff_client, 20)
    order_id = placed_order(customer_client, product_id, 12)
    wait_until(
        lambda: customer_client.get(f"/orders/{order_id}").json()["status"] == "CONFIRMED",
        what="the order confirmed",
    )
    with worker_crashing_after_commit(processes, broker, "order", "OrderPaidEvent") as crashing:
        paid = customer_client.post(f"/orders/{order_id}/pay", {"paidPrice": 120}, format="json")
        assert paid.status_code == 200, paid.json()

        assert_killed_at(crashing, "crashing-worker", CrashPoint.WORKER_AFTER_COMMIT)
        assert customer_client.get("/loyalty").json()["points"] == 120, "granted before the crash"

    payment = OutboxEvent.objects.get(aggregate_id=order_id, event_type="OrderPaidEvent")
    wait_until(
        lambda: skipped_as_duplicate(processes, "order", payment),
        what="the unacknowledged payment redelivered and skipped",
    )
    loyalty = customer_client.get("/loyalty").json()
    assert loyalty["points"] == 120
    assert [coupon["orderId"] for coupon in loyalty["coupons"]] == [order_id]
    handled = ProcessedEvent.objects.filter(consumer="order", event_id=payment.event_id.hex)
    assert handled.count() == 1


class WebProcess:
    """A real gunicorn serving the API, started at once, with a customer's token."""

    def __init__(self, processes: Processes, name: str, token: str) -> None:
        self.processes = processes
        self.name = name
        self.url = processes.start_web(name, "--workers", "1")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {token}"

    def post(self, path: str, body: dict) -> requests.Response:
        return self.session.post(f"{self.url}{path}", json=body, timeout=30)

    def get(self, path: str) -> requests.Response:
        return self.session.get(f"{self.url}{path}", timeout=30)

    def assert_worker_killed_at(self, point: CrashPoint) -> None:
        """The web worker that served the request died by SIGKILL at `point`, as its master
        process saw (which then started another)."""
        log = wait_until(
            lambda: (
                "was sent SIGKILL" in (text := self.processes.written_since_start(self.name))
                and text
            ),
            what=f"{self.name}'s master reporting the worker's death",
        )
        [crash] = [match.groupdict() for match in CRASH_MARKER.finditer(log)]
        assert crash["point"] == point, log[-3000:]
        assert f"Worker (pid:{crash['pid']}) was sent SIGKILL!" in log, log[-3000:]


@pytest.fixture
def customer(django_user_model: type[AbstractUser]) -> AbstractUser:
    return django_user_model.objects.create_user(username="crash-customer")


@pytest.fixture
def web(
    processes: Processes, request: pytest.FixtureRequest, customer: AbstractUser
) -> Iterator[WebProcess]:
    """A web process armed at `save-after-commit` for the test's event type (its parameter)."""
    crashing = armed(processes, CrashPoint.SAVE_AFTER_COMMIT, request.param)
    try:
        yield WebProcess(crashing, "crashing-web", AuthToken.objects.create(user=customer)[1])
    finally:
        crashing.stop_all()


@pytest.mark.parametrize("web", ["OrderCreatedEvent"], indirect=True)
def test_the_web_process_killed_right_after_an_orders_commit_loses_none_of_its_reactions(
    processes: Processes,
    broker: Connection,
    staff_client: APIClient,
    web: WebProcess,
    customer: AbstractUser,
) -> None:
    product_id = orderable_product(staff_client, 10)

    with pytest.raises(requests.ConnectionError):
        web.post("/orders", order_body(product_id, 3))

    web.assert_worker_killed_at(CrashPoint.SAVE_AFTER_COMMIT)
    [order] = Order.objects.filter(customer_id=customer.pk)
    wait_until(
        lambda: Order.objects.get(pk=order.pk).status == "CONFIRMED",
        what="the saga completed: stock reserved, order confirmed",
    )
    created = OutboxEvent.objects.get(aggregate_id=order.id.hex, event_type="OrderCreatedEvent")
    wait_until_inventory_queue_drained(staff_client, broker, product_id)
    assert inventory_of(product_id).remaining == 7
    assert StockReservation.objects.filter(pk=order.pk).count() == 1
    for consumer in ("inventory", "order"):
        handled = ProcessedEvent.objects.filter(consumer=consumer, event_id=created.event_id.hex)
        assert handled.count() == 1
    assert web.get(f"/orders/{order.id.hex}").json()["status"] == "CONFIRMED"


@pytest.mark.parametrize("web", ["OrderPaidEvent"], indirect=True)
def test_the_web_process_killed_right_after_a_payments_commit_loses_no_reward(
    processes: Processes, staff_client: APIClient, web: WebProcess
) -> None:
    product_id = orderable_product(staff_client, 20)
    created = web.post("/orders", order_body(product_id, 12))
    assert created.status_code == 201, created.text
    order_id = created.json()["id"]
    wait_until(
        lambda: web.get(f"/orders/{order_id}").json()["status"] == "CONFIRMED",
        what="the order confirmed",
    )

    with pytest.raises(requests.ConnectionError):
        web.post(f"/orders/{order_id}/pay", {"paidPrice": 120})

    web.assert_worker_killed_at(CrashPoint.SAVE_AFTER_COMMIT)
    assert Order.objects.get(pk=order_id).status == "PAID"
    loyalty = wait_until(
        lambda: (body := web.get("/loyalty").json())["points"] and body["coupons"] and body,
        what="the payment's points and coupon",
    )
    paid = OutboxEvent.objects.get(aggregate_id=order_id, event_type="OrderPaidEvent")
    wait_until(
        lambda: web.get(f"/order-summaries/{order_id}").json().get("status") == "PAID",
        what="the payment's event handled by the order context",
    )
    assert ProcessedEvent.objects.filter(consumer="order", event_id=paid.event_id.hex).count() == 1
    assert loyalty["points"] == 120
    assert [coupon["orderId"] for coupon in loyalty["coupons"]] == [order_id]
    assert web.get("/loyalty").json() == loyalty
