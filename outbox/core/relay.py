"""The relay: moves committed outbox rows to the broker, then marks them published.

One batch is one database transaction: claim pending rows (`FOR UPDATE SKIP LOCKED`, so
several relays share the work without blocking one another), publish them with pipelined
confirms, and commit them as published only once the broker has confirmed all of them. A crash
before that commit leaves the rows pending: they are published again and consumers, which are
idempotent, absorb the copy.
"""

import dataclasses
import functools
import logging
import time
from collections.abc import Callable

from django.db import DEFAULT_DB_ALIAS, connections, transaction

from outbox.core import faults, metrics, replication, tracing
from outbox.core.cloudevents import CONTENT_TYPE
from outbox.core.publisher import ConfirmingPublisher, OutgoingMessage, PublishFailed
from outbox.core.topology import publish_exchange

logger = logging.getLogger(__name__)

# Pending rows that no other relay holds, chosen by `{rows}` (and `{limit}`). A row is left for
# later when an earlier pending event of the same aggregate is not among them (another relay
# holds it, the drain passed over it, or an operator did not select it), so the events of one
# aggregate leave in the order they were raised. Such an earlier row can only lie before the
# last claimed one: the check looks there.
CLAIM_SQL_TEMPLATE = """
WITH claimed AS (
    SELECT id, event_id, event_type, service, aggregate_type, aggregate_id, payload
    FROM outbox_outboxevent
    WHERE published_at IS NULL AND {rows}
    ORDER BY id
    {limit}
    FOR UPDATE SKIP LOCKED
),
held_elsewhere AS (
    SELECT id, aggregate_type, aggregate_id
    FROM outbox_outboxevent
    WHERE published_at IS NULL
      AND id < (SELECT max(id) FROM claimed)
      AND id NOT IN (SELECT id FROM claimed)
)
SELECT claimed.id, replace(claimed.event_id::text, '-', ''), claimed.event_type,
       claimed.service, claimed.payload::text, claimed.payload->>'subject',
       coalesce(claimed.payload->>'traceparent', ''), coalesce(claimed.payload->>'tracestate', '')
FROM claimed
WHERE NOT EXISTS (
    SELECT 1 FROM held_elsewhere earlier
    WHERE earlier.aggregate_type = claimed.aggregate_type
      AND earlier.aggregate_id = claimed.aggregate_id
      AND earlier.id < claimed.id
)
ORDER BY claimed.id
"""
# The oldest pending rows after a given id: the relay's batch.
CLAIM_BATCH_SQL = CLAIM_SQL_TEMPLATE.format(rows="id > %s", limit="LIMIT %s")
# The pending rows among the given ids: the admin's "publish now".
CLAIM_SELECTED_SQL = CLAIM_SQL_TEMPLATE.format(rows="id = ANY(%s)", limit="")

MARK_PUBLISHED_SQL = "UPDATE outbox_outboxevent SET published_at = now() WHERE id = ANY(%s)"

RECORD_FAILURE_SQL = """
UPDATE outbox_outboxevent SET attempts = attempts + 1, last_error = %s WHERE id = ANY(%s)
"""


@dataclasses.dataclass(frozen=True)
class ClaimedEvent:
    """A pending outbox row held by this relay's transaction."""

    id: int
    event_id: str
    event_type: str
    service: str
    payload: str
    # Read from the payload by the claim query, so that tracing need not parse it again.
    subject: str = ""
    traceparent: str = ""
    tracestate: str = ""

    def to_message(self) -> OutgoingMessage:
        return OutgoingMessage(
            exchange=publish_exchange(self.service),
            routing_key=self.event_type,
            body=self.payload.encode(),
            properties={
                "content_type": CONTENT_TYPE,
                "message_id": self.event_id,
                "type": self.event_type,
                "app_id": self.service,
            },
        )


class Relay:
    """Publishes the pending outbox events of one database in batches."""

    def __init__(
        self,
        publisher: ConfirmingPublisher,
        *,
        database: str = DEFAULT_DB_ALIAS,
        batch_size: int = 500,
        stopping: Callable[[], bool] = lambda: False,
    ) -> None:
        self.publisher = publisher
        self.database = database
        self.batch_size = batch_size
        # Whether the process is stopping: a batch waiting for a standby is given up then.
        self.stopping = stopping

    def connect(self) -> None:
        """Connect to the broker before anything is pending, so that a broker with no live
        node is reported at start, naming the nodes tried (raises `PublishFailed`)."""
        self.publisher.connect()

    def publish_pending(self) -> int:
        """Publish batches until nothing is pending; return how many events were published.

        Each batch is claimed after the previous one: the index entries of the rows just
        published stay until VACUUM removes them, and walking over them again for every batch
        would make a long drain slower and slower. Rows passed over on the way (held by another
        relay, or committed late with a smaller id) are taken by a last pass from the start.
        Raises `PublishFailed` when the broker cannot take them; the rows stay pending.
        """
        total, after = 0, 0
        while True:
            published = self.publish_batch(after=after)
            if published:
                total, after = total + len(published), published[-1]
            elif after:
                after = 0
            else:
                return total

    def publish_selected(self, ids: list[int]) -> list[int]:
        """Publish the pending rows among `ids`, in batches, oldest first; return the ids
        published. A row another relay holds, or whose aggregate has an earlier pending event
        not among `ids`, is left pending for the relay, which publishes them in order.
        Raises `PublishFailed` like `publish_pending`."""
        ordered = sorted(ids)
        published: list[int] = []
        for start in range(0, len(ordered), self.batch_size):
            chunk = ordered[start : start + self.batch_size]
            published += self._publish(functools.partial(claim_selected, self.database, chunk))
        return published

    def publish_batch(self, *, after: int = 0) -> list[int]:
        """Claim, publish and mark one batch of rows after id `after`; return their ids."""
        return self._publish(lambda: claim_batch(self.database, self.batch_size, after=after))

    def _publish(self, claim: Callable[[], list[ClaimedEvent]]) -> list[int]:
        """Claim rows, publish and mark them in one transaction; return their ids.

        The mark is written while the broker stores the batch, in a savepoint that is rolled
        back unless every message is confirmed: the batch commits as published only once the
        broker has confirmed all of it. With OUTBOX["WAIT_FOR_STANDBY"] nothing is sent before
        a standby has the rows' commits (`outbox.core.replication`).
        """
        started = time.perf_counter()
        with transaction.atomic(using=self.database):
            batch = claim()
            if not batch:
                return []
            ids = [event.id for event in batch]
            replication.wait_for_standby(
                self.database,
                waiter="relay",
                patience=replication.STANDBY_PATIENCE_SECONDS,
                stopping=self.stopping,
            )
            try:
                with transaction.atomic(using=self.database), tracing.publishing(batch):
                    sent = self.publisher.send([event.to_message() for event in batch])
                    mark_published(self.database, ids)
                    self.publisher.await_confirms(sent)
                    faults.crash_at(
                        faults.CrashPoint.RELAY_AFTER_PUBLISH, (e.event_type for e in batch)
                    )
            except PublishFailed as error:
                record_failure(self.database, ids, str(error))
                failure: PublishFailed | None = error
            else:
                failure = None
        if metrics.enabled():
            services = [event.service for event in batch]
            if failure:
                metrics.count_publish_failed(services)
            else:
                metrics.count_published(self.database, services, time.perf_counter() - started)
        if failure:
            raise failure
        return ids


def claim_batch(database: str, limit: int, *, after: int = 0) -> list[ClaimedEvent]:
    """Lock up to `limit` pending events after id `after` for this transaction, oldest first."""
    with connections[database].cursor() as cursor:
        cursor.execute(CLAIM_BATCH_SQL, [after, limit])
        return [ClaimedEvent(*row) for row in cursor.fetchall()]


def claim_selected(database: str, ids: list[int]) -> list[ClaimedEvent]:
    """Lock the pending events among `ids` that may leave now for this transaction."""
    with connections[database].cursor() as cursor:
        cursor.execute(CLAIM_SELECTED_SQL, [ids])
        return [ClaimedEvent(*row) for row in cursor.fetchall()]


def mark_published(database: str, ids: list[int]) -> None:
    with connections[database].cursor() as cursor:
        cursor.execute(MARK_PUBLISHED_SQL, [ids])


def record_failure(database: str, ids: list[int], error: str) -> None:
    """Count a failed attempt on the rows, which stay pending for the next try."""
    logger.warning("publishing %d outbox events of %s failed: %s", len(ids), database, error)
    with connections[database].cursor() as cursor:
        cursor.execute(RECORD_FAILURE_SQL, [error, ids])
