"""Waking the relay once a transaction that wrote outbox rows has committed.

A `NOTIFY` sent inside the writing transaction makes PostgreSQL take a database-wide lock as
that transaction commits and hold it through the commit's WAL flush: every notifying commit
waits for the one before it, and concurrent commits cannot share a flush. Sent after the commit
instead, on the same connection in a transaction of its own that writes nothing, the lock is
held only for that empty transaction, which need not wait for the disk: a wake-up lost in a
crash costs at most the relay's idle wait (`OUTBOX["RELAY_IDLE_SECONDS"]`), after which it
looks for pending rows anyway; never an event.
Measured in docs/performance.md ("What bounds each figure", "Commits and the wake-up").
"""

import dataclasses

from django.db import connections

from outbox.postgresql import transaction_phases

# The PostgreSQL notification channel on which the relay listens.
RELAY_WAKEUP_CHANNEL = "outbox_relay_wakeup"
# One round trip, one implicit transaction: the notification and a commit that does not wait
# for the WAL flush.
WAKE_RELAY_SQL = (
    f"SET LOCAL synchronous_commit = off; SELECT pg_notify('{RELAY_WAKEUP_CHANNEL}', '')"
)


def wake_relay_after_commit(using: str) -> None:
    """Wake the relay of database `using` once the current transaction commits.

    Once per transaction, however many rows or aggregates it saves. Nothing is sent if the
    transaction rolls back, nor for the writes of a savepoint rolled back. A failed wake-up is
    logged, not raised: the transaction has committed, and the relay finds the rows when its
    idle wait ends.
    """
    transaction_phases.once_after_commit(WakeRelay(using), using)


@dataclasses.dataclass(frozen=True)
class WakeRelay:
    """Notify the relay of a database now, in a transaction of its own. Equal for one
    database, so that a transaction registers it once."""

    using: str

    def __call__(self) -> None:
        with connections[self.using].cursor() as cursor:
            cursor.execute(WAKE_RELAY_SQL)
