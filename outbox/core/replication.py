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
and its acknowledgements. Patroni promotes the standby with the most WAL, so what one standby
has survives a failover. With no standby connected they wait, and say so: the gauge
`outbox_waiting_for_standby` of their process, and the health report (`standbys`).

Under synchronous replication a commit returns once the synchronous standby has flushed it, and
the wait ends at its first look: the guard costs one statement per batch there.
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


class StandbyWaitAbandoned(Exception):
    """The process is stopping while a batch waited for a standby: the batch is not published,
    or not acknowledged, and goes again after the restart."""


def enabled() -> bool:
    return settings.OUTBOX["WAIT_FOR_STANDBY"]


def give_up_after(
    seconds: float, *, or_when: Callable[[], bool] = lambda: False
) -> Callable[[], bool]:
    """A `stopping` for `wait_for_standby` that turns true `seconds` from now, or with
    `or_when()`: for a wait that must not hold its process (a request, a task) for long."""
    deadline = time.monotonic() + seconds
    return lambda: or_when() or time.monotonic() > deadline


def wait_for_standby(
    database: str, *, waiter: str, stopping: Callable[[], bool] = lambda: False
) -> None:
    """With the guard on, return once a standby of `database` has flushed the WAL that this
    connection's commits (and the rows it has read) lie in. Raises `StandbyWaitAbandoned`
    when `stopping()` turns true first. `waiter` (relay, worker) names the gauge's process."""
    if not enabled():
        return
    started = time.monotonic()
    with connections[database].cursor() as cursor:
        cursor.execute(POSITION_SQL)
        position, confirmed = cursor.fetchone()
        pause, next_report, reported = FIRST_LOOK_AFTER_SECONDS, REPORT_AFTER_SECONDS, False
        try:
            while not confirmed:
                if stopping():
                    raise StandbyWaitAbandoned(
                        f"no standby of {database} has flushed WAL {position} yet"
                    )
                time.sleep(pause)
                pause = min(pause * 2, LONGEST_BETWEEN_LOOKS_SECONDS)
                cursor.execute(CONFIRMED_SQL, [position])
                (confirmed,) = cursor.fetchone()
                waited = time.monotonic() - started
                if not confirmed and waited >= next_report:
                    next_report += REPORT_EVERY_SECONDS
                    reported = True
                    metrics.waiting_for_standby(database, waiter, True)
                    cursor.execute(STANDBYS_SQL)
                    (standbys,) = cursor.fetchone()
                    logger.warning(
                        "%s waits %.0fs for a standby of %s to flush WAL %s (%d connected)",
                        waiter, waited, database, position, standbys,
                    )  # fmt: skip
        finally:
            if reported:
                metrics.waiting_for_standby(database, waiter, False)
    metrics.count_standby_wait(database, waiter, time.monotonic() - started)


def connected_standbys(database: str) -> int:
    """How many standbys stream from `database`'s primary and report what they flushed."""
    with connections[database].cursor() as cursor:
        cursor.execute(STANDBYS_SQL)
        return cursor.fetchone()[0]
