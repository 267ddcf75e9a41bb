"""Publishing and acknowledging only what a standby has: the outbox's guard for asynchronous
replication (docs/architecture.md, "PostgreSQL failover").

Under asynchronous replication a commit returns before any standby has received it. When the
primary dies then, the standby promoted in its place never had it, and the outbox goes wrong in
two ways:

- invented events: the relay published rows whose transaction is gone, and every consumer acts
  on an order that no longer exists;
- lost effects: a worker committed a batch and acknowledged its messages; the commit is gone,
  and the broker holds the messages no more.

With OUTBOX["WAIT_FOR_STANDBY"] the relay reads the primary's WAL position once it has claimed
a batch, and publishes the batch only when a standby has flushed WAL past that position: the
commits of every claimed row lie before it. A worker does the same between its batch's commit
and its acknowledgements. Patroni promotes the standby with the most WAL, so what a standby has
survives the loss of the primary. With no standby connected they wait, and say so: the gauge
`outbox_waiting_for_standby` of their process, and the health report (`standbys`).

The relay waits inside its claim's transaction, which holds back VACUUM on the whole primary:
it lets go after STANDBY_PATIENCE_SECONDS and claims again (`outbox.core.relay_process`), and so
do the sweep task and the admin's "publish now", which leave the rows to the relay. A worker
waits on, sending its heartbeats to the broker, since a message it gave back would count towards
its delivery limit (after two heartbeat intervals that it read none, the connection is dropped
all the same).

The role needs to read the standbys' positions: membership of `pg_read_all_stats`
(`standby_positions_readable`).
"""

import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.db import connections

from outbox.core import metrics

logger = logging.getLogger(__name__)

# Looks at pg_stat_replication start this far apart and double up to the longest: on one
# network a standby flushes within a millisecond or two, and a standby that is gone should
# not cost a statement per millisecond.
FIRST_LOOK_AFTER_SECONDS = 0.0005
LONGEST_BETWEEN_LOOKS_SECONDS = 0.05
# A wait this long is reported (log and gauge); another line every REPORT_EVERY_SECONDS.
REPORT_AFTER_SECONDS = 1.0
REPORT_EVERY_SECONDS = 10.0
# How long a relay, a task or a request waits for a standby before it lets go of its batch.
STANDBY_PATIENCE_SECONDS = 10.0

# The primary's WAL position now, and whether a standby has flushed past it already. Every
# commit this session has seen (the claimed rows', or its own) ends before that position. The
# WAL senders are read from pg_stat_get_wal_senders(), not the view pg_stat_replication: the
# view joins the backends' status, which a transaction reads once, and a relay that waits
# inside its claim would never see a standby that connected after its first look.
POSITION_SQL = """
SELECT position::text, EXISTS (SELECT FROM pg_stat_get_wal_senders() WHERE flush_lsn >= position)
FROM pg_current_wal_lsn() AS position
"""
CONFIRMED_SQL = (
    "SELECT EXISTS (SELECT FROM pg_stat_get_wal_senders() WHERE flush_lsn >= %s::pg_lsn)"
)
STANDBYS_SQL = "SELECT count(*) FROM pg_stat_get_wal_senders() WHERE flush_lsn IS NOT NULL"
# Without it, a role reads NULL for every standby's position, and would wait for ever.
READABLE_SQL = "SELECT pg_has_role('pg_read_all_stats', 'USAGE')"


class StandbyWaitAbandoned(Exception):
    """A batch waited for a standby longer than its patience, or while its process stops: it
    is not published, or not acknowledged, and goes again."""


def enabled() -> bool:
    return settings.OUTBOX["WAIT_FOR_STANDBY"]


def standby_positions_readable(database: str) -> bool:
    """Whether the role of `database` can see how far the standbys have come."""
    with connections[database].cursor() as cursor:
        cursor.execute(READABLE_SQL)
        return cursor.fetchone()[0]


def wait_for_standby(
    database: str,
    *,
    waiter: str,
    patience: float | None = None,
    stopping: Callable[[], bool] = lambda: False,
    while_waiting: Callable[[], None] = lambda: None,
) -> None:
    """With the guard on, return once a standby of `database` has flushed the WAL that this
    connection's commits (and the rows it has read) lie in.

    Raises `StandbyWaitAbandoned` after `patience` seconds (None: no end), or once `stopping()`
    is true. `while_waiting` runs between looks (a worker answers its broker's heartbeats).
    `waiter` (relay, worker) names the process in the metrics.
    """
    if not enabled():
        return
    started = time.monotonic()
    with connections[database].cursor() as cursor:
        cursor.execute(POSITION_SQL)
        position, confirmed = cursor.fetchone()
        pause, next_report = FIRST_LOOK_AFTER_SECONDS, REPORT_AFTER_SECONDS
        while not confirmed:
            waited = time.monotonic() - started
            if stopping() or (patience is not None and waited > patience):
                raise StandbyWaitAbandoned(
                    f"no standby of {database} has flushed WAL {position} in {waited:.0f}s"
                )
            while_waiting()
            time.sleep(pause)
            pause = min(pause * 2, LONGEST_BETWEEN_LOOKS_SECONDS)
            cursor.execute(CONFIRMED_SQL, [position])
            (confirmed,) = cursor.fetchone()
            waited = time.monotonic() - started
            if not confirmed and waited >= next_report:
                next_report += REPORT_EVERY_SECONDS
                # Set until a wait ends confirmed: a relay that lets go and claims again is
                # still waiting.
                metrics.waiting_for_standby(database, waiter, True)
                cursor.execute(STANDBYS_SQL)
                (standbys,) = cursor.fetchone()
                logger.warning(
                    "%s waits %.0fs for a standby of %s to flush WAL %s (%d connected)",
                    waiter, waited, database, position, standbys,
                )  # fmt: skip
    metrics.waiting_for_standby(database, waiter, False)
    metrics.count_standby_wait(database, waiter, time.monotonic() - started)


def connected_standbys(database: str) -> int:
    """How many standbys stream from `database`'s primary and report what they flushed."""
    with connections[database].cursor() as cursor:
        cursor.execute(STANDBYS_SQL)
        return cursor.fetchone()[0]
