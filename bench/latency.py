"""End-to-end latency: orders at a steady rate through the API, until inventory has handled them.

The whole system runs as `make up` runs it: gunicorn, the relay (woken on commit), and Celery
workers (one for the inventory queue, one for the order and product queues). Latency is read
from the database: from the order's outbox row (`created_at`, set in the order's transaction)
to the inventory consumer's processed-event row for that event (`processed_at`, the start of
the handler's transaction).
"""

import statistics
from collections.abc import Sequence
from typing import Any

import kombu
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from knox.models import AuthToken
from kombu.exceptions import OperationalError

from bench import backlog, cpu
from bench.environment import BenchEnvironment
from bench.load import PacedOrders
from ecommerce.staff import catalog_managers
from harness.ports import free_port
from harness.processes import Processes
from harness.waiting import wait_until
from inventory.models import Inventory
from orders.models import CatalogProduct
from outbox.core import registry, topology
from outbox.core.broker import declare_topology
from outbox.models import OutboxEvent
from products.models import Product

PRODUCTS = 20
STOCK = 10_000_000
# The workers, by name, and the services each serves.
WORKER_SERVICES = {
    "latency-inventory": ("inventory",),
    "latency-orders-products": ("order", "product"),
}
DRAIN_TIMEOUT_SECONDS = 120
# Polling the database costs it work: often enough to end soon, rarely enough not to slow it.
POLL_SECONDS = 0.5

# Each order's OrderCreatedEvent outbox row, with the inventory consumer's record of it.
ORDERS_HANDLED = """
FROM outbox_outboxevent created
JOIN outbox_processedevent handled
  ON handled.consumer = 'inventory' AND handled.event_id = replace(created.event_id::text, '-', '')
WHERE created.aggregate_type = 'Order' AND created.aggregate_id = ANY(%s)
  AND created.event_type = 'OrderCreatedEvent'
"""
LATENCY_SQL = f"""
SELECT count(*),
       percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY handled_ms),
       max(handled_ms),
       percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY claimed_ms),
       count(DISTINCT published_at)
FROM (
    SELECT 1000 * extract(epoch FROM handled.processed_at - created.created_at)::float8
               AS handled_ms,
           1000 * extract(epoch FROM created.published_at - created.created_at)::float8
               AS claimed_ms,
           created.published_at
    {ORDERS_HANDLED}
) latencies
"""


def measure_latency(
    environment: BenchEnvironment, *, rates: Sequence[float], seconds: float
) -> list[dict[str, Any]]:
    """Commit-to-handled latency percentiles of orders sent at each rate for `seconds`."""
    environment.reset_vhost()
    declare_topology()
    backlog.truncate_tables()
    port = free_port()
    with environment.processes() as children:
        customer_token, product_ids = start_shop(children, port)
        return [
            run_phase(
                PacedOrders(
                    port=port,
                    token=customer_token,
                    product_ids=product_ids,
                    rate=rate,
                    count=round(rate * seconds),
                ),
                children,
            )
            for rate in rates
        ]


def start_shop(children: Processes, port: int) -> tuple[str, list[str]]:
    """The web on `port`, a relay and the workers of WORKER_SERVICES, with stocked products:
    a customer's API token and the products' ids."""
    api = children.start_web("web", port=port)
    children.start_relay()
    for name, services in WORKER_SERVICES.items():
        children.start_worker(
            name,
            queues=[topology.receive_queue(service) for service in services],
            loglevel="WARNING",
            env={"ECOMMERCE_SERVICES": ",".join(services)},
        )
    staff_token, customer_token = api_tokens()
    return customer_token, stock_products(api, staff_token, children)


def api_tokens() -> tuple[str, str]:
    """New API tokens of a staff user, who manages products and stock, and of a customer."""
    users = get_user_model()
    staff, _ = users.objects.get_or_create(username="bench-staff", defaults={"is_staff": True})
    staff.groups.add(catalog_managers())
    customer, _ = users.objects.get_or_create(username="bench-customer")
    return tuple(AuthToken.objects.create(user=user)[1] for user in (staff, customer))


def stock_products(api: str, token: str, children: Processes) -> list[str]:
    """Products that orders may name, each with plenty of stock, once every context knows them."""
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    product_ids = [
        session.post(
            f"{api}/products", json={"name": f"Bench product {index}", "price": 10}, timeout=10
        ).json()["id"]
        for index in range(PRODUCTS)
    ]
    wait_until(
        lambda: (
            children.check_alive()
            or (
                Inventory.objects.filter(product_id__in=product_ids).count() == PRODUCTS
                and CatalogProduct.objects.filter(product_id__in=product_ids).count() == PRODUCTS
            )
        ),
        timeout=DRAIN_TIMEOUT_SECONDS,
        what="inventories and catalog entries of the bench products",
    )
    for inventory in Inventory.objects.filter(product_id__in=product_ids):
        session.post(
            f"{api}/inventories/{inventory.id.hex}/increase",
            json={"increaseNumber": STOCK},
            timeout=10,
        ).raise_for_status()
    wait_until(
        lambda: (
            children.check_alive()
            or Product.objects.filter(pk__in=product_ids, inventory=STOCK).count() == PRODUCTS
        ),
        timeout=DRAIN_TIMEOUT_SECONDS,
        what="the products' copies of the new stock",
    )
    return product_ids


def run_phase(load: PacedOrders, children: Processes) -> dict[str, Any]:
    """Send the orders once the system is idle, wait until inventory handled them, and measure."""
    rate = load.rate
    wait_until(
        lambda: children.check_alive() or is_idle(),
        timeout=DRAIN_TIMEOUT_SECONDS,
        interval=POLL_SECONDS,
        what="no pending outbox row and no queued message",
    )
    cpu_before = cpu.cpu_seconds(children)
    sent = load.run()
    if not sent.order_ids:
        raise RuntimeError(f"no order was accepted at {rate}/s ({sent.errors} errors)")
    wait_until(
        lambda: children.check_alive() or handled_count(sent.order_ids) == len(sent.order_ids),
        timeout=DRAIN_TIMEOUT_SECONDS,
        interval=POLL_SECONDS,
        what=f"inventory handling the {len(sent.order_ids)} orders sent at {rate}/s",
    )
    cpu_spent = cpu.spent_between(cpu_before, cpu.cpu_seconds(children))
    handled, (p50, p95, p99), worst, (claimed_p50, claimed_p99), batches = order_latencies(
        sent.order_ids
    )
    return {
        "rate": rate,
        "orders": handled,
        "achieved_rate": len(sent.order_ids) / sent.elapsed_seconds,
        "errors": sent.errors,
        "not_sent": sent.not_sent,
        "p50_ms": p50,
        "p95_ms": p95,
        "p99_ms": p99,
        "max_ms": worst,
        "claimed_p50_ms": claimed_p50,
        "claimed_p99_ms": claimed_p99,
        # Each relay batch stamps its rows with one published_at: orders per batch > 1 shows
        # that wake-ups coalesce under load.
        "orders_per_relay_batch": handled / batches,
        "api_p50_ms": statistics.median(sent.response_ms) if sent.response_ms else None,
        # From the first order sent until inventory handled the last (and up to one poll).
        "cpu_ms_per_order": {
            part: 1000 * seconds / len(sent.order_ids) for part, seconds in cpu_spent.items()
        },
    }


def is_idle() -> bool:
    """Nothing waits for the relay, and no receive queue holds a message."""
    if OutboxEvent.objects.filter(published_at__isnull=True).exists():
        return False
    try:
        with kombu.Connection(settings.CELERY_BROKER_URL) as broker:
            channel = broker.default_channel
            return not any(
                channel.queue_declare(topology.receive_queue(service.name), passive=True)[1]
                for service in registry.all_services()
            )
    except OperationalError:
        # A node busy with quorum queues can take longer than the connect timeout to open a
        # connection: that says nothing of the queues, so the poll asks again.
        return False


def handled_count(order_ids: list[str]) -> int:
    """How many of the orders' OrderCreatedEvents the inventory consumer has handled."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) {ORDERS_HANDLED}", [order_ids])
        return cursor.fetchone()[0]


def order_latencies(order_ids: list[str]) -> tuple:
    """(count, (p50, p95, p99), max, (claim p50, claim p99)) in ms, and relay batches."""
    with connection.cursor() as cursor:
        cursor.execute(LATENCY_SQL, [order_ids])
        return cursor.fetchone()
