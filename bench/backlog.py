"""Backlogs to measure: pending outbox rows, and product events waiting in a receive queue.

The events are the product context's real events, turned into outbox rows by
`outbox.core.store.outbox_row`, so the payloads have the size and shape of production ones.
"""

import csv
import io
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from itertools import islice

from django.apps import apps
from django.db import connection

from outbox.core.events import DomainEvent
from outbox.core.publisher import ConfirmingPublisher
from outbox.core.relay import ClaimedEvent
from outbox.core.store import outbox_row
from products.events import ProductCreatedEvent, ProductNameChangedEvent

COPY_CHUNK = 20_000
PUBLISH_BATCH = 2_000
BUSINESS_APPS = ("outbox", "products", "inventory", "orders")
OUTBOX_COLUMNS = (
    "event_id", "event_type", "service", "aggregate_type", "aggregate_id",
    "aggregate_version", "payload", "created_at", "attempts", "last_error",
)  # fmt: skip


def product_events(count: int, *, renames: bool = True) -> Iterator[DomainEvent]:
    """`count` product events: each product created; with `renames`, every fifth renamed."""
    produced = 0
    while produced < count:
        product_id = uuid.uuid4().hex
        yield ProductCreatedEvent(
            aggregate_id=product_id,
            aggregate_version=1,
            name=f"Product {produced}",
            description="Crisp, fresh and grown without pesticides on a family farm.",
            price=Decimal("19.90"),
        )
        produced += 1
        if renames and produced % 5 == 4 and produced < count:
            yield ProductNameChangedEvent(
                aggregate_id=product_id,
                aggregate_version=2,
                old_name=f"Product {produced - 1}",
                new_name=f"Renamed product {produced - 1}",
            )
            produced += 1


def insert_pending(count: int) -> None:
    """Add `count` pending outbox rows with COPY, in chunks, then refresh the planner's stats."""
    events = product_events(count)
    now = datetime.now(UTC).isoformat()
    with connection.cursor() as cursor:
        while chunk := list(islice(events, COPY_CHUNK)):
            buffer = io.StringIO()
            writer = csv.writer(buffer, quoting=csv.QUOTE_ALL)
            for event in chunk:
                row = outbox_row(event)
                writer.writerow(
                    (
                        row.event_id, row.event_type, row.service, row.aggregate_type,
                        row.aggregate_id, row.aggregate_version, json.dumps(row.payload),
                        now, 0, "",
                    )
                )  # fmt: skip
            buffer.seek(0)
            columns = ", ".join(OUTBOX_COLUMNS)
            cursor.copy_expert(
                f"COPY outbox_outboxevent ({columns}) FROM STDIN WITH (FORMAT csv)", buffer
            )
    analyze()


def publish_product_created(broker_url: str, count: int) -> None:
    """Publish `count` ProductCreatedEvent messages, as the relay would, to the product exchange."""
    publisher = ConfirmingPublisher(broker_url)
    events = product_events(count, renames=False)
    try:
        while chunk := list(islice(events, PUBLISH_BATCH)):
            publisher.publish([as_claimed(event).to_message() for event in chunk])
    finally:
        publisher.close()


def as_claimed(event: DomainEvent) -> ClaimedEvent:
    """The event as the relay reads it back from the outbox table."""
    row = outbox_row(event)
    return ClaimedEvent(
        id=0,
        event_id=row.event_id.hex,
        event_type=row.event_type,
        service=row.service,
        payload=json.dumps(row.payload),
    )


def truncate_tables() -> None:
    """Empty every table of the project's apps, so each measurement starts from nothing."""
    existing = set(connection.introspection.table_names())
    tables = [
        model._meta.db_table
        for app in BUSINESS_APPS
        for model in apps.get_app_config(app).get_models()
        if model._meta.db_table in existing
    ]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")


def analyze() -> None:
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE outbox_outboxevent")
