"""The audit trail and failure alerts: in-process listeners on every domain event.

Seed 004's "operation records" and its alert on failure: the audit record of a committed event
is written after the commit, in its own transaction, so a failing audit never undoes business
work; an event whose transaction rolled back is logged as an error and recorded too.
Registered by `OutboxConfig.ready` when the OUTBOX setting AUDIT_TRAIL is on.
"""

import logging

from outbox import registry
from outbox.events import DomainEvent
from outbox.listeners import Phase, listen
from outbox.models import AuditRecord

logger = logging.getLogger(__name__)


@listen(DomainEvent, phase=Phase.AFTER_COMMIT, fallback_execution=True)
def record_committed_event(event: DomainEvent) -> None:
    """Add a committed event to the audit trail."""
    _record(event, AuditRecord.Outcome.COMMITTED)


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
    _record(event, AuditRecord.Outcome.ROLLED_BACK)


def _record(event: DomainEvent, outcome: AuditRecord.Outcome) -> None:
    AuditRecord.objects.using(registry.service_database(event.service)).create(
        event_id=event.event_id,
        event_type=event.event_type(),
        aggregate_type=event.aggregate_type,
        aggregate_id=event.aggregate_id,
        aggregate_version=event.aggregate_version,
        data=event.data(),
        outcome=outcome,
        occurred_at=event.occurred_at,
    )
