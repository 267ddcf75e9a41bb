"""A throwaway service on the test broker, for tests that change queue types: its queues
have names of their own, so that the session's topology stays as it is."""

import json
import uuid

import amqp
from kombu import Connection

from outbox.core import topology
from outbox.core.cloudevents import CONTENT_TYPE
from outbox.core.registry import Service, Subscription
from outbox.core.topology import QueueShape
from outbox.operations.queue_migration import TEMPORARY_SUFFIX
from tests.e2e.messages import cloudevent

# A quick delay to watch a retry come back, and a long one that keeps messages parked.
SCRATCH_RETRY_DELAYS = (0.2, 600)
SCRATCH_EVENT_TYPE = "ThingHappenedEvent"


def scratch_service() -> Service:
    """A service that subscribes to one event of a source of its own."""
    name = f"scratch-{uuid.uuid4().hex[:8]}"
    return Service(name, {Subscription(source(name), SCRATCH_EVENT_TYPE): lambda event: None})


def source(service: str) -> str:
    return f"{service}-source"


def declare(broker: Connection, service: Service, shape: QueueShape) -> topology.Topology:
    """Declare the service's topology with this shape; return it."""
    topology.declare(broker.default_channel, [service], SCRATCH_RETRY_DELAYS, shape)
    return topology.plan([service], SCRATCH_RETRY_DELAYS, shape)


def delete(broker: Connection, service: Service) -> None:
    """Delete the service's queues (and leftover temporary ones) and exchanges."""
    plan = topology.plan([service], SCRATCH_RETRY_DELAYS, QueueShape())
    channel = broker.default_channel
    for queue in plan.queues:
        channel.queue_delete(queue.name)
        channel.queue_delete(queue.name + TEMPORARY_SUFFIX)
    for exchange in plan.exchanges:
        channel.exchange_delete(exchange.name)


def event_message(service: Service, **headers: object) -> tuple[str, amqp.Message]:
    """A persistent CloudEvent of the service's source; returns its id and the message."""
    event = cloudevent(SCRATCH_EVENT_TYPE, source=source(service.name), data={})
    message = amqp.Message(
        json.dumps(event).encode(), content_type=CONTENT_TYPE, message_id=event["id"],
        delivery_mode=2, application_headers=headers,
    )  # fmt: skip
    return event["id"], message
