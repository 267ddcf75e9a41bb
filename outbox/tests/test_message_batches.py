"""How received messages are gathered into batches: pure logic, with a stand-in event loop.

The batches, their transactions and the real event loop run in the end-to-end tests.
"""

from collections.abc import Callable

from outbox.worker import BATCH_LINGER_SECONDS, MessageBatches


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
    connection, handled = Connection(), []
    batches = MessageBatches(50, lambda: connection.frames_waiting, Loop())

    batches.add(handled.append, "a")

    assert handled == [["a"]]


def test_messages_wait_while_more_are_arriving_then_go_together() -> None:
    connection, handled = Connection(), []
    batches = MessageBatches(50, lambda: connection.frames_waiting, Loop())

    connection.frames_waiting = True
    batches.add(handled.append, "a")
    batches.add(handled.append, "b")
    assert handled == []
    connection.frames_waiting = False
    batches.add(handled.append, "c")

    assert handled == [["a", "b", "c"]]


def test_a_full_batch_goes_without_waiting_for_the_rest() -> None:
    connection, handled = Connection(), []
    batches = MessageBatches(2, lambda: connection.frames_waiting, Loop())
    connection.frames_waiting = True

    for message in "abc":
        batches.add(handled.append, message)

    assert handled == [["a", "b"]]


def test_each_service_has_its_own_batch_and_all_go_when_the_connection_is_idle() -> None:
    connection, inventory, order = Connection(), [], []
    batches = MessageBatches(50, lambda: connection.frames_waiting, Loop())

    connection.frames_waiting = True
    batches.add(inventory.append, "i1")
    connection.frames_waiting = False
    batches.add(order.append, "o1")

    assert (inventory, order) == ([["i1"]], [["o1"]])


def test_frames_that_bring_no_message_hold_a_batch_only_until_the_linger_timer() -> None:
    connection, loop, handled = Connection(), Loop(), []
    batches = MessageBatches(50, lambda: connection.frames_waiting, loop)

    connection.frames_waiting = True  # a heartbeat, say: no further message follows
    batches.add(handled.append, "a")
    assert handled == []
    assert [delay for delay, _ in loop.timers] == [BATCH_LINGER_SECONDS]
    loop.fire_timers()

    assert handled == [["a"]]


def test_without_an_event_loop_every_message_is_handled_alone() -> None:
    connection, handled = Connection(), []
    batches = MessageBatches(50, lambda: connection.frames_waiting, None)
    connection.frames_waiting = True

    batches.add(handled.append, "a")
    batches.add(handled.append, "b")

    assert handled == [["a"], ["b"]]
