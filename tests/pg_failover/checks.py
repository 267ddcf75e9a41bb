"""What must hold after a failover, read from the promoted primary and from the broker.

Each check returns what it found wrong, in words, and nothing when all holds: the negative
control needs to see the checks find invented events and lost effects, not only pass.
"""

import dataclasses
import json
import uuid
from collections.abc import Iterable
from contextlib import closing
from typing import Any

from kombu import Connection

from tests.load import OrderStream

# Every aggregate an event can be about: its subject is the id of one of these rows.
AGGREGATE_TABLES = (
    "orders_order",
    "inventory_stockreservation",
    "inventory_inventory",
    "products_product",
    "products_category",
)


@dataclasses.dataclass
class Tap:
    """A queue bound to every service's publish exchange: a copy of every event published."""

    name: str
    exchanges: list[str]

    def declare(self, broker: Connection) -> None:
        channel = broker.default_channel
        channel.queue_declare(self.name, durable=True, auto_delete=False)
        channel.queue_purge(self.name)
        for exchange in self.exchanges:
            channel.queue_bind(self.name, exchange, routing_key="#")

    def delete(self, broker: Connection) -> None:
        """Without the tap, an event no service subscribes to is unroutable again."""
        broker.default_channel.queue_delete(self.name)

    def published(self, broker: Connection) -> list[dict[str, Any]]:
        """Every event published since `declare`, parsed; the tap is left empty."""
        channel = broker.default_channel
        events = []
        while (message := channel.basic_get(self.name)) is not None:
            events.append(json.loads(message.body))
            channel.basic_ack(message.delivery_tag)
        return events


def rows(database: Any, sql: str, *parameters: object) -> list[tuple]:
    with closing(database.cursor()) as cursor:
        cursor.execute(sql, parameters)
        return cursor.fetchall()


def existing_orders(database: Any, ids: Iterable[str]) -> dict[str, str]:
    """Of the order ids, those that exist, with their status."""
    found = rows(
        database, "SELECT id, status FROM orders_order WHERE id = ANY(%s::uuid[])", list(ids)
    )
    return {uuid.UUID(str(order_id)).hex: status for order_id, status in found}


def orders_with_201_missing(database: Any, traffic: OrderStream) -> list[str]:
    existing = existing_orders(database, [order.id for order in traffic.placed])
    return [
        f"order {order.id} was answered 201 and is gone"
        for order in traffic.placed
        if order.id not in existing
    ]


def invented_events(database: Any, published: list[dict[str, Any]]) -> list[str]:
    """Events published about an aggregate that does not exist."""
    subjects = list({event["subject"] for event in published})
    existing: set[str] = set()
    for table in AGGREGATE_TABLES:
        found = rows(database, f"SELECT id FROM {table} WHERE id = ANY(%s::uuid[])", subjects)  # noqa: S608 - names above
        existing |= {uuid.UUID(str(aggregate_id)).hex for (aggregate_id,) in found}
    return sorted(
        f"{event['type']} {event['id']} was published about {event['subject']}, now gone"
        for event in published
        if event["subject"] not in existing
    )


def effects_without_order(database: Any) -> list[str]:
    """Stock reserved, points granted or a summary kept for an order that does not exist."""
    found = []
    for table, column, effect in (
        ("inventory_stockreservation", "id", "stock reservation"),
        ("orders_loyaltypoints", "order_id", "loyalty points"),
        ("orders_ordersummary", "order_id", "order summary"),
    ):
        orphans = rows(
            database,
            f"SELECT {column} FROM {table} t WHERE NOT EXISTS "  # noqa: S608 - names above
            f"(SELECT FROM orders_order o WHERE o.id = t.{column})",
        )
        found += [
            f"a {effect} for order {uuid.UUID(str(order_id)).hex}, which does not exist"
            for (order_id,) in orphans
        ]
    return found


def lost_effects(database: Any, traffic: OrderStream) -> list[str]:
    """Orders that exist and were never settled, or paid without their points."""
    ids = [order.id for order in traffic.placed]
    statuses = existing_orders(database, ids)
    found = [
        f"order {order_id} is still {status}"
        for order_id, status in statuses.items()
        if status == "CREATED"
    ]
    points = {
        uuid.UUID(str(order_id)).hex
        for (order_id,) in rows(
            database,
            "SELECT order_id FROM orders_loyaltypoints WHERE order_id = ANY(%s::uuid[])",
            ids,
        )
    }
    found += [
        f"order {order_id} is paid and has no points"
        for order_id, status in statuses.items()
        if status == "PAID" and order_id not in points
    ]
    return found


def stock_errors(database: Any, stock: dict[str, int]) -> list[str]:
    """Stock that is not its start less the units of the orders that hold it (every order in
    the database, also one whose 201 the failover swallowed), and product copies of it that
    differ."""
    held = dict(
        rows(
            database,
            "SELECT item.product_id::text, sum(item.count) FROM orders_orderitem item "
            "JOIN orders_order o ON o.id = item.order_id "
            "WHERE o.status IN ('CONFIRMED', 'PAID') GROUP BY item.product_id",
        )
    )
    found = []
    for product_id, initial in stock.items():
        [(remaining, copy)] = rows(
            database,
            "SELECT i.remaining, p.inventory FROM inventory_inventory i "
            "JOIN products_product p ON p.id = i.product_id WHERE i.product_id = %s::uuid",
            product_id,
        )
        expected = initial - held.get(str(uuid.UUID(product_id)), 0)
        if remaining != expected:
            found.append(f"product {product_id} has {remaining} left, not {expected}")
        if copy != remaining:
            found.append(f"product {product_id} shows stock {copy}, its inventory {remaining}")
    return found


def read_model_errors(database: Any, traffic: OrderStream) -> list[str]:
    ids = [order.id for order in traffic.placed]
    orders = existing_orders(database, ids)
    summaries = {
        uuid.UUID(str(order_id)).hex: status
        for order_id, status in rows(
            database,
            "SELECT order_id, status FROM orders_ordersummary WHERE order_id = ANY(%s::uuid[])",
            ids,
        )
    }
    return [
        f"order {order_id} is {status}, its summary {summaries.get(order_id)}"
        for order_id, status in orders.items()
        if summaries.get(order_id) != status
    ]


def left_over(database: Any) -> list[str]:
    """Events still pending in the outbox, and dead letters."""
    [(pending,)] = rows(
        database, "SELECT count(*) FROM outbox_outboxevent WHERE published_at IS NULL"
    )
    letters = rows(database, "SELECT service, event_type, error_message FROM outbox_deadletter")
    return ([f"{pending} events pending"] if pending else []) + [
        f"dead letter: {letter}" for letter in letters
    ]
