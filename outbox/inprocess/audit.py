"""The audit trail and failure alerts: in-process listeners on every domain event.

Operation records, and an alert on failure: the audit record of a committed event
is written after the commit, in its own transaction, so a failing audit never undoes business
work; the records of one commit are written together, in one multi-row insert (a batch
listener, in plain SQL as `outbox.core.store` writes outbox rows). An event whose transaction
rolled back is logged as an error and recorded too.
Registered by `OutboxConfig.ready` when the OUTBOX setting AUDIT_TRAIL is on.
"""

import logging

from django.db import connections
from psycopg2.extras import Json

from outbox.core import registry
from outbox.core.events import DomainEvent
from outbox.core.sql import insert_sql, multi_row
from outbox.inprocess.listeners import Phase, listen
from outbox.models import AuditRecord

logger = logging.getLogger(__name__)


@listen(DomainEvent, phase=Phase.AFTER_COMMIT, fallback_execution=True, batch=True)
def record_committed_events(events: list[DomainEvent]) -> None:
    """Add the events of one commit to the audit trail."""
    _record(events, AuditRecord.Outcome.COMMITTED)


@listen(DomainEvent, phase=Phase.AFTER_ROLLBACK)
def alert_rolled_back_command(event: DomainEvent) -> None:
    """A command raised this event and then failed: say so loudly, and keep a trace."""
    logger.error(
        "command rolled back: %s of %s %s (event %s) was not applied",
        event.event_type(),
        event.aggregate_type,
        event.aggregate_id,
        event.event_id.hex,
    )
    _record([event], AuditRecord.Outcome.ROLLED_BACK)


AUDIT_COLUMNS = (
    "event_id", "event_type", "aggregate_type", "aggregate_id", "aggregate_version", "data",
    "outcome", "occurred_at", "recorded_at",
)  # fmt: skip
INSERT_AUDIT_SQL = insert_sql(AuditRecord._meta.db_table, AUDIT_COLUMNS)
AUDIT_ROW = "(%s, %s, %s, %s, %s, %s, %s, %s, now())"


def _record(events: list[DomainEvent], outcome: AuditRecord.Outcome) -> None:
    """The audit records of `events` (the columns of `AuditRecord`), one statement per
    database."""
    rows: dict[str, list[tuple[object, ...]]] = {}
    for event in events:
        rows.setdefault(registry.service_database(event.service), []).append(
            (
                event.event_id,
                event.event_type(),
                event.aggregate_type,
                event.aggregate_id,
                event.aggregate_version,
                Json(event.data()),
                outcome.value,
                event.occurred_at,
            )
        )
    for database, database_rows in rows.items():
        with connections[database].cursor() as cursor:
            cursor.execute(*multi_row(INSERT_AUDIT_SQL, AUDIT_ROW, database_rows))
