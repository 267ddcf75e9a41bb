"""Wake-ups of the long-running relay, on real PostgreSQL notifications."""

import threading

import pytest
from django.db import connection, transaction

from harness.waiting import wait_until
from outbox.core.relay_process import RelayProcess
from outbox.core.relay_wakeup import RELAY_WAKEUP_CHANNEL, wake_relay_after_commit
from outbox.tests.rows import saved_outbox_event

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.events_written_by_hand]


class CountingRelay:
    """Stands in for the relay: counts drains; during the first, a commit wakes the relay."""

    def __init__(self) -> None:
        self.database = "default"
        self.drains = 0

    def connect(self) -> None:
        """No broker here."""

    def publish_pending(self) -> int:
        self.drains += 1
        if self.drains == 1:
            # Committed on the relay's own connection, so the wake-up is read with this
            # statement's result and waits in psycopg2's `notifies`, not on the socket.
            commit_an_outbox_row()
        return 0


def commit_an_outbox_row() -> None:
    """What wakes relays: an outbox row committed as `outbox.core.store.save` commits one."""
    with transaction.atomic():
        saved_outbox_event()
        wake_relay_after_commit("default")


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
        commit_an_outbox_row()
        thread.join(timeout=10)
    assert not thread.is_alive()


def test_a_commit_wakes_relays_once_however_many_rows_and_a_rollback_wakes_none() -> None:
    relay_connection = connection.get_new_connection(connection.get_connection_params())
    relay_connection.autocommit = True
    try:
        relay_connection.cursor().execute(f"LISTEN {RELAY_WAKEUP_CHANNEL}")
        with pytest.raises(RuntimeError), transaction.atomic():
            commit_an_outbox_row()
            raise RuntimeError("rolled back")
        with transaction.atomic():
            commit_an_outbox_row()
            commit_an_outbox_row()

        def wakeups() -> int:
            relay_connection.poll()
            return len(relay_connection.notifies)

        wait_until(lambda: wakeups() > 0, timeout=10, what="the commit's wake-up")
        # A statement's result comes after every notification committed before it.
        relay_connection.cursor().execute("SELECT 1")
        assert wakeups() == 1
    finally:
        relay_connection.close()
