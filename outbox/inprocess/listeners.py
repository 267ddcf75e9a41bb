"""In-process listeners of domain events, each bound to a phase of the publishing transaction.

Transactional event listeners, as Spring's `@TransactionalEventListener`, for Django. One
`raise_event` has two audiences: `outbox.core.store.save` writes the event to the outbox for
other services and hands the same event object to the listeners registered here, in this
process.

    @listeners.listen(AggregateEvent)                      # AFTER_COMMIT, the default
    def record(event: AggregateEvent) -> None: ...

A listener hears its event class and every subclass of it. Its phase says when it runs:

- IN_TRANSACTION: at once, inside the caller's transaction; if it raises, the caller's work
  and its own roll back together (one unified transaction).
- BEFORE_COMMIT: inside the transaction, just before it commits; if it raises, everything
  rolls back and the error reaches the code that was committing.
- AFTER_COMMIT: after the commit, in a transaction of its own (an independent transaction): the
  after-commit listeners of one commit share one new transaction, each in a savepoint of its
  own, so they cost one more commit, not one each. If a listener raises, its own writes roll
  back, the caller's work stays committed, the failure is logged with the event id, and the
  other listeners still run and commit.
- AFTER_ROLLBACK: after the transaction rolled back, in a transaction of its own (shared in
  the same way).
- AFTER_COMPLETION: after either end, in a transaction of its own; it is called as
  `listener(event, outcome)` with an `Outcome`.

An AFTER_COMMIT listener registered with `batch=True` hears all its events of one commit at
once, as `listener(events)` with a list in the order they were published: a consumer's batch
of fifty events costs it one call, and one multi-row insert where it writes, instead of fifty.
It runs in one savepoint of the after-commit transaction: if it raises, its writes for all the
commit's events roll back together, the caller's work stays committed, and the failure is
logged with every event id. Outside a transaction (with `fallback_execution=True`) it is
called at once with a list of the one event.

Nesting: the phases bind to the outermost transaction, whatever `atomic()` block or savepoint
the event was published in. An event published inside a savepoint that rolls back never
happened: none of its transaction-bound listeners run, neither AFTER_COMMIT nor AFTER_ROLLBACK,
exactly as Django drops `on_commit` callbacks registered there. The phases come from
`outbox.postgresql.transaction_phases` and need the database ENGINE `outbox.postgresql`.

The known pitfall of such listeners, an after-commit listener whose own events are silently
dropped because no transaction is active any more, cannot happen here: every listener that runs
after the end of the caller's transaction runs in a transaction of its own, so what it saves or
publishes is bound to that transaction and reaches its own listeners.

Publishing outside any transaction (autocommit, no `atomic()` block): each statement has
committed already. IN_TRANSACTION listeners run as usual; the others run at once only if
registered with `fallback_execution=True` (AFTER_ROLLBACK never: nothing rolls back), and are
otherwise skipped with a warning naming the listener and the event.

Asynchronous listeners (`asynchronous=True`, AFTER_COMMIT only) run in a Celery worker after
the commit, never before it. The event travels as on the wire: the task receives the CloudEvent
JSON, and the listener receives an `outbox.core.cloudevents.ReceivedEvent`, not the Python event.
The task names the listener by its path `module:function`, and the worker runs the listener
registered under that name in its own process: a name it has not registered is refused, never
imported, so that a task message cannot make a worker call anything else. An asynchronous
listener is therefore a module-level function, registered when its app is ready, in the web
and the worker alike. A failure is logged with the event id and not retried; the task is sent
once, after the commit: an effect that must not be lost belongs on the outbox and a consumer
instead.

Every listener runs contained (`outbox.core.containment`): a `SystemExit` or other `BaseException`
it raises is a failure like any other, as `HandlerAborted`, and never stops the process.
"""

import dataclasses
import enum
import functools
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from celery import current_app
from django.db import DEFAULT_DB_ALIAS, transaction

from outbox.core import registry, signals
from outbox.core.cloudevents import parse_cloudevent, to_cloudevent
from outbox.core.containment import contained
from outbox.core.events import DomainEvent
from outbox.postgresql import transaction_phases

logger = logging.getLogger(__name__)

ASYNC_LISTENER_TASK = "outbox.tasks.run_async_listener"

Callback = Callable[[], None]


class Phase(enum.Enum):
    """When a listener runs, relative to the transaction that published the event."""

    IN_TRANSACTION = "in transaction"
    BEFORE_COMMIT = "before commit"
    AFTER_COMMIT = "after commit"
    AFTER_ROLLBACK = "after rollback"
    AFTER_COMPLETION = "after completion"


class Outcome(enum.Enum):
    """How the publishing transaction ended, as told to AFTER_COMPLETION listeners."""

    COMMITTED = "committed"
    ROLLED_BACK = "rolled back"


@dataclasses.dataclass(frozen=True)
class Listener:
    """A function that hears an event class, and its subclasses, in one phase."""

    event_class: type[DomainEvent]
    function: Callable[..., None]
    phase: Phase = Phase.AFTER_COMMIT
    fallback_execution: bool = False
    asynchronous: bool = False
    batch: bool = False

    def __post_init__(self) -> None:
        if self.batch and (self.phase is not Phase.AFTER_COMMIT or self.asynchronous):
            raise ValueError(f"{self.name}: a batch listener runs after commit, in process")
        if self.asynchronous and self.phase is not Phase.AFTER_COMMIT:
            raise ValueError(f"{self.name}: an asynchronous listener runs after commit only")
        if self.asynchronous and not self.function.__qualname__.isidentifier():
            raise ValueError(
                f"{self.name}: an asynchronous listener must be a module-level function, "
                "since the worker finds it by its path"
            )
        if self.fallback_execution and self.phase is Phase.AFTER_ROLLBACK:
            raise ValueError(f"{self.name}: nothing rolls back outside a transaction")

    @property
    def name(self) -> str:
        """The listener's path, `module:function`."""
        return f"{self.function.__module__}:{self.function.__qualname__}"


_listeners: list[Listener] = []


def register(listener: Listener) -> Listener:
    """Add a listener; contexts register theirs when their app is ready."""
    _listeners.append(listener)
    return listener


def unregister(listener: Listener) -> None:
    """Remove a registered listener."""
    _listeners.remove(listener)


def listen(
    event_class: type[DomainEvent],
    *,
    phase: Phase = Phase.AFTER_COMMIT,
    fallback_execution: bool = False,
    asynchronous: bool = False,
    batch: bool = False,
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Decorator: register the function as a listener of `event_class` and its subclasses."""

    def decorator(function: Callable[..., None]) -> Callable[..., None]:
        register(Listener(event_class, function, phase, fallback_execution, asynchronous, batch))
        return function

    return decorator


@contextmanager
def listening(
    event_class: type[DomainEvent],
    function: Callable[..., None],
    *,
    phase: Phase = Phase.AFTER_COMMIT,
    fallback_execution: bool = False,
    asynchronous: bool = False,
    batch: bool = False,
) -> Iterator[Listener]:
    """A listener registered for the duration of a `with` block (tests use it)."""
    listener = register(
        Listener(event_class, function, phase, fallback_execution, asynchronous, batch)
    )
    try:
        yield listener
    finally:
        unregister(listener)


def registered_asynchronous(name: str) -> Listener | None:
    """The asynchronous listener registered under `name` (`module:function`), if any."""
    return next(
        (listener for listener in _listeners if listener.asynchronous and listener.name == name),
        None,
    )


def listeners_of(event: DomainEvent) -> list[Listener]:
    """The listeners that hear an event, in the order they were registered."""
    return [listener for listener in _listeners if isinstance(event, listener.event_class)]


def publish(event: DomainEvent, *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Hand an event to its in-process listeners, each in its phase of the current transaction
    on database `using`.

    `outbox.core.store.save` sends every event an aggregate raised here, on the aggregate's
    database (`hear_saved_event`); call it directly for an event that no aggregate saves.
    Errors of IN_TRANSACTION listeners propagate from here.
    """
    in_transaction = transaction.get_connection(using).in_atomic_block
    for listener in listeners_of(event):
        if listener.phase is Phase.IN_TRANSACTION:
            contained(listener.function, event)
        elif listener.batch and in_transaction:
            transaction_phases.after_commit_together(
                BatchListenerCall(listener.name, listener.function),
                event,
                event.event_id.hex,
                using,
            )
        elif in_transaction:
            hooks = bind(listener, event)
            if hooks.before_commit:
                transaction_phases.before_commit(hooks.before_commit, using)
            if hooks.after_commit:
                transaction_phases.after_commit(hooks.after_commit, using)
            if hooks.after_rollback:
                transaction_phases.after_rollback(hooks.after_rollback, using)
        elif listener.fallback_execution:
            hooks = bind(listener, event)
            if hooks.before_commit:
                hooks.before_commit()
            if hooks.after_commit:
                transaction_phases.run_isolated(hooks.after_commit, using)
        elif listener.phase is Phase.AFTER_ROLLBACK:
            continue  # outside a transaction nothing rolls back: there is nothing to hear
        else:
            logger.warning(
                "listener %s (%s) skipped %s %s: published outside a transaction; "
                "register it with fallback_execution=True to run it there",
                listener.name, listener.phase.value, event.event_type(), event.event_id.hex,
            )  # fmt: skip


def hear_saved_event(
    sender: type[DomainEvent], *, event: DomainEvent, using: str, **_: Any
) -> None:
    """Receiver of `outbox.core.signals.event_saved`: the listeners hear every saved event."""
    publish(event, using=using)


signals.event_saved.connect(hear_saved_event, dispatch_uid="outbox.inprocess.listeners")


@dataclasses.dataclass(frozen=True)
class Hooks:
    """What one listener does with one event at each end of the transaction."""

    before_commit: Callback | None = None
    after_commit: Callback | None = None
    after_rollback: Callback | None = None


def bind(listener: Listener, event: DomainEvent) -> Hooks:
    """The hooks that run a transaction-bound listener on an event in its phase (a batch
    listener, outside a transaction, on a list of the one event)."""
    if listener.batch:
        return Hooks(
            after_commit=ListenerCall(
                listener.name, listener.function, event.event_id.hex, ([event],)
            )
        )
    if listener.phase is Phase.BEFORE_COMMIT:
        return Hooks(before_commit=functools.partial(contained, listener.function, event))
    if listener.phase is Phase.AFTER_COMMIT and listener.asynchronous:
        send = functools.partial(send_to_worker, listener, event, wire_form(event))
        return Hooks(after_commit=send)
    call = functools.partial(ListenerCall, listener.name, listener.function, event.event_id.hex)
    if listener.phase is Phase.AFTER_COMMIT:
        return Hooks(after_commit=call((event,)))
    if listener.phase is Phase.AFTER_ROLLBACK:
        return Hooks(after_rollback=call((event,)))
    # AFTER_COMPLETION: one of the two runs, told which.
    return Hooks(
        after_commit=call((event, Outcome.COMMITTED)),
        after_rollback=call((event, Outcome.ROLLED_BACK)),
    )


@dataclasses.dataclass(frozen=True)
class ListenerCall:
    """A listener's run on an event; it names both when its failure is logged."""

    listener_name: str
    function: Callable[..., None]
    event_id: str
    arguments: tuple[object, ...]

    def __call__(self) -> None:
        contained(self.function, *self.arguments)

    def __str__(self) -> str:
        return f"listener {self.listener_name} on event {self.event_id}"


@dataclasses.dataclass(frozen=True)
class BatchListenerCall:
    """A batch listener's run on the events of one commit (`transaction_phases` gathers them
    and names their ids when its failure is logged)."""

    listener_name: str
    function: Callable[[list[DomainEvent]], None]

    def __call__(self, events: list[DomainEvent]) -> None:
        contained(self.function, events)

    def __str__(self) -> str:
        return f"listener {self.listener_name} on events"


def wire_form(event: DomainEvent) -> str:
    """The event as a CloudEvent JSON document, checked to be readable by the worker."""
    body = json.dumps(to_cloudevent(event))
    parse_cloudevent(body)
    return body


def send_to_worker(listener: Listener, event: DomainEvent, cloudevent: str) -> None:
    """Ask a worker of the event's service to run an asynchronous listener on the event."""
    try:
        current_app.send_task(
            ASYNC_LISTENER_TASK,
            kwargs={
                "service": event.service,
                "listener_name": listener.name,
                "cloudevent": cloudevent,
            },
        )
    except Exception:
        logger.exception("listener %s was not sent event %s", listener.name, event.event_id.hex)


class UnknownListener(Exception):
    """A task named an asynchronous listener that this process has not registered."""


def run_async_listener(*, listener_name: str, cloudevent: str) -> None:
    """Run a registered asynchronous listener, in a transaction of its own, on an event off the
    wire; raises `UnknownListener` for a name that is not registered here."""
    event = parse_cloudevent(cloudevent)
    listener = registered_asynchronous(listener_name)
    if listener is None:
        raise UnknownListener(
            f"refused to run {listener_name!r} on event {event.id}: "
            "no asynchronous listener of that name is registered in this process"
        )
    transaction_phases.run_isolated(
        ListenerCall(listener.name, listener.function, event.id, (event,)),
        registry.service_database(event.service),
    )
