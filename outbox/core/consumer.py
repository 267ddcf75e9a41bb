"""Handling received messages: each once per consumer, a batch of them per transaction."""

import dataclasses
import enum
import logging
import time
from collections import Counter
from collections.abc import Sequence

from django.db import connections, transaction

from outbox.core import faults, log_context, metrics, tracing
from outbox.core.cloudevents import MalformedEvent, ReceivedEvent, parse_cloudevent
from outbox.core.containment import contained
from outbox.core.inbox import forget_processed, record_processed
from outbox.core.registry import EventHandler, Service
from outbox.core.senders import Forged, check_sender
from outbox.core.versions import upcast

logger = logging.getLogger(__name__)


class Outcome(enum.Enum):
    HANDLED = "handled"
    DUPLICATE = "duplicate"


class UnknownEvent(MalformedEvent):
    """A well-formed event that the service has no handler for."""


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
    alone: bool,
    tally: metrics.HandlingTally | None = None,
) -> Outcome:
    """Run the service's handler for an event whose inbox record this transaction has just
    written (`recorded_now`), or skip it as a duplicate; logs and a span name the event.

    If the handler raises, the error is logged and raised. `alone` runs the handler in a
    savepoint of its own, so that a failure takes back its writes and the event's inbox record
    and leaves the rest of the transaction to commit: the event is handled when it comes again.
    Otherwise the caller's transaction, or a savepoint of it, must roll back on the error.
    """
    with log_context.Handling(service.name, event), tracing.consuming(service.name, event) as span:
        try:
            outcome = _handle_recorded(service, event, recorded_now, alone, tally)
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
    alone: bool,
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
    if alone:
        _run_in_savepoint(service, event, handler)
    else:
        _run(service, event, handler)
    if tally:
        tally.handled(event.type, time.perf_counter() - started)
    return Outcome.HANDLED


def _run(service: Service, event: ReceivedEvent, handler: EventHandler) -> None:
    # Contained: a handler's SystemExit fails its event (retry, then dead letter), not the worker.
    contained(handler, event)
    faults.crash_after_commit(
        faults.CrashPoint.WORKER_AFTER_COMMIT, (event.type,), using=service.database
    )


def _run_in_savepoint(service: Service, event: ReceivedEvent, handler: EventHandler) -> None:
    try:
        with transaction.atomic(using=service.database):
            _run(service, event, handler)
    except Exception:
        # The record was written before the savepoint, by the batch's one inbox statement.
        if connection_is_usable(service.database):
            forget_processed(service.name, event.id, using=service.database)
        raise


def handle_batch(
    service: Service, bodies: Sequence[bytes], *, senders: Sequence[str | None]
) -> list[Outcome | Exception]:
    """Handle messages in order, in one transaction: one commit for the whole batch. This is
    the worker's way in (`outbox.core.worker`), and the only one.

    The processed-event records, the handlers' writes and the outbox rows of the events the
    handlers raise commit together, so that a redelivery after a crash finds the record and
    skips. An event of a former version reaches its handler upcast to the shape it reads. While
    a handler runs, logs name the event and the consumer, and a span traces it
    (`outbox.core.tracing`).

    `senders` are the broker users that sent the messages (`outbox.core.senders`), as the worker
    reads them; an event whose sender is not its source's user fails as `Forged`, unhandled.

    The inbox records of the whole batch are written first, in one statement; an event the
    consumer had handled before, or that came earlier in the same batch, is a duplicate. The
    events are then handled together, in one savepoint. If a handler raises, that savepoint
    rolls back, the failing event's inbox record is deleted and its exception takes its place
    in the result; the other events are handled again, each in a savepoint of its own, so that
    a second failure rolls back alone, and they commit. A batch without failure thus costs no
    statement per event for its isolation. A failing handler runs once; the handlers of the
    events before it run twice, the first run rolled back (its logs and spans stay). A message
    that cannot be read fails without touching the database. If the database connection is
    lost, the error is raised: nothing of the batch has committed. The transaction is on the
    service's own database. The metrics count the batch once it has committed.
    """
    tally = metrics.HandlingTally(service.name) if metrics.enabled() else None
    events = [
        _read_or_error(service, body, sender) for body, sender in zip(bodies, senders, strict=True)
    ]
    with transaction.atomic(using=service.database):
        recorded = record_known(
            service, [event for event in events if isinstance(event, ReceivedEvent)]
        )
        outcome = _handle_together(service, bodies, events, recorded, tally)
        if isinstance(outcome, FirstFailure):
            if len(bodies) > 1:
                logger.info(
                    "%s handles the %d other events of the batch again, each alone",
                    service.name,
                    len(bodies) - 1,
                )
            if tally:
                tally.forget_outcomes()
            outcomes = [
                _failed(service, body, event, outcome.error, recorded, tally)
                if index == outcome.index
                else _outcome_alone(service, body, event, recorded, tally)
                for index, (body, event) in enumerate(zip(bodies, events, strict=True))
            ]
        else:
            outcomes = outcome
    if tally:
        tally.count()
    if logger.isEnabledFor(logging.INFO):
        _log_handled(service, events, outcomes)
    return outcomes


def _log_handled(
    service: Service,
    events: Sequence[ReceivedEvent | Exception],
    outcomes: Sequence[Outcome | Exception],
) -> None:
    """One line per committed batch, for whoever watches the worker: what it handled."""
    handled = Counter(
        event.type
        for event, outcome in zip(events, outcomes, strict=True)
        if isinstance(event, ReceivedEvent) and outcome is Outcome.HANDLED
    )
    if handled:
        counts = ", ".join(f"{count} {event_type}" for event_type, count in sorted(handled.items()))
        logger.info("%s handled %s", service.name, counts)


def _read_or_error(service: Service, body: bytes, sender: str | None) -> ReceivedEvent | Exception:
    try:
        event = read_message(service, body)
        check_sender(event, sender)
        return event
    except Forged as forged:
        metrics.count_forged(service.name, forged.sender)
        return forged
    except Exception as error:
        return error


@dataclasses.dataclass(frozen=True)
class FirstFailure:
    """The event of a batch whose handler raised, which rolled the batch's savepoint back."""

    index: int
    error: Exception


def _handle_together(
    service: Service,
    bodies: Sequence[bytes],
    events: Sequence[ReceivedEvent | Exception],
    recorded: set[str],
    tally: metrics.HandlingTally | None,
) -> list[Outcome | Exception] | FirstFailure:
    """The outcomes of the batch handled in one savepoint, or the first failure, after which
    the savepoint rolled back."""
    first_copies = set(recorded)
    outcomes: list[Outcome | Exception] = []
    failure: FirstFailure | None = None
    try:
        with transaction.atomic(using=service.database):
            for index, (body, event) in enumerate(zip(bodies, events, strict=True)):
                if isinstance(event, Exception):
                    if tally:
                        tally.failed(body)
                    outcomes.append(event)
                    continue
                recorded_now = _is_first_copy(event, first_copies)
                try:
                    outcomes.append(
                        handle_event(
                            service, event, recorded_now=recorded_now, alone=False, tally=tally
                        )
                    )
                except Exception as error:
                    failure = FirstFailure(index, error)
                    raise
    except Exception:
        if failure is None or not connection_is_usable(service.database):
            raise
        return failure
    return outcomes


def _failed(
    service: Service,
    body: bytes,
    event: ReceivedEvent | Exception,
    error: Exception,
    recorded: set[str],
    tally: metrics.HandlingTally | None,
) -> Exception:
    """The outcome of the event whose handler failed in the batch's savepoint: it is not run
    again, and its inbox record goes, so that it is handled when it comes again."""
    if isinstance(event, ReceivedEvent) and _is_first_copy(event, recorded):
        forget_processed(service.name, event.id, using=service.database)
    if tally:
        tally.failed(body)
    return error


def _outcome_alone(
    service: Service,
    body: bytes,
    event: ReceivedEvent | Exception,
    recorded: set[str],
    tally: metrics.HandlingTally | None,
) -> Outcome | Exception:
    try:
        if isinstance(event, Exception):
            raise event
        return handle_event(
            service, event, recorded_now=_is_first_copy(event, recorded), alone=True, tally=tally
        )
    except Exception as error:
        if not connection_is_usable(service.database):
            raise
        if tally:
            tally.failed(body)
        return error


def _is_first_copy(event: ReceivedEvent, recorded: set[str]) -> bool:
    """Whether this transaction recorded the event and no earlier copy in the batch took it;
    only the first copy of an event in a batch is handled, the next ones are duplicates."""
    if event.id not in recorded:
        return False
    recorded.discard(event.id)
    return True


def connection_is_usable(database: str) -> bool:
    connection = connections[database]
    return connection.connection is not None and connection.is_usable()
