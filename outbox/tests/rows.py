"""Outbox rows written straight to the table, for tests that need one in a given state."""

import uuid

from outbox.models import OutboxEvent


def saved_outbox_event(**fields: object) -> OutboxEvent:
    """A saved outbox row: a pending ProductCreatedEvent unless `fields` say otherwise."""
    defaults: dict[str, object] = {
        "event_id": uuid.uuid4(),
        "event_type": "ProductCreatedEvent",
        "service": "product",
        "aggregate_type": "Product",
        "aggregate_id": uuid.uuid4().hex,
        "aggregate_version": 1,
        "payload": {},
    }
    return OutboxEvent.objects.create(**{**defaults, **fields})
