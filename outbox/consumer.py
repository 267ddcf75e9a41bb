"""Handling one received message: once per consumer, in one database transaction."""

import enum
import logging

from django.db import transaction

from outbox.cloudevents import MalformedEvent, parse_cloudevent
from outbox.inbox import record_processed
from outbox.registry import Service

logger = logging.getLogger(__name__)


class Outcome(enum.Enum):
    HANDLED = "handled"
    DUPLICATE = "duplicate"


class UnknownEvent(MalformedEvent):
    """A well-formed event that the service has no handler for."""


def handle_message(service: Service, body: bytes) -> Outcome:
    """Parse a message and run the service's handler for it, unless it ran before.

    The processed-event record, the handler's writes and the outbox rows of the events the
    handler raises commit together, so redelivery after a crash finds the record and skips.
    Raises `MalformedEvent` for a message no retry can fix, and whatever the handler raises.
    """
    event = parse_cloudevent(body)
    handler = service.handler_for(event.service, event.type)
    if handler is None:
        raise UnknownEvent(f"{service.name} has no handler for {event.type} from {event.source}")
    with transaction.atomic():
        if not record_processed(service.name, event):
            logger.info("%s skipped duplicate %s %s", service.name, event.type, event.id)
            return Outcome.DUPLICATE
        handler(event)
    return Outcome.HANDLED
