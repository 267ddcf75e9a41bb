"""Wake-ups of the long-running relay, on real PostgreSQL notifications."""

import threading

import pytest
from django.db import connection

from outbox.relay_process import RelayProcess
from outbox.store import wake_relay
from tests.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


class CountingRelay:
    """Stands in for the relay: counts drains; during the first, a commit wakes the relay."""

    def __init__(self) -> None:
        self.drains = 0

    def publish_pending(self) -> int:
        self.drains += 1
        if self.drains == 1:
            # Sent on the relay's own connection, so it is read with this statement's result
            # and is waiting in psycopg2's `notifies` when the drain ends, not on the socket.
            wake_relay()
        return 0


def run_in_thread(process: RelayProcess) -> threading.Thread:
    def run() -> None:
        try:
            process.run()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_wakeup_read_during_a_drain_starts_another_drain_at_once() -> None:
    relay = CountingRelay()
    process = RelayProcess(relay, idle_seconds=120)  # type: ignore[arg-type]
    thread = run_in_thread(process)
    try:
        wait_until(lambda: relay.drains >= 2, timeout=10, what="a second drain without the timer")
    finally:
        process.stop()
        wake_relay()
        thread.join(timeout=10)
    assert not thread.is_alive()
