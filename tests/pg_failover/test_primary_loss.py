"""Losing the PostgreSQL primary under a steady stream of orders and payments: Patroni promotes a
standby, every process follows it without a restart, and no event is lost or invented.

- Synchronous mode, the default: kill -9 of the primary's postgres, and of its Patroni. Every
  order answered 201 still exists afterwards.
- Asynchronous mode with the outbox's guard (OUTBOX_WAIT_FOR_STANDBY): the primary's WAL is held
  back from the standbys, then the primary dies. What it committed meanwhile is gone, and no
  event about it was published, and no effect of it kept.
- The negative control: the same without the guard. The checks must find the invented events
  and lost effects there, or they would prove nothing.

The pause a failover causes, the longest gap between two settled orders, is printed (run with
-s to see it); docs/architecture.md gives the figures measured.
"""

import json
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from itertools import pairwise
from typing import Any

import psycopg2
import pytest
from kombu import Connection

from conftest import TEST_RETRY_DELAYS
from harness.waiting import wait_until
from outbox.core import registry, topology
from tests import management_api
from tests.e2e.shop import stocked_product
from tests.load import OrderStream
from tests.pg_failover import checks
from tests.pg_failover.cluster import PgCluster
from tests.pg_failover.conftest import Shop

pytestmark = pytest.mark.pg_cluster

ORDER_INTERVAL_SECONDS = 0.2
# Apples run out during a test, so that orders are both confirmed and rejected.
STOCK = {"Apple": 30, "Pear": 100_000}
SETTLE_DEADLINE_SECONDS = 120
# How far behind RabbitMQ's management statistics (queue depths) may be.
BROKER_STATISTICS_SECONDS = 6
# Enough for the WAL held back from the standbys in the negative control: without it, Patroni
# would rather restart the crashed primary than promote a standby that lags.
LAG_ALLOWED_ON_FAILOVER = 1 << 30
DEFAULT_LAG_ON_FAILOVER = 1 << 20


@pytest.fixture
def tap(broker: Connection) -> Iterator[checks.Tap]:
    """A copy of every event published during the test."""
    exchanges = [topology.publish_exchange(service.name) for service in registry.all_services()]
    tapped = checks.Tap("pg-failover-tap", exchanges)
    tapped.declare(broker)
    yield tapped
    tapped.delete(broker)


@pytest.fixture
def cluster(pg_cluster: PgCluster) -> Iterator[PgCluster]:
    """The cluster, whole again after the test: a member that a test killed rejoins."""
    yield pg_cluster
    pg_cluster.heal()
    pg_cluster.configure(maximum_lag_on_failover=DEFAULT_LAG_ON_FAILOVER)


@pytest.mark.parametrize("what_dies", ["postgres", "Patroni"])
def test_kill_9_of_the_primary_loses_no_order_and_invents_no_event(
    what_dies: str,
    cluster: PgCluster,
    start_shop: Callable[..., Shop],
    tap: checks.Tap,
    broker: Connection,
) -> None:
    cluster.set_mode(synchronous=True)
    primary = cluster.wait_until_healthy(synchronous=True)
    shop = start_shop()

    with orders_flowing(shop) as (traffic, stock):
        killed_at = time.monotonic()
        if what_dies == "postgres":
            cluster.kill_postgres(primary)
        else:
            cluster.kill_patroni(primary)
        promoted = cluster.wait_for_new_leader(primary)
        print(
            f"\nkill -9 {what_dies} of {primary.name}:",
            promoted.name,
            "leads after",
            since(killed_at),
        )
        if what_dies == "Patroni":
            # Its service manager starts Patroni again, which turns the old primary into a
            # standby of the new one: until then, commits there wait for a synchronous standby
            # that follows another primary now, and their requests for an answer.
            cluster.heal()
        wait_for_settled_orders(shop, traffic, after=time.monotonic(), count=10)

    found = everything_wrong(shop, traffic, stock, tap.published(broker), synchronous=True)
    assert found == []
    assert_only_503_with_retry_after(traffic, no_answer_allowed=what_dies == "Patroni")
    assert_beat_and_commands_go_on(shop)
    print(
        f"kill -9 {what_dies}: the longest pause between two settled orders:",
        longest_pause(shop, traffic),
    )


def test_asynchronous_replication_with_the_guard_invents_nothing_when_the_primary_dies(
    cluster: PgCluster, start_shop: Callable[..., Shop], tap: checks.Tap, broker: Connection
) -> None:
    cluster.set_mode(synchronous=False)
    cluster.configure(maximum_lag_on_failover=LAG_ALLOWED_ON_FAILOVER)
    primary = cluster.wait_until_healthy(synchronous=False)
    shop = start_shop(OUTBOX_WAIT_FOR_STANDBY="true")

    with orders_flowing(shop) as (traffic, stock):
        held_at = time.monotonic()
        senders = cluster.hold_wal(primary)
        wait_until(
            lambda: (
                "relay waits" in shop.processes.written_since_start("failover-relay")
                and len(traffic.placed_after(held_at)) >= 3
            ),
            timeout=30,
            what="orders answered 201 while the relay waits for a standby",
        )
        cluster.crash_holding_wal(primary, senders)
        cluster.wait_for_new_leader(primary)
        wait_for_settled_orders(shop, traffic, after=time.monotonic(), count=10)

    found = everything_wrong(shop, traffic, stock, tap.published(broker), synchronous=False)
    assert found == []
    with closing(on_primary(shop)) as database:
        gone = checks.orders_with_201_missing(database, traffic)
    # The failover did lose what no standby had, and the checks above found nothing of it left.
    assert gone
    print(f"\nasynchronous, guarded: {len(gone)} orders answered 201 are gone, none left a trace")


def test_asynchronous_replication_without_the_guard_is_seen_to_invent_events(
    cluster: PgCluster, start_shop: Callable[..., Shop], tap: checks.Tap, broker: Connection
) -> None:
    cluster.set_mode(synchronous=False)
    cluster.configure(maximum_lag_on_failover=LAG_ALLOWED_ON_FAILOVER)
    primary = cluster.wait_until_healthy(synchronous=False)
    shop = start_shop(OUTBOX_WAIT_FOR_STANDBY="false")

    with orders_flowing(shop) as (traffic, stock):
        held_at = time.monotonic()
        senders = cluster.hold_wal(primary)
        wait_for_settled_orders(shop, traffic, after=held_at, count=3)
        cluster.crash_holding_wal(primary, senders)
        cluster.wait_for_new_leader(primary)
        wait_for_settled_orders(shop, traffic, after=time.monotonic(), count=10)

    published = tap.published(broker)
    with closing(on_primary(shop)) as database:
        invented = checks.invented_events(database, published)
        invented += checks.effects_without_order(database)
    print(f"\nasynchronous, unguarded: {len(invented)} invented events and effects:", invented[:2])
    assert invented, "the checks see the events published about orders the failover lost"


@contextmanager
def orders_flowing(shop: Shop) -> Iterator[tuple[OrderStream, dict[str, int]]]:
    """Orders and payments through the API on freshly stocked products (by id, with their
    initial stock), already settling orders; they stop when the block ends."""
    stock = {stocked_product(shop.staff, units, name=name): units for name, units in STOCK.items()}
    with OrderStream(
        shop.customer, list(stock), interval=ORDER_INTERVAL_SECONDS, pays=True
    ) as traffic:
        wait_for_settled_orders(shop, traffic, after=0.0, count=10)
        yield traffic, stock


def on_primary(shop: Shop) -> Any:
    """A connection to the test's database on whichever member is the primary now."""
    connection = psycopg2.connect(shop.database_url)
    connection.autocommit = True
    return connection


def wait_for_settled_orders(shop: Shop, traffic: OrderStream, *, after: float, count: int) -> None:
    """Wait until `count` orders answered 201 after `after` are confirmed or rejected."""

    def settled() -> bool:
        try:
            with closing(on_primary(shop)) as database:
                statuses = checks.existing_orders(
                    database, [o.id for o in traffic.placed_after(after)]
                )
        except psycopg2.OperationalError:
            return False
        return sum(status != "CREATED" for status in statuses.values()) >= count

    wait_until(
        settled, timeout=SETTLE_DEADLINE_SECONDS, interval=0.2, what=f"{count} orders settled"
    )


def everything_wrong(
    shop: Shop,
    traffic: OrderStream,
    stock: dict[str, int],
    published: list[dict[str, Any]],
    *,
    synchronous: bool,
) -> list[str]:
    """Every check, once the orders that exist have settled and the outbox is drained."""
    with closing(on_primary(shop)) as database:

        def settled() -> bool:
            statuses = checks.existing_orders(database, [o.id for o in traffic.placed])
            return (
                "CREATED" not in statuses.values()
                and not checks.left_over(database)
                and messages_in_flight() == 0
            )

        # Settled for longer than the broker's statistics lag behind; what has not settled by
        # the deadline is what the checks report.
        deadline = time.monotonic() + SETTLE_DEADLINE_SECONDS
        settled_since = None
        while time.monotonic() < deadline:
            if not settled():
                settled_since = None
            elif settled_since is None:
                settled_since = time.monotonic()
            elif time.monotonic() - settled_since > BROKER_STATISTICS_SECONDS:
                break
            time.sleep(0.5)
        found = checks.orders_with_201_missing(database, traffic) if synchronous else []
        return (
            found
            + checks.invented_events(database, published)
            + checks.effects_without_order(database)
            + checks.lost_effects(database, traffic)
            + checks.stock_errors(database, stock)
            + checks.read_model_errors(database, traffic)
            + checks.left_over(database)
        )


def messages_in_flight() -> int:
    """Messages in the services' receive and retry queues, ready or held by a worker: the
    consumers' effects are complete once there are none."""
    return sum(
        management_api.queue_info(queue).get("messages", 0)
        for service in registry.all_services()
        for queue in (
            topology.receive_queue(service.name),
            *(topology.receive_retry_queue(service.name, delay) for delay in TEST_RETRY_DELAYS),
        )
    )


def assert_only_503_with_retry_after(traffic: OrderStream, *, no_answer_allowed: bool) -> None:
    """No request was answered 500: those the failover caught were 503 with Retry-After (or,
    for a payment answered 503 after its commit, a 409 when paid again)."""
    wrong = [
        refusal
        for refusal in traffic.refused
        if not (refusal.status == 503 and refusal.retry_after)
        and not (refusal.status == 409 and refusal.request == "payment")
        and not (refusal.status is None and no_answer_allowed)
    ]
    assert wrong == []
    print(f"requests refused during the failover: {len(traffic.refused)}")


def assert_beat_and_commands_go_on(shop: Shop) -> None:
    """Beat sends its sweeps again, and a management command works, with no restart."""
    shop.processes.check_alive()
    sent_before = sweeps_sent()
    wait_until(
        lambda: sweeps_sent() >= sent_before + 3, timeout=60, what="beat sending sweeps again"
    )
    assert json.loads(shop.manage("health"))["healthy"] is True


def sweeps_sent() -> int:
    """How many tasks beat has sent to the product service's task queue, as the broker's
    statistics (a few seconds behind) count them."""
    stats = management_api.queue_info(topology.task_queue("product")).get("message_stats", {})
    return stats.get("publish", 0)


def since(moment: float) -> str:
    return f"{time.monotonic() - moment:.1f}s"


def longest_pause(shop: Shop, traffic: OrderStream) -> str:
    """The longest time between two orders being confirmed or rejected (when the order context
    recorded OrderConfirmedEvent or OrderRejectedEvent)."""
    with closing(on_primary(shop)) as database:
        settled_at = sorted(
            at
            for (at,) in checks.rows(
                database,
                "SELECT created_at FROM outbox_outboxevent WHERE aggregate_id = ANY(%s) "
                "AND event_type IN ('OrderConfirmedEvent', 'OrderRejectedEvent')",
                [order.id for order in traffic.placed],
            )
        )
    longest = max((later - earlier).total_seconds() for earlier, later in pairwise(settled_at))
    return f"{longest:.1f}s"
