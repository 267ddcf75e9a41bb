"""Transaction-phase listeners, on real PostgreSQL.

Asynchronous listeners are run here as the worker's task runs them; in a real worker, in
tests/e2e/test_async_listeners.py.

The rows that stand for "the caller's work" and "a listener's work" are ProcessedEvent rows:
`work_done()` lists who wrote what, and what survived the transaction.
"""

import dataclasses
import logging
import sys
import types
import unittest
import uuid
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import django.test
import pytest
from django.db import connection, transaction

from outbox.core import store
from outbox.core.cloudevents import ReceivedEvent
from outbox.core.containment import HandlerAborted
from outbox.core.events import DomainEvent
from outbox.inprocess import listeners
from outbox.inprocess.listeners import Listener, Outcome, Phase
from outbox.models import OutboxEvent, ProcessedEvent
from outbox.postgresql import transaction_phases

pytestmark = pytest.mark.django_db(transaction=True)


@dataclasses.dataclass(frozen=True, kw_only=True)
class TicketEvent(DomainEvent):
    service: ClassVar[str] = "helpdesk"
    aggregate_type: ClassVar[str] = "Ticket"


@dataclasses.dataclass(frozen=True, kw_only=True)
class TicketOpened(TicketEvent):
    title: str = "Printer on fire"


@dataclasses.dataclass(frozen=True, kw_only=True)
class TicketClosed(TicketEvent):
    pass


class Boom(Exception):
    pass


def opened() -> TicketOpened:
    return TicketOpened(aggregate_id=uuid.uuid4().hex, aggregate_version=1)


def write(who: str, event: DomainEvent) -> None:
    """A row standing for the work that `who` did because of `event`."""
    ProcessedEvent.objects.create(
        consumer=who, event_id=event.event_id.hex, event_type=event.event_type()
    )


def work_done() -> list[str]:
    return sorted(f"{row.consumer} {row.event_type}" for row in ProcessedEvent.objects.all())


def recorder(who: str) -> Callable[[DomainEvent], None]:
    """A listener that writes one row."""
    return lambda event: write(who, event)


def completion_recorder(who: str) -> Callable[[DomainEvent, Outcome], None]:
    """An AFTER_COMPLETION listener that writes one row saying how the transaction ended."""
    return lambda event, outcome: write(f"{who} ({outcome.value})", event)


class Aggregate:
    """Stands in for an aggregate root (outbox has no concrete one): it only raised events."""

    # All the router reads to choose the database: an app of no context, so `default`.
    _meta = types.SimpleNamespace(app_label="outbox")
    # No primary key: `store.save` leaves the row to `save`, which has nothing to store.
    pk = None

    def __init__(self, *events: DomainEvent) -> None:
        self.pending_events = list(events)

    def save(self, using: str) -> None:
        """Nothing of its own to store."""

    def collect_events(self) -> list[DomainEvent]:
        events, self.pending_events = self.pending_events, []
        return events


@pytest.fixture
def listen_to() -> Iterator[Callable[..., Listener]]:
    """Register listeners for one test; they are unregistered after it."""
    registered: list[Listener] = []

    def register(
        event_class: type[DomainEvent], function: Callable[..., None], **options: Any
    ) -> Listener:
        registered.append(listeners.register(Listener(event_class, function, **options)))
        return registered[-1]

    yield register
    for listener in registered:
        listeners.unregister(listener)


def test_unified_transaction_an_in_transaction_failure_rolls_back_the_caller_and_itself(
    listen_to: Callable[..., Listener],
) -> None:
    def fail_halfway(event: DomainEvent) -> None:
        write("listener", event)
        raise Boom

    listen_to(TicketEvent, fail_halfway, phase=Phase.IN_TRANSACTION)

    with pytest.raises(Boom), transaction.atomic():
        write("caller", event := opened())
        listeners.publish(event)

    assert work_done() == []


def test_independent_transaction_an_after_commit_failure_undoes_only_its_own_writes(
    listen_to: Callable[..., Listener], caplog: pytest.LogCaptureFixture
) -> None:
    def fail_halfway(event: DomainEvent) -> None:
        write("failing listener", event)
        raise Boom("search index down")

    failing = listen_to(TicketEvent, fail_halfway)
    listen_to(TicketEvent, recorder("next listener"))

    with transaction.atomic():
        write("caller", event := opened())
        listeners.publish(event)
        assert work_done() == ["caller TicketOpened"], "after-commit listeners ran before commit"

    assert work_done() == ["caller TicketOpened", "next listener TicketOpened"]
    [failure] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert failure.name == "outbox.postgresql.transaction_phases"
    assert failure.exc_info is not None and failure.exc_info[0] is Boom
    assert failing.name in failure.getMessage()
    assert event.event_id.hex in failure.getMessage()


def test_the_after_commit_listeners_of_one_commit_share_one_new_transaction(
    listen_to: Callable[..., Listener],
) -> None:
    listeners_transactions: list[int] = []
    listen_to(TicketEvent, lambda event: listeners_transactions.append(current_transaction()))
    listen_to(TicketEvent, lambda event: listeners_transactions.append(current_transaction()))

    with transaction.atomic():
        caller = current_transaction()
        listeners.publish(opened())
        listeners.publish(opened())

    assert len(listeners_transactions) == 4
    assert len(set(listeners_transactions)) == 1
    assert caller not in listeners_transactions


def current_transaction() -> int:
    """The id of the top-level transaction, also when called inside a savepoint."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT txid_current()")
        return cursor.fetchone()[0]


def save_with_its_aggregate(event: DomainEvent) -> None:
    # The stand-in has all that store.save reads of an aggregate root.
    store.save(Aggregate(event))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "emit", [listeners.publish, save_with_its_aggregate], ids=["published", "saved"]
)
def test_events_raised_by_an_after_commit_listener_reach_their_own_listeners(
    emit: Callable[[DomainEvent], None], listen_to: Callable[..., Listener]
) -> None:
    """The pitfall of after-commit listeners elsewhere: the second event's listener must run
    and its rows be saved."""

    def close_ticket(event: TicketOpened) -> None:
        write("closer", event)
        emit(TicketClosed(aggregate_id=event.aggregate_id, aggregate_version=2))

    listen_to(TicketOpened, close_ticket)
    listen_to(TicketClosed, recorder("archiver"))

    with transaction.atomic():
        write("caller", event := opened())
        listeners.publish(event)

    assert work_done() == [
        "archiver TicketClosed",
        "caller TicketOpened",
        "closer TicketOpened",
    ]


def test_store_save_hands_the_same_event_to_the_outbox_and_to_the_listeners(
    listen_to: Callable[..., Listener],
) -> None:
    heard: list[tuple[DomainEvent, bool]] = []

    def note(event: DomainEvent) -> None:
        in_outbox = OutboxEvent.objects.filter(event_id=event.event_id).exists()
        heard.append((event, in_outbox))

    listen_to(TicketEvent, note, phase=Phase.IN_TRANSACTION)
    listen_to(TicketEvent, note)
    event = opened()

    save_with_its_aggregate(event)

    assert len(heard) == 2
    assert all(seen is event and in_outbox for seen, in_outbox in heard)


def test_outside_a_transaction_only_fallback_listeners_run_the_others_are_skipped_loudly(
    listen_to: Callable[..., Listener], caplog: pytest.LogCaptureFixture
) -> None:
    skipped = listen_to(TicketEvent, recorder("after commit"))
    listen_to(TicketEvent, recorder("after commit, fallback"), fallback_execution=True)
    listen_to(
        TicketEvent,
        completion_recorder("completion, fallback"),
        phase=Phase.AFTER_COMPLETION,
        fallback_execution=True,
    )
    listen_to(TicketEvent, recorder("in transaction"), phase=Phase.IN_TRANSACTION)
    event = opened()

    listeners.publish(event)

    assert work_done() == [
        "after commit, fallback TicketOpened",
        "completion, fallback (committed) TicketOpened",
        "in transaction TicketOpened",
    ]
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert skipped.name in warning.getMessage()
    assert event.event_id.hex in warning.getMessage()
    assert "fallback_execution" in warning.getMessage()


def test_an_after_rollback_listener_runs_only_when_the_transaction_rolls_back(
    listen_to: Callable[..., Listener],
) -> None:
    listen_to(TicketEvent, recorder("alert"), phase=Phase.AFTER_ROLLBACK)

    with transaction.atomic():
        listeners.publish(opened())
    assert work_done() == []

    with pytest.raises(Boom), transaction.atomic():
        write("caller", opened())
        listeners.publish(opened())
        raise Boom

    assert work_done() == ["alert TicketOpened"], "the alert commits in its own transaction"


def test_an_after_completion_listener_runs_either_way_and_is_told_which(
    listen_to: Callable[..., Listener],
) -> None:
    listen_to(TicketEvent, completion_recorder("done"), phase=Phase.AFTER_COMPLETION)

    with transaction.atomic():
        listeners.publish(opened())
    with pytest.raises(Boom), transaction.atomic():
        listeners.publish(opened())
        raise Boom

    assert work_done() == ["done (committed) TicketOpened", "done (rolled back) TicketOpened"]


def test_a_before_commit_listener_runs_inside_the_transaction_just_before_the_commit(
    listen_to: Callable[..., Listener],
) -> None:
    def count_callers_rows(event: DomainEvent) -> None:
        callers_rows = ProcessedEvent.objects.filter(consumer="caller").count()
        write(f"saw {callers_rows} caller rows", event)

    listen_to(TicketEvent, count_callers_rows, phase=Phase.BEFORE_COMMIT)

    with transaction.atomic():
        listeners.publish(event := opened())
        write("caller", event)
        write("caller", opened())
        assert ProcessedEvent.objects.filter(consumer__startswith="saw").count() == 0

    assert work_done() == [
        "caller TicketOpened",
        "caller TicketOpened",
        "saw 2 caller rows TicketOpened",
    ]


def test_a_before_commit_failure_rolls_back_the_caller_and_reaches_it(
    listen_to: Callable[..., Listener],
) -> None:
    def refuse(event: DomainEvent) -> None:
        write("refuser", event)
        raise Boom("invariant broken")

    listen_to(TicketEvent, refuse, phase=Phase.BEFORE_COMMIT)
    listen_to(TicketEvent, recorder("after commit"))
    listen_to(TicketEvent, recorder("after rollback"), phase=Phase.AFTER_ROLLBACK)

    with pytest.raises(Boom, match="invariant broken"), transaction.atomic():
        write("caller", event := opened())
        listeners.publish(event)

    assert work_done() == ["after rollback TicketOpened"]


def test_listeners_bind_to_the_outermost_transaction_not_to_a_nested_block(
    listen_to: Callable[..., Listener],
) -> None:
    listen_to(TicketEvent, recorder("before commit"), phase=Phase.BEFORE_COMMIT)
    listen_to(TicketEvent, recorder("after commit"))
    listen_to(TicketEvent, recorder("after rollback"), phase=Phase.AFTER_ROLLBACK)

    with transaction.atomic():
        with transaction.atomic():
            listeners.publish(opened())
        assert work_done() == [], "a released savepoint is not a commit"
    assert work_done() == ["after commit TicketOpened", "before commit TicketOpened"]

    ProcessedEvent.objects.all().delete()
    with pytest.raises(Boom), transaction.atomic():
        with transaction.atomic():
            listeners.publish(opened())
        raise Boom
    assert work_done() == ["after rollback TicketOpened"]


def test_events_raised_inside_a_rolled_back_savepoint_never_happened(
    listen_to: Callable[..., Listener],
) -> None:
    listen_to(TicketEvent, recorder("before commit"), phase=Phase.BEFORE_COMMIT)
    listen_to(TicketEvent, recorder("after commit"))
    listen_to(TicketEvent, recorder("after rollback"), phase=Phase.AFTER_ROLLBACK)
    listen_to(TicketEvent, completion_recorder("completion"), phase=Phase.AFTER_COMPLETION)

    with transaction.atomic():
        listeners.publish(TicketClosed(aggregate_id="kept"))
        with pytest.raises(Boom), transaction.atomic():
            listeners.publish(opened())
            raise Boom
    assert work_done() == [
        "after commit TicketClosed",
        "before commit TicketClosed",
        "completion (committed) TicketClosed",
    ]

    ProcessedEvent.objects.all().delete()
    with pytest.raises(Boom), transaction.atomic():
        with pytest.raises(Boom), transaction.atomic():
            listeners.publish(opened())
            raise Boom
        raise Boom
    assert work_done() == [], "not even after-rollback listeners hear an event that never happened"


def test_a_listener_hears_its_event_class_and_every_subclass(
    listen_to: Callable[..., Listener],
) -> None:
    listen_to(TicketEvent, recorder("every ticket event"), phase=Phase.IN_TRANSACTION)
    listen_to(TicketClosed, recorder("closings only"), phase=Phase.IN_TRANSACTION)

    with transaction.atomic():
        listeners.publish(opened())
        listeners.publish(TicketClosed(aggregate_id="t-1"))

    assert work_done() == [
        "closings only TicketClosed",
        "every ticket event TicketClosed",
        "every ticket event TicketOpened",
    ]


def test_the_rollback_that_ends_a_django_test_case_is_no_outcome_for_listeners(
    listen_to: Callable[..., Listener],
) -> None:
    """Django's TestCase runs each test in a savepoint that it rolls back at the end: what the
    test published is dropped with the savepoint, as Django drops its on_commit callbacks."""
    listen_to(TicketEvent, recorder("after rollback"), phase=Phase.AFTER_ROLLBACK)

    class PublishingTest(django.test.TestCase):
        def test_publishes(self) -> None:
            listeners.publish(opened())

    result = unittest.TestResult()
    unittest.defaultTestLoader.loadTestsFromTestCase(PublishingTest).run(result)

    assert result.testsRun == 1 and result.wasSuccessful(), result.errors
    assert work_done() == []


@pytest.mark.parametrize(
    "options, complaint",
    [
        ({"phase": Phase.BEFORE_COMMIT, "asynchronous": True}, "after commit only"),
        ({"phase": Phase.AFTER_ROLLBACK, "fallback_execution": True}, "nothing rolls back"),
        ({"phase": Phase.AFTER_ROLLBACK, "batch": True}, "batch listener runs after commit"),
        ({"asynchronous": True, "batch": True}, "batch listener runs after commit, in process"),
    ],
)
def test_contradictory_listeners_are_refused(options: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        Listener(TicketEvent, recorder("refused"), **options)


def test_an_asynchronous_listener_must_be_a_module_level_function_found_by_its_name() -> None:
    with pytest.raises(ValueError, match="module-level function"):
        Listener(TicketEvent, recorder("nested function"), asynchronous=True)


def batch_recorder(who: str, calls: list[list[str]]) -> Callable[[list[DomainEvent]], None]:
    """A batch listener that notes each call's event ids and writes one row per event."""

    def record(events: list[DomainEvent]) -> None:
        calls.append([event.event_id.hex for event in events])
        for event in events:
            write(who, event)

    return record


def test_a_batch_listener_hears_the_events_of_one_commit_in_one_call_after_it(
    listen_to: Callable[..., Listener],
) -> None:
    calls: list[list[str]] = []
    listen_to(TicketEvent, batch_recorder("batch", calls), batch=True)
    listen_to(TicketEvent, recorder("one by one"))

    with transaction.atomic():
        listeners.publish(first := opened())
        with pytest.raises(Boom), transaction.atomic():
            listeners.publish(opened())
            raise Boom
        listeners.publish(second := TicketClosed(aggregate_id=first.aggregate_id))
        assert calls == [], "a batch listener ran before the commit"

    assert calls == [[first.event_id.hex, second.event_id.hex]]
    assert work_done() == [
        "batch TicketClosed",
        "batch TicketOpened",
        "one by one TicketClosed",
        "one by one TicketOpened",
    ]


def test_a_failing_batch_listener_undoes_its_writes_for_the_whole_commit_and_names_each_event(
    listen_to: Callable[..., Listener], caplog: pytest.LogCaptureFixture
) -> None:
    def fail_halfway(events: list[DomainEvent]) -> None:
        write("failing batch", events[0])
        raise Boom("audit store down")

    failing = listen_to(TicketEvent, fail_halfway, batch=True)
    listen_to(TicketEvent, recorder("next listener"))

    with transaction.atomic():
        write("caller", first := opened())
        listeners.publish(first)
        listeners.publish(second := opened())

    assert work_done() == [
        "caller TicketOpened",
        "next listener TicketOpened",
        "next listener TicketOpened",
    ]
    [failure] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert failure.exc_info is not None and failure.exc_info[0] is Boom
    message = failure.getMessage()
    assert failing.name in message
    assert first.event_id.hex in message and second.event_id.hex in message


def test_outside_a_transaction_a_fallback_batch_listener_hears_each_event_alone(
    listen_to: Callable[..., Listener],
) -> None:
    calls: list[list[str]] = []
    listen_to(TicketEvent, batch_recorder("batch", calls), batch=True, fallback_execution=True)

    listeners.publish(first := opened())
    listeners.publish(second := opened())

    assert calls == [[first.event_id.hex], [second.event_id.hex]]


def test_a_once_after_commit_callback_runs_once_per_commit_outside_any_transaction() -> None:
    calls: list[bool] = []

    @dataclasses.dataclass(frozen=True)
    class Note:
        name: str

        def __call__(self) -> None:
            calls.append(transaction.get_connection().in_atomic_block)

    with transaction.atomic():
        transaction_phases.once_after_commit(Note("wake"))
        transaction_phases.once_after_commit(Note("wake"))
        with transaction.atomic():
            transaction_phases.once_after_commit(Note("wake"))
        assert calls == []

    assert calls == [False]


def test_a_once_after_commit_callback_of_a_rolled_back_savepoint_is_dropped() -> None:
    calls: list[str] = []

    with transaction.atomic():
        with pytest.raises(RuntimeError), transaction.atomic():
            transaction_phases.once_after_commit(lambda: calls.append("rolled back"))
            raise RuntimeError("undo the savepoint")
        transaction_phases.once_after_commit(lambda: calls.append("committed"))

    assert calls == ["committed"]


@pytest.mark.parametrize("raised", [SystemExit(3), KeyboardInterrupt(), GeneratorExit()])
def test_a_listener_raising_a_base_exception_fails_alone_and_the_process_goes_on(
    listen_to: Callable[..., Listener], caplog: pytest.LogCaptureFixture, raised: BaseException
) -> None:
    def stop_the_process(event: DomainEvent) -> None:
        write("stopping listener", event)
        raise raised

    stopping = listen_to(TicketEvent, stop_the_process)
    listen_to(TicketEvent, recorder("next listener"))

    with transaction.atomic():
        write("caller", event := opened())
        listeners.publish(event)

    assert work_done() == ["caller TicketOpened", "next listener TicketOpened"]
    [failure] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert failure.exc_info is not None and failure.exc_info[0] is HandlerAborted
    aborted = failure.exc_info[1]
    assert aborted is not None and isinstance(aborted.__cause__, type(raised))
    assert stopping.name in failure.getMessage()


@pytest.mark.parametrize("phase", [Phase.IN_TRANSACTION, Phase.BEFORE_COMMIT])
def test_a_listener_in_the_transaction_raising_system_exit_rolls_it_back_as_a_failure(
    listen_to: Callable[..., Listener], phase: Phase
) -> None:
    def exit_halfway(event: DomainEvent) -> None:
        write("listener", event)
        sys.exit(3)

    listen_to(TicketEvent, exit_halfway, phase=phase)

    with pytest.raises(HandlerAborted, match=r"exit_halfway raised SystemExit\(3\)"):
        with transaction.atomic():
            write("caller", event := opened())
            listeners.publish(event)

    assert work_done() == []


def record_asynchronously(event: ReceivedEvent) -> None:
    """An asynchronous listener, module-level as they must be."""
    ProcessedEvent.objects.create(consumer="worker", event_id=event.id, event_type=event.type)


def test_the_asynchronous_listener_task_runs_the_listener_registered_under_its_name() -> None:
    event = opened()

    with listeners.listening(TicketEvent, record_asynchronously, asynchronous=True) as listener:
        listeners.run_async_listener(
            listener_name=listener.name, cloudevent=listeners.wire_form(event)
        )

    assert work_done() == ["worker TicketOpened"]


@pytest.mark.parametrize(
    "listener_name",
    [
        "sys:exit",
        "os:_exit",
        f"{__name__}:record_asynchronously",  # a listener's path, but not registered
        f"{__name__}:write",
    ],
)
def test_the_asynchronous_listener_task_refuses_a_name_that_is_not_registered(
    listen_to: Callable[..., Listener], listener_name: str
) -> None:
    # Registered in process, not asynchronous: the task still refuses it.
    listen_to(TicketEvent, write)
    event = opened()

    with pytest.raises(listeners.UnknownListener, match=f"refused to run '{listener_name}'"):
        listeners.run_async_listener(
            listener_name=listener_name, cloudevent=listeners.wire_form(event)
        )

    assert work_done() == []
