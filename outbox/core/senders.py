"""Who sent a message: the broker user RabbitMQ vouches for, checked against the event's source.

Every message the project publishes carries the AMQP `user_id` property, set to the user of
the connection it is sent on (`outbox.core.publisher`). RabbitMQ refuses a message whose `user_id`
is not that connection's user, so the property names the credential that really sent it.

Each service publishes as a broker user of its own (`broker_user`). A consumer accepts an event
only when it was sent by the user of the service its `source` names: a credential that leaks,
or a user that may write to a queue it should not, cannot make one service act on events in
another's name.

A consumer passes some messages on to itself: a failed message goes to a retry queue, a dead
letter is replayed. Those copies are sent by the consumer's own user, and carry the user that
sent the original in the `x-sender` header (empty when no one signed it). The header counts
only on a copy sent by the consumer's own user, the one credential besides the administrator
that may write to its retry and recover exchanges.
"""

import functools
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from kombu import Connection

from outbox.core import registry
from outbox.core.cloudevents import MalformedEvent, ReceivedEvent

SENDER_HEADER = "x-sender"


class Forged(MalformedEvent):
    """An event whose broker user is not the one its source publishes as."""

    def __init__(self, event: ReceivedEvent, sender: str | None, expected: str) -> None:
        self.sender = sender
        self.expected = expected
        super().__init__(
            f"{event.type} {event.id} claims source {event.source}, which publishes as broker "
            f"user {expected!r}, but was sent by {sender or 'no user'!r}"
        )


def broker_user(service: str) -> str:
    """The broker user a service publishes as: as BROKER_USERS says, or else the user this
    process connects as (CELERY_BROKER_URL) for a service it serves, and the user named after
    the service for any other."""
    if user := settings.OUTBOX["BROKER_USERS"].get(service):
        return user
    if registry.is_registered(service):
        return own_broker_user()
    return service


def own_broker_user() -> str:
    """The user of CELERY_BROKER_URL (of its first node: every node takes the same user)."""
    return _user_of(settings.CELERY_BROKER_URL)


@functools.cache
def _user_of(url: str) -> str:
    # Asked for every message a worker receives: the URL is read once.
    return Connection(url).userid or ""


def sender_of(
    properties: Mapping[str, Any], headers: Mapping[str, Any] | None, consumer: str
) -> str | None:
    """The broker user that first sent a message that `consumer` received, or None when it
    carries no `user_id`."""
    user = properties.get("user_id")
    if user is not None and user == broker_user(consumer) and headers and SENDER_HEADER in headers:
        return headers[SENDER_HEADER] or None
    return user


def check_sender(event: ReceivedEvent, sender: str | None) -> None:
    """Raise `Forged` unless `sender` is the broker user of the event's source."""
    expected = broker_user(event.service)
    if sender != expected:
        raise Forged(event, sender, expected)
