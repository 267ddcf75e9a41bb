"""Dead letters, recorded from the dead-letter queues.

Workers drain every dead-letter queue into the `DeadLetter` table (acknowledging a message
only after its record committed), so the admin and the commands work on one durable list
(replayed or discarded by `outbox.operations.replay`).

Most dead letters were sent by a worker, with headers saying what failed. RabbitMQ sends some
itself: a quorum receive queue dead-letters a message it gave back more often than its
delivery limit (its worker kept dying while handling it). Those carry only the broker's
`x-death` header, from which the record takes its reason.
"""

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from outbox.core import failures
from outbox.core.cloudevents import MalformedEvent, parse_cloudevent
from outbox.models import DeadLetter

UNROUTABLE_REASON = "No queue was bound for this event type when it was published."
DELIVERY_LIMIT_REASON = (
    "Delivery limit reached: {queue} delivered the message more often than its "
    "x-delivery-limit allows, and no worker acknowledged it. A worker probably died each time "
    "it handled it (a crash, a kill for memory); replay it once the cause is fixed."
)


@dataclasses.dataclass(frozen=True)
class Failure:
    """What a dead letter's record says about why it failed."""

    error_type: str
    error_message: str
    error_traceback: str
    attempts: int
    first_failed_at: datetime | None
    last_failed_at: datetime | None


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
    failure = _failure_from_headers(headers)
    if kind == DeadLetter.Kind.UNROUTABLE:
        key = f"{service}:unroutable:{event_id}"
        failure = dataclasses.replace(failure, error_message=UNROUTABLE_REASON)
    else:
        key = headers.get(failures.DEAD_LETTER_KEY) or failures.dead_letter_key(service, body)
        death = _broker_death(headers)
        if death is not None:
            failure = _failure_from_broker(failure, death)
            # A message that came back from a retry queue was delivered with the retry
            # queue's name as routing key; its event type is what it was first routed by.
            routing_key = str(properties.get("type") or routing_key)
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
            # `user_id` is kept even when no one signed the message: a record without it was
            # made before messages were signed (`replay_message`).
            "properties": {**_json_safe(properties), "user_id": properties.get("user_id")},
            "error_type": failure.error_type,
            "error_message": failure.error_message,
            "error_traceback": failure.error_traceback,
            "attempts": failure.attempts,
            "first_failed_at": failure.first_failed_at or timezone.now(),
            "last_failed_at": failure.last_failed_at or timezone.now(),
            "resolved_at": None,
            "discard_reason": "",
        },
    )
    return record


def _failure_from_headers(headers: Mapping[str, Any]) -> Failure:
    """The failure as the worker that dead-lettered the message described it."""
    return Failure(
        error_type=headers.get(failures.ERROR_TYPE, ""),
        error_message=headers.get(failures.ERROR_MESSAGE, ""),
        error_traceback=headers.get(failures.ERROR_TRACEBACK, ""),
        attempts=int(headers.get(failures.ATTEMPTS, 0)),
        first_failed_at=_time(headers.get(failures.FIRST_FAILED_AT)),
        last_failed_at=_time(headers.get(failures.LAST_FAILED_AT)),
    )


def _broker_death(headers: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """RabbitMQ's record of dead-lettering the message, if RabbitMQ is who did it last.

    A worker's dead letter carries the dead-letter key the worker sets; without it, the most
    recent entry of `x-death` (RabbitMQ puts it first) says why the broker dead-lettered it.
    An earlier death (expiry from a retry queue) stays in the list behind it.
    """
    deaths = headers.get("x-death")
    if failures.DEAD_LETTER_KEY in headers or not deaths:
        return None
    return deaths[0]


def _failure_from_broker(earlier: Failure, death: Mapping[str, Any]) -> Failure:
    """The failure as RabbitMQ reports it, keeping what earlier handling failures said."""
    reason, queue = str(death.get("reason", "")), str(death.get("queue", ""))
    if reason == "delivery_limit":
        error_type, message = "DeliveryLimitReached", DELIVERY_LIMIT_REASON.format(queue=queue)
    else:
        error_type, message = "DeadLetteredByBroker", f"{queue}: dead-lettered ({reason})."
    if earlier.error_message:
        message += f" Earlier failure: {earlier.error_type}: {earlier.error_message}"
    return dataclasses.replace(
        earlier,
        error_type=error_type,
        error_message=message,
        first_failed_at=earlier.first_failed_at or _time(death.get("time")),
        last_failed_at=_time(death.get("time")),
    )


def _identify(body: bytes, properties: Mapping[str, Any]) -> tuple[str, str]:
    try:
        event = parse_cloudevent(body)
        return event.id, event.type
    except MalformedEvent:
        return str(properties.get("message_id") or ""), str(properties.get("type") or "")


def _time(value: object) -> datetime | None:
    """A time from a header: ISO text from a worker, or an AMQP timestamp (naive, UTC)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
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
