"""Losing a RabbitMQ node under a steady stream of orders loses no event and applies none
twice: killed with -9, or each node restarted in turn.

How long the flow stops is measured and printed (run with -s to see it): after the kill, from
the moment the node goes until an order placed after that moment is confirmed or rejected;
for both tests, the longest time between two orders being settled (confirmed or rejected)
while the test ran. Only generous deadlines are asserted; docs/architecture.md states the
figures measured.
"""

import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import pairwise

import pytest

from harness.waiting import wait_until
from inventory.models import Inventory, StockReservation
from orders.models import Order, OrderStatus, OrderSummary
from outbox.models import DeadLetter, OutboxEvent
from products.models import Product
from tests.cluster.conftest import ClusterProcesses
from tests.cluster.nodes import Cluster
from tests.e2e.shop import stocked_product
from tests.load import ApiClient, OrderStream

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]

# One order every 0.2 s: about thirty messages a second through the cluster, on a small
# machine that runs the three nodes, PostgreSQL, the web process, the relay and two workers.
ORDER_INTERVAL_SECONDS = 0.2
# Apples run out during a test, so that orders are both confirmed and rejected.
STOCK = {"Apple": 15, "Pear": 100_000}
RESUME_DEADLINE_SECONDS = 120
SETTLE_DEADLINE_SECONDS = 180


@pytest.fixture
def cluster(started_cluster: Cluster) -> Iterator[Cluster]:
    """The cluster, with every node running and every replica online again after the test."""
    yield started_cluster
    started_cluster.heal()


def test_killing_the_node_of_the_relay_and_a_worker_loses_and_doubles_nothing(
    cluster: Cluster,
    on_the_cluster: ClusterProcesses,
    staff_api: ApiClient,
    customer_api: ApiClient,
) -> None:
    with orders_flowing(staff_api, customer_api) as (stream, stock):
        node = cluster.node_of(on_the_cluster.relay.pid)
        workers_there = [
            worker for worker in on_the_cluster.workers if cluster.node_of(worker.pid) == node
        ]
        assert workers_there, f"no worker shares {node.name} with the relay"

        killed_at = time.monotonic()
        cluster.kill(node)
        resumed_after = wait_for_settled_orders(stream, after=killed_at, count=1)
        print(f"\nkill -9 {node.name}: the flow resumed after {resumed_after:.1f}s")

        wait_until(
            lambda: customer_api.get("/health").status_code == 200,
            timeout=60,
            what="the web process's health check on a live node",
        )
        assert cluster.node_of(on_the_cluster.relay.pid) != node
        assert all(cluster.node_of(worker.pid) != node for worker in workers_there)
        wait_for_settled_orders(stream, after=killed_at, count=20)
    assert_every_order_settled_once_and_counted(cluster, stream, stock)
    print(f"kill -9: the longest pause between two settled orders was {longest_pause(stream):.1f}s")


def test_a_rolling_restart_of_every_node_loses_and_doubles_nothing(
    cluster: Cluster,
    on_the_cluster: ClusterProcesses,
    staff_api: ApiClient,
    customer_api: ApiClient,
) -> None:
    with orders_flowing(staff_api, customer_api) as (stream, stock):
        for node in cluster.nodes:
            stopped_at = time.monotonic()
            cluster.stop(node)
            print(f"\nrabbitmqctl stop {node.name} took {time.monotonic() - stopped_at:.1f}s")
            wait_for_settled_orders(stream, after=time.monotonic(), count=1)
            cluster.heal()
            wait_for_settled_orders(stream, after=time.monotonic(), count=5)
    assert_every_order_settled_once_and_counted(cluster, stream, stock)
    print(
        "rolling restart: the longest pause between two settled orders was "
        f"{longest_pause(stream):.1f}s"
    )


@contextmanager
def orders_flowing(
    staff_api: ApiClient, customer_api: ApiClient
) -> Iterator[tuple[OrderStream, dict[str, int]]]:
    """A stream of orders through the API on freshly stocked products (by id, with their
    initial stock), already settling orders; it stops when the block ends."""
    stock = {stocked_product(staff_api, units, name=name): units for name, units in STOCK.items()}
    stream = OrderStream(customer_api, list(stock), interval=ORDER_INTERVAL_SECONDS)
    stream.start()
    try:
        wait_for_settled_orders(stream, after=0.0, count=10)
        yield stream, stock
    finally:
        stream.stop()


def wait_for_settled_orders(stream: OrderStream, *, after: float, count: int) -> float:
    """Wait until `count` orders placed after `after` are confirmed or rejected; return the
    seconds from `after` until then."""

    def settled() -> bool:
        placed = [order.id for order in stream.placed_after(after)]
        done = Order.objects.filter(id__in=placed).exclude(status=OrderStatus.CREATED)
        return done.count() >= count

    wait_until(
        settled,
        timeout=RESUME_DEADLINE_SECONDS,
        interval=0.1,
        what=f"{count} orders placed since then confirmed or rejected",
    )
    return time.monotonic() - after


def longest_pause(stream: OrderStream) -> float:
    """The longest time between two of the stream's orders being confirmed or rejected (when
    the order context recorded OrderConfirmedEvent or OrderRejectedEvent)."""
    settled_at = sorted(
        OutboxEvent.objects.filter(
            aggregate_id__in=[order.id for order in stream.placed],
            event_type__in=["OrderConfirmedEvent", "OrderRejectedEvent"],
        ).values_list("created_at", flat=True)
    )
    return max((later - earlier).total_seconds() for earlier, later in pairwise(settled_at))


def assert_every_order_settled_once_and_counted(
    cluster: Cluster, stream: OrderStream, stock: dict[str, int]
) -> None:
    assert not stream.refused, stream.refused[:5]
    order_ids = [order.id for order in stream.placed]
    orders = Order.objects.filter(id__in=order_ids)
    wait_until(
        lambda: not orders.filter(status=OrderStatus.CREATED).exists(),
        timeout=SETTLE_DEADLINE_SECONDS,
        what="every order confirmed or rejected",
    )
    statuses = {order_id.hex: status for order_id, status in orders.values_list("id", "status")}
    assert statuses.keys() == set(order_ids)
    assert set(statuses.values()) == {OrderStatus.CONFIRMED, OrderStatus.REJECTED}

    assert StockReservation.objects.filter(id__in=order_ids).count() == len(order_ids)
    confirmed: Counter[str] = Counter()
    for order in stream.placed:
        if statuses[order.id] == OrderStatus.CONFIRMED:
            confirmed[order.product_id] += order.count
    for product_id, initial in stock.items():
        remaining = Inventory.objects.get(product_id=product_id).remaining
        assert remaining == initial - confirmed[product_id]
        wait_until(
            lambda product_id=product_id, remaining=remaining: (
                Product.objects.get(id=product_id).inventory == remaining
            ),
            what="the product's stock copy caught up",
        )

    def read_model() -> dict[str, str]:
        summaries = OrderSummary.objects.filter(order_id__in=order_ids)
        return {
            order_id.hex: status for order_id, status in summaries.values_list("order_id", "status")
        }

    wait_until(lambda: read_model() == statuses, timeout=60, what="the order read model caught up")
    wait_until(
        lambda: not OutboxEvent.objects.filter(published_at=None).exists(),
        what="every event published",
    )
    dead_letters = DeadLetter.objects.values_list("service", "kind", "event_type", "error_message")
    assert list(dead_letters) == []
    assert sum(cluster.queue_depths("-dlq").values()) == 0
