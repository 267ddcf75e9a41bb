"""How received messages are gathered into batches: pure logic, with a stand-in event loop.

The batches, their transactions and the real event loop run in the end-to-end tests.
"""

from collections.abc import Callable

import pytest

from outbox.core.worker import BATCH_LINGER_SECONDS, MessageBatches

# The batches a handler was given; the messages are letters.
Handled = list[list[str]]


class Loop:
    """Stands in for the worker's event loop: keeps the timers it is given."""

    def __init__(self) -> None:
        self.timers: list[tuple[float, Callable[[], None]]] = []

    def call_later(self, delay: float, callback: Callable[[], None]) -> None:
        self.timers.append((delay, callback))

    def fire_timers(self) -> None:
        timers, self.timers = self.timers, []
        for _, callback in timers:
            callback()


class Connection:
    """Says whether more frames wait to be read."""

    def __init__(self) -> None:
        self.frames_waiting = False


def test_a_lone_message_is_handled_at_once() -> None:
    connection, handled = Connection(), Handled()
    batches = MessageBatches[str](50, lambda: connection.frames_waiting, Loop())

    batches.add(handled.append, "a")

    assert handled == [["a"]]


def test_messages_wait_while_more_are_arriving_then_go_together() -> None:
    connection, handled = Connection(), Handled()
    batches = MessageBatches[str](50, lambda: connection.frames_waiting, Loop())

    connection.frames_waiting = True
    batches.add(handled.append, "a")
    batches.add(handled.append, "b")
    assert handled == []
    connection.frames_waiting = False
    batches.add(handled.append, "c")

    assert handled == [["a", "b", "c"]]


def test_a_full_batch_goes_without_waiting_for_the_rest() -> None:
    connection, handled = Connection(), Handled()
    batches = MessageBatches[str](2, lambda: connection.frames_waiting, Loop())
    connection.frames_waiting = True

    for message in "abc":
        batches.add(handled.append, message)

    assert handled == [["a", "b"]]


def test_each_service_has_its_own_batch_and_all_go_when_the_connection_is_idle() -> None:
    connection, inventory, order = Connection(), Handled(), Handled()
    batches = MessageBatches[str](50, lambda: connection.frames_waiting, Loop())

    connection.frames_waiting = True
    batches.add(inventory.append, "i1")
    connection.frames_waiting = False
    batches.add(order.append, "o1")

    assert (inventory, order) == ([["i1"]], [["o1"]])


def test_frames_that_bring_no_message_hold_a_batch_only_until_the_linger_timer() -> None:
    connection, loop, handled = Connection(), Loop(), Handled()
    batches = MessageBatches[str](50, lambda: connection.frames_waiting, loop)

    connection.frames_waiting = True  # a heartbeat, say: no further message follows
    batches.add(handled.append, "a")
    assert handled == []
    assert [delay for delay, _ in loop.timers] == [BATCH_LINGER_SECONDS]
    loop.fire_timers()

    assert handled == [["a"]]


def test_without_an_event_loop_every_message_is_handled_alone() -> None:
    connection, handled = Connection(), Handled()
    batches = MessageBatches[str](50, lambda: connection.frames_waiting, None)
    connection.frames_waiting = True

    batches.add(handled.append, "a")
    batches.add(handled.append, "b")

    assert handled == [["a"], ["b"]]


def test_a_redelivered_message_is_handled_alone_after_the_fresh_ones() -> None:
    connection, handled = Connection(), Handled()
    batches = MessageBatches[str](50, lambda: connection.frames_waiting, Loop())

    connection.frames_waiting = True
    batches.add(handled.append, "suspect", previous_deliveries=1)
    batches.add(handled.append, "a")
    connection.frames_waiting = False
    batches.add(handled.append, "b")

    assert handled == [["a", "b"], ["suspect"]]


def test_redeliveries_go_fewest_deliveries_first_then_by_arrival_turned_at_every_count() -> None:
    connection, handled = Connection(), Handled()
    batches = MessageBatches[str](50, lambda: connection.frames_waiting, Loop())

    connection.frames_waiting = True
    for message, deliveries in [("a2", 2), ("b1", 1), ("c2", 2), ("d1", 1), ("e3", 3)]:
        batches.add(handled.append, message, previous_deliveries=deliveries)
    connection.frames_waiting = False
    batches.flush_all()

    assert handled == [["b1"], ["d1"], ["c2"], ["a2"], ["e3"]]


class WorkerDied(Exception):
    """Stands in for the end of a worker process."""


def test_a_message_that_kills_every_worker_is_left_alone_within_two_restarts() -> None:
    """A worker dies whenever it handles "poison"; every message it held comes back with one
    more delivery, in the order the broker first sent them."""
    held = {message: 0 for message in ["a", "b", "poison", "c", "d"]}
    for _restart in range(3):
        handled: list[str] = []

        def handle(batch: list[str], handled: list[str] = handled) -> None:
            if "poison" in batch:
                raise WorkerDied
            handled.extend(batch)

        connection = Connection()

        def frames_waiting(connection: Connection = connection) -> bool:
            return connection.frames_waiting

        batches = MessageBatches[str](50, frames_waiting, Loop())
        connection.frames_waiting = True
        for message, deliveries in held.items():
            batches.add(handle, message, previous_deliveries=deliveries)
        connection.frames_waiting = False
        with pytest.raises(WorkerDied):
            batches.flush_all()
        held = {message: count + 1 for message, count in held.items() if message not in handled}

    assert held == {"poison": 3}
