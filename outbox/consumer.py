"""Handling received messages: each once per consumer, a batch of them per transaction."""

import enum
import logging
import time
from collections.abc import Sequence

from django.db import connections, transaction

from outbox import faults, log_context, metrics, tracing
from outbox.cloudevents import MalformedEvent, ReceivedEvent, parse_cloudevent
from outbox.inbox import forget_processed, record_processed
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
    event = read_message(service, body)
    with transaction.atomic(using=service.database):
        recorded = record_known(service, [event])
        return handle_event(service, event, recorded_now=event.id in recorded, tally=tally)


def read_message(service: Service, body: bytes) -> ReceivedEvent:
    """The event a message carries, upcast to the version the service's handler reads."""
    return upcast(service, parse_cloudevent(body))


def record_known(service: Service, events: Sequence[ReceivedEvent]) -> set[str]:
    """Record in the inbox, in one statement, the events the service has a handler for; the ids
    of those it had not handled before."""
    known = [event for event in events if service.handler_for(event.service, event.type)]
    return record_processed(service.name, known, using=service.database)


def handle_event(
    service: Service,
    event: ReceivedEvent,
    *,
    recorded_now: bool,
    tally: metrics.HandlingTally | None = None,
) -> Outcome:
    """Run the service's handler for an event whose inbox record this transaction has just
    written (`recorded_now`), or skip it as a duplicate; logs and a span name the event.

    The handler runs in a savepoint: if it raises, its writes and the event's inbox record
    are taken back, so the event is handled when it comes again, and the error is raised.
    """
    with log_context.Handling(service.name, event), tracing.consuming(service.name, event) as span:
        try:
            outcome = _handle_recorded(service, event, recorded_now, tally)
        except Exception as error:
            logger.warning(
                "%s failed to handle %s %s: %r", service.name, event.type, event.id, error
            )
            raise
        span.set_attribute(tracing.OUTCOME, outcome.value)
    return outcome


def _handle_recorded(
    service: Service,
    event: ReceivedEvent,
    recorded_now: bool,
    tally: metrics.HandlingTally | None,
) -> Outcome:
    handler = service.handler_for(event.service, event.type)
    if handler is None:
        raise UnknownEvent(f"{service.name} has no handler for {event.type} from {event.source}")
    if not recorded_now:
        logger.info("%s skipped duplicate %s %s", service.name, event.type, event.id)
        if tally:
            tally.duplicate(event.type)
        return Outcome.DUPLICATE
    started = time.perf_counter()
    try:
        with transaction.atomic(using=service.database):
            handler(event)
            faults.crash_after_commit(
                faults.CrashPoint.WORKER_AFTER_COMMIT, (event.type,), using=service.database
            )
    except Exception:
        # The record was written before the savepoint, by the batch's one inbox statement.
        if connection_is_usable(service.database):
            forget_processed(service.name, event.id, using=service.database)
        raise
    if tally:
        tally.handled(event.type, time.perf_counter() - started)
    return Outcome.HANDLED


def handle_batch(service: Service, bodies: Sequence[bytes]) -> list[Outcome | Exception]:
    """Handle messages in order, in one transaction: one commit for the whole batch.

    The inbox records of the whole batch are written first, in one statement; an event the
    consumer had handled before, or that came earlier in the same batch, is a duplicate. Each
    event is then handled in a savepoint of its own: if it fails, its writes and its inbox
    record roll back, the exception takes its place in the result, and the others still
    commit. If the database connection is lost, the error is raised: nothing of the batch has
    committed. The transaction is on the service's own database. The metrics count the batch
    once it has committed.
    """
    tally = metrics.HandlingTally(service.name) if metrics.enabled() else None
    events = [_read_or_error(service, body) for body in bodies]
    with transaction.atomic(using=service.database):
        recorded = record_known(
            service, [event for event in events if isinstance(event, ReceivedEvent)]
        )
        outcomes = [
            _outcome(service, body, event, recorded, tally)
            for body, event in zip(bodies, events, strict=True)
        ]
    if tally:
        tally.count()
    return outcomes


def _read_or_error(service: Service, body: bytes) -> ReceivedEvent | Exception:
    try:
        return read_message(service, body)
    except Exception as error:
        return error


def _outcome(
    service: Service,
    body: bytes,
    event: ReceivedEvent | Exception,
    recorded: set[str],
    tally: metrics.HandlingTally | None,
) -> Outcome | Exception:
    try:
        if isinstance(event, Exception):
            raise event
        recorded_now = event.id in recorded
        # Only the first copy of an event in the batch is handled; the next ones are duplicates.
        recorded.discard(event.id)
        return handle_event(service, event, recorded_now=recorded_now, tally=tally)
    except Exception as error:
        if not connection_is_usable(service.database):
            raise
        if tally:
            tally.failed(body)
        return error


def connection_is_usable(database: str) -> bool:
    connection = connections[database]
    return connection.connection is not None and connection.is_usable()
