"""Dead letters: recorded from the dead-letter queues, then replayed or discarded.

Workers drain every dead-letter queue into the `DeadLetter` table (acknowledging a message
only after its record committed), so the admin and the commands work on one durable list.
Replaying publishes a record's message back with confirms, then marks it replayed; a crash
in between only sends it twice, and the processed-event table absorbs the copy.
"""

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from outbox import failures, topology
from outbox.cloudevents import MalformedEvent, parse_cloudevent
from outbox.models import DeadLetter
from outbox.publisher import ConfirmingPublisher, OutgoingMessage, PublishFailed

REPLAY_BATCH_SIZE = 100
UNROUTABLE_REASON = "No queue was bound for this event type when it was published."


def dead_letter_record(
    *,
    service: str,
    kind: DeadLetter.Kind,
    body: bytes,
    properties: Mapping[str, Any],
    routing_key: str,
    using: str,
) -> DeadLetter:
    """Record a message taken from a dead-letter queue in database `using`; a repeat updates
    the same record."""
    headers = dict(properties.get("application_headers") or {})
    event_id, event_type = _identify(body, properties)
    if kind == DeadLetter.Kind.UNROUTABLE:
        key = f"{service}:unroutable:{event_id}"
        reason = UNROUTABLE_REASON
    else:
        key = headers.get(failures.DEAD_LETTER_KEY) or failures.dead_letter_key(service, body)
        reason = headers.get(failures.ERROR_MESSAGE, "")
    record, _ = DeadLetter.objects.using(using).update_or_create(
        message_key=key,
        defaults={
            "service": service,
            "kind": kind,
            "status": DeadLetter.Status.PENDING,
            "event_id": event_id,
            "event_type": event_type,
            "routing_key": routing_key,
            "body": body,
            "properties": _json_safe(properties),
            "error_type": headers.get(failures.ERROR_TYPE, ""),
            "error_message": reason,
            "error_traceback": headers.get(failures.ERROR_TRACEBACK, ""),
            "attempts": int(headers.get(failures.ATTEMPTS, 0)),
            "first_failed_at": _time(headers.get(failures.FIRST_FAILED_AT)) or timezone.now(),
            "last_failed_at": _time(headers.get(failures.LAST_FAILED_AT)) or timezone.now(),
            "resolved_at": None,
            "discard_reason": "",
        },
    )
    return record


@dataclasses.dataclass
class ReplaySummary:
    moved: int = 0
    skipped: int = 0
    failed: int = 0
    errors: list[str] = dataclasses.field(default_factory=list)


def dead_letter_replay(
    dead_letters: QuerySet[DeadLetter],
    publisher: ConfirmingPublisher,
    *,
    on_progress: Callable[[int], None] = lambda moved: None,
) -> ReplaySummary:
    """Send pending dead letters back where they can be handled: failed ones to their
    service's recover exchange, unroutable ones to the publish exchange they missed."""
    summary = ReplaySummary()
    database = dead_letters.db
    ids = list(dead_letters.filter(status=DeadLetter.Status.PENDING).values_list("pk", flat=True))
    summary.skipped = dead_letters.count() - len(ids)
    for batch in _chunks(ids, REPLAY_BATCH_SIZE):
        with transaction.atomic(using=database):
            locked = list(
                DeadLetter.objects.using(database)
                .select_for_update(skip_locked=True)
                .filter(pk__in=batch, status=DeadLetter.Status.PENDING)
                .order_by("pk")
            )
            summary.skipped += len(batch) - len(locked)
            try:
                publisher.publish([replay_message(record) for record in locked])
            except PublishFailed as error:
                summary.failed += len(locked)
                summary.errors.append(str(error))
                continue
            DeadLetter.objects.using(database).filter(pk__in=[r.pk for r in locked]).update(
                status=DeadLetter.Status.REPLAYED, resolved_at=timezone.now()
            )
        summary.moved += len(locked)
        on_progress(len(locked))
    return summary


def dead_letter_discard(dead_letters: QuerySet[DeadLetter], *, reason: str) -> int:
    """Give up on pending dead letters, keeping the record and why; return how many."""
    return dead_letters.filter(status=DeadLetter.Status.PENDING).update(
        status=DeadLetter.Status.DISCARDED, discard_reason=reason, resolved_at=timezone.now()
    )


def replay_message(record: DeadLetter) -> OutgoingMessage:
    """The recorded message, addressed to where it can be handled, with a fresh attempt count."""
    properties = dict(record.properties)
    properties["application_headers"] = failures.without_failure_headers(
        properties.get("application_headers")
    )
    if record.kind == DeadLetter.Kind.UNROUTABLE:
        exchange = topology.publish_exchange(record.service)
    else:
        exchange = topology.receive_recover_exchange(record.service)
    return OutgoingMessage(
        exchange=exchange,
        routing_key=record.routing_key,
        body=bytes(record.body),
        properties=properties,
    )


def _identify(body: bytes, properties: Mapping[str, Any]) -> tuple[str, str]:
    try:
        event = parse_cloudevent(body)
        return event.id, event.type
    except MalformedEvent:
        return str(properties.get("message_id") or ""), str(properties.get("type") or "")


def _time(value: object) -> Any:
    return parse_datetime(value) if isinstance(value, str) else None


def _json_safe(properties: Mapping[str, Any]) -> dict[str, Any]:
    """AMQP properties as JSON: the few that are not (bytes, datetimes) become strings."""

    def safe(value: Any) -> Any:
        if isinstance(value, dict):
            return {str(key): safe(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [safe(item) for item in value]
        if isinstance(value, (str, int, float, bool)) or value is None:
            return value
        if isinstance(value, bytes):
            return value.decode("utf-8", "backslashreplace")
        return str(value)

    return {key: safe(value) for key, value in properties.items() if key in REPLAYED_PROPERTIES}


REPLAYED_PROPERTIES = (*failures.KEPT_PROPERTIES, "application_headers")


def _chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
