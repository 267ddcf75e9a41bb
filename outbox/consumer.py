"""Handling received messages: each once per consumer, a batch of them per transaction."""

import enum
import logging
import time
from collections.abc import Sequence

from django.db import connections, transaction

from outbox import faults, log_context, metrics, tracing
from outbox.cloudevents import MalformedEvent, ReceivedEvent, parse_cloudevent
from outbox.inbox import record_processed
from outbox.registry import Service
from outbox.versions import upcast

logger = logging.getLogger(__name__)


class Outcome(enum.Enum):
    HANDLED = "handled"
    DUPLICATE = "duplicate"


class UnknownEvent(MalformedEvent):
    """A well-formed event that the service has no handler for."""


def handle_message(
    service: Service, body: bytes, *, tally: metrics.HandlingTally | None = None
) -> Outcome:
    """Parse a message and run the service's handler for it, unless it ran before.

    The processed-event record, the handler's writes and the outbox rows of the events the
    handler raises commit together, so redelivery after a crash finds the record and skips.
    An event of a former version reaches the handler upcast to the shape it reads. While it
    runs, logs name the event and the consumer, and a span traces it (`outbox.tracing`).
    Raises `MalformedEvent` for a message no retry can fix, and whatever the handler raises.
    A `tally` notes the outcome and the handler's time, for the metrics.
    """
    event = upcast(service, parse_cloudevent(body))
    with log_context.Handling(service.name, event), tracing.consuming(service.name, event) as span:
        try:
            outcome = handle_event(service, event, tally)
        except Exception as error:
            logger.warning(
                "%s failed to handle %s %s: %r", service.name, event.type, event.id, error
            )
            raise
        span.set_attribute(tracing.OUTCOME, outcome.value)
    return outcome


def handle_event(
    service: Service, event: ReceivedEvent, tally: metrics.HandlingTally | None = None
) -> Outcome:
    """Run the service's handler for a parsed event, unless it ran before (`handle_message`)."""
    handler = service.handler_for(event.service, event.type)
    if handler is None:
        raise UnknownEvent(f"{service.name} has no handler for {event.type} from {event.source}")
    with transaction.atomic(using=service.database):
        if not record_processed(service.name, event, using=service.database):
            logger.info("%s skipped duplicate %s %s", service.name, event.type, event.id)
            if tally:
                tally.duplicate(event.type)
            return Outcome.DUPLICATE
        started = time.perf_counter()
        handler(event)
        handler_seconds = time.perf_counter() - started
        faults.crash_after_commit(
            faults.CrashPoint.WORKER_AFTER_COMMIT, (event.type,), using=service.database
        )
    if tally:
        tally.handled(event.type, handler_seconds)
    return Outcome.HANDLED


def handle_batch(service: Service, bodies: Sequence[bytes]) -> list[Outcome | Exception]:
    """Handle messages in order, in one transaction: one commit for the whole batch.

    Each message is handled in a savepoint of its own: if it fails, its writes roll back,
    the exception takes its place in the result, and the others still commit. If the database
    connection is lost, the error is raised: nothing of the batch has committed. The transaction
    is on the service's own database. The metrics count the batch once it has committed.
    """
    tally = metrics.HandlingTally(service.name) if metrics.enabled() else None
    with transaction.atomic(using=service.database):
        outcomes = [_outcome(service, body, tally) for body in bodies]
    if tally:
        tally.count()
    return outcomes


def _outcome(
    service: Service, body: bytes, tally: metrics.HandlingTally | None
) -> Outcome | Exception:
    try:
        return handle_message(service, body, tally=tally)
    except Exception as error:
        if not connection_is_usable(service.database):
            raise
        if tally:
            tally.failed(body)
        return error


def connection_is_usable(database: str) -> bool:
    connection = connections[database]
    return connection.connection is not None and connection.is_usable()
