"""The audit trail and failure alerts: in-process listeners on every domain event.

Seed 004's "operation records" and its alert on failure: the audit record of a committed event
is written after the commit, in its own transaction, so a failing audit never undoes business
work; the records of one commit are written together, in one multi-row insert (a batch
listener). An event whose transaction rolled back is logged as an error and recorded too.
Registered by `OutboxConfig.ready` when the OUTBOX setting AUDIT_TRAIL is on.
"""

import logging

from outbox import registry
from outbox.events import DomainEvent
from outbox.listeners import Phase, listen
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


def _record(events: list[DomainEvent], outcome: AuditRecord.Outcome) -> None:
    records: dict[str, list[AuditRecord]] = {}
    for event in events:
        records.setdefault(registry.service_database(event.service), []).append(
            AuditRecord(
                event_id=event.event_id,
                event_type=event.event_type(),
                aggregate_type=event.aggregate_type,
                aggregate_id=event.aggregate_id,
                aggregate_version=event.aggregate_version,
                data=event.data(),
                outcome=outcome,
                occurred_at=event.occurred_at,
            )
        )
    for database, rows in records.items():
        AuditRecord.objects.using(database).bulk_create(rows)
