"""The long-running relay: publishes at once when woken, and on a timer as a safety net."""

import logging
import select
import threading

from django.db import DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper

from outbox.core import replication
from outbox.core.publisher import PublishFailed
from outbox.core.relay import Relay
from outbox.core.relay_wakeup import RELAY_WAKEUP_CHANNEL

logger = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 30.0
# After a batch waited its patience for a standby, the pause before it is claimed again.
STANDBY_RETRY_SECONDS = 1.0


class RelayProcess:
    """Runs a relay until stopped: drain, then sleep until a commit wakes it or time passes.

    A transaction that saved events wakes it once committed (`outbox.core.relay_wakeup`).

    It listens for wake-ups on the connection to the relay's database, in the thread that
    calls `run`: one RelayProcess per database, each in its own thread.
    """

    def __init__(
        self, relay: Relay, *, idle_seconds: float, stopping: threading.Event | None = None
    ) -> None:
        self.relay = relay
        self.idle_seconds = idle_seconds
        self.stopping = stopping or threading.Event()
        self._listening_on: object | None = None

    @property
    def connection(self) -> BaseDatabaseWrapper:
        return connections[self.relay.database]

    def run(self) -> None:
        """Publish until `stop` is called."""
        backoff = 0.0
        while not self.stopping.is_set():
            try:
                self._listen()
                self.relay.connect()
                published = self.relay.publish_pending()
            except PublishFailed as error:
                backoff = min(max(backoff * 2, 0.5), MAX_BACKOFF_SECONDS)
                logger.warning("broker unavailable (%s); retrying in %.1fs", error, backoff)
                self.stopping.wait(backoff)
                continue
            except replication.StandbyWaitAbandoned:
                # Logged while it waited; the claim is let go, so that VACUUM is not held back.
                self.stopping.wait(STANDBY_RETRY_SECONDS)
                continue
            except DatabaseError as error:
                backoff = min(max(backoff * 2, 0.5), MAX_BACKOFF_SECONDS)
                logger.warning(
                    "database %s unavailable (%s); retrying in %.1fs",
                    self.relay.database, error, backoff,
                )  # fmt: skip
                self.connection.close()
                self.stopping.wait(backoff)
                continue
            backoff = 0.0
            if published:
                logger.info("published %d events of %s", published, self.relay.database)
            self._wait_for_wakeup()

    def stop(self) -> None:
        self.stopping.set()

    def _listen(self) -> None:
        """LISTEN on the current database connection (again, after a reconnect)."""
        connection = self.connection
        connection.ensure_connection()
        if self._listening_on is not connection.connection:
            with connection.cursor() as cursor:
                cursor.execute(f"LISTEN {RELAY_WAKEUP_CHANNEL}")
            self._listening_on = connection.connection

    def _wait_for_wakeup(self) -> None:
        """Block until a wake-up arrives or the idle time passes; all wake-ups count as one.

        A wake-up may already have been read while the last batch was claimed or committed
        (psycopg2 keeps it in `notifies`): then there is no wait, or the events of that commit
        would wait for the timer.
        """
        raw = self.connection.connection
        if not raw.notifies:
            readable, _, _ = select.select([raw], [], [], self.idle_seconds)
            if readable:
                raw.poll()
        raw.notifies.clear()
