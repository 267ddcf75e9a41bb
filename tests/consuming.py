"""Handing messages to a consumer in the test process, the way the worker does.

`deliver` calls `outbox.core.consumer.handle_batch`, the worker's own entry point, with each
message sent by the broker user its source publishes as: what a worker reads off a message
that the source's relay published. A message that cannot be read has no sender.
"""

from collections.abc import Sequence

from outbox.core.cloudevents import MalformedEvent, parse_cloudevent
from outbox.core.consumer import Outcome, handle_batch
from outbox.core.registry import Service
from outbox.core.senders import broker_user


def deliver(service: Service, bodies: Sequence[bytes]) -> list[Outcome | Exception]:
    """The consumer's outcome for each message, handled as one batch, in one transaction."""
    return handle_batch(service, bodies, senders=[sender(body) for body in bodies])


def sender(body: bytes) -> str | None:
    """The broker user of the message's source, as its relay would have sent it."""
    try:
        return broker_user(parse_cloudevent(body).service)
    except MalformedEvent:
        return None
