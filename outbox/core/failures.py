"""Where a message goes when its handling fails: a retry queue, or the dead-letter queue.

Retries use RabbitMQ's own means: the message is republished to a delay queue whose TTL
returns it to the receive queue, so the worker never sleeps and other messages flow on.
The headers below travel with the message and say what happened to it so far.
"""

import traceback
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from kombu.message import Message

from outbox.core import metrics, topology
from outbox.core.cloudevents import MalformedEvent, parse_cloudevent
from outbox.core.publisher import ConfirmingPublisher, OutgoingMessage
from outbox.core.senders import SENDER_HEADER, sender_of

ATTEMPTS = "x-attempts"
FIRST_FAILED_AT = "x-first-failed-at"
LAST_FAILED_AT = "x-last-failed-at"
ERROR_TYPE = "x-error-type"
ERROR_MESSAGE = "x-error-message"
ERROR_TRACEBACK = "x-error-traceback"
CONSUMER = "x-consumer"
DEAD_LETTER_KEY = "x-dead-letter-key"
FAILURE_HEADERS = (
    ATTEMPTS,
    FIRST_FAILED_AT,
    LAST_FAILED_AT,
    ERROR_TYPE,
    ERROR_MESSAGE,
    ERROR_TRACEBACK,
    CONSUMER,
    DEAD_LETTER_KEY,
)
KEPT_PROPERTIES = ("content_type", "content_encoding", "message_id", "type", "app_id")
MAX_ERROR_CHARS = 2000
MAX_TRACEBACK_CHARS = 8000


class FailureRouter:
    """Sends a failed message to its next retry queue, or to the dead letters when spent."""

    def __init__(self, publisher: ConfirmingPublisher, retry_delays: Sequence[float]) -> None:
        self.publisher = publisher
        self.retry_delays = list(retry_delays)

    @property
    def max_attempts(self) -> int:
        return len(self.retry_delays) + 1

    def route(self, service: str, message: Message, error: Exception, *, retry: bool) -> str:
        """Publish the failed message where it goes next (confirmed); return that queue.

        The caller acknowledges the original only after this returns, so a crash in between
        leaves a copy at both places, which the processed-event table makes harmless.
        """
        headers = failure_headers(message.headers, service, error)
        # The copy is sent by this consumer's own user: it names who sent the original, or
        # that no one signed it.
        headers[SENDER_HEADER] = sender_of(message.properties, message.headers, service) or ""
        attempts = headers[ATTEMPTS]
        if retry and attempts < self.max_attempts:
            queue = topology.receive_retry_queue(service, self.retry_delays[attempts - 1])
            delayed = copy_of(
                message,
                exchange=topology.receive_retry_exchange(service),
                routing_key=queue,
                headers=headers,
            )
            self.publisher.publish([delayed])
            metrics.count_failure_routed(service, body_of(message), retried=True)
            return queue
        headers[DEAD_LETTER_KEY] = dead_letter_key(service, body_of(message))
        # After a retry the delivery's routing key names a retry queue; the event type is what
        # the message was first routed by, and what a replay should show.
        routing_key = message.properties.get("type") or message.delivery_info.get("routing_key")
        dead = copy_of(
            message,
            exchange=topology.receive_dead_letter_exchange(service),
            routing_key=routing_key or "",
            headers=headers,
        )
        self.publisher.publish([dead])
        metrics.count_failure_routed(service, body_of(message), retried=False)
        return topology.receive_dead_letter_queue(service)


def body_of(message: Message) -> bytes:
    """A received message's body, the bytes that were sent: the worker's channel does not
    decode bodies (`auto_decode` off), whatever kombu's stubs say."""
    assert isinstance(message.body, bytes), "a body from a channel that does not decode"
    return message.body


def failure_headers(
    headers: Mapping[str, Any] | None, service: str, error: Exception
) -> dict[str, Any]:
    """The message's headers with this failure added."""
    headers = dict(headers or {})
    now = datetime.now(UTC).isoformat()
    headers[ATTEMPTS] = int(headers.get(ATTEMPTS, 0)) + 1
    headers.setdefault(FIRST_FAILED_AT, now)
    headers[LAST_FAILED_AT] = now
    headers[ERROR_TYPE] = type(error).__name__
    headers[ERROR_MESSAGE] = str(error)[:MAX_ERROR_CHARS]
    headers[ERROR_TRACEBACK] = "".join(traceback.format_exception(error))[-MAX_TRACEBACK_CHARS:]
    headers[CONSUMER] = service
    return headers


def without_failure_headers(headers: Mapping[str, Any] | None) -> dict[str, Any]:
    """Headers for a fresh start: a replayed message gets every attempt again."""
    return {key: value for key, value in (headers or {}).items() if key not in FAILURE_HEADERS}


def dead_letter_key(service: str, body: bytes) -> str:
    """One dead letter per service and event; an unreadable message gets a key of its own."""
    try:
        return f"{service}:{parse_cloudevent(body).id}"
    except MalformedEvent:
        return f"{service}:unreadable:{uuid.uuid4().hex}"


def copy_of(
    message: Message, *, exchange: str, routing_key: str, headers: dict[str, Any]
) -> OutgoingMessage:
    """The same body and properties, bound elsewhere with other headers."""
    properties = {
        key: message.properties[key] for key in KEPT_PROPERTIES if key in message.properties
    }
    return OutgoingMessage(
        exchange=exchange,
        routing_key=routing_key,
        body=body_of(message),
        properties={**properties, "application_headers": headers},
    )
