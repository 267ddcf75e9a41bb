"""The RabbitMQ topology of every service, declared idempotently.

Per service `xxx`:

    xxx-publish-x          topic exchange; every event xxx publishes, routing key = event type
    xxx-publish-dlx        fanout; the publish exchange's alternate exchange (unroutable events)
    xxx-publish-dlq        queue of those unroutable events
    xxx-receive-q          the one queue xxx consumes, bound to other publish exchanges
    xxx-receive-dlx        fanout; where messages whose handling failed for good are sent
    xxx-receive-dlq        queue of those dead letters
    xxx-receive-recover-x  fanout into xxx-receive-q; replaying a dead letter publishes here
    xxx-receive-retry-Ns   one queue per retry delay: a failed message waits there N seconds
                           (its TTL), then dead-letters through xxx-receive-recover-x back
                           into xxx-receive-q. The name carries the delay, because a queue's
                           TTL cannot change once declared.
    xxx-tasks              Celery's queue for xxx's own tasks (outbox sweep, retention,
                           asynchronous listeners): they run where xxx's database is reachable.
"""

from collections.abc import Iterable, Sequence

import amqp

from outbox.registry import Service


def publish_exchange(service: str) -> str:
    return f"{service}-publish-x"


def publish_dead_letter_exchange(service: str) -> str:
    return f"{service}-publish-dlx"


def publish_dead_letter_queue(service: str) -> str:
    return f"{service}-publish-dlq"


def receive_queue(service: str) -> str:
    return f"{service}-receive-q"


def receive_dead_letter_exchange(service: str) -> str:
    return f"{service}-receive-dlx"


def receive_dead_letter_queue(service: str) -> str:
    return f"{service}-receive-dlq"


def receive_recover_exchange(service: str) -> str:
    return f"{service}-receive-recover-x"


def receive_retry_queue(service: str, delay_seconds: float) -> str:
    return f"{service}-receive-retry-{delay_seconds:g}s"


def task_queue(service: str) -> str:
    return f"{service}-tasks"


def declare(
    channel: amqp.Channel, services: Iterable[Service], retry_delays: Sequence[float]
) -> None:
    """Declare the exchanges, queues and bindings of the services; safe to repeat."""
    services = list(services)
    for service in services:
        declare_publishing_side(channel, service.name)
    for service in services:
        declare_receiving_side(channel, service)
        declare_retry_queues(channel, service.name, retry_delays)


def declare_publishing_side(channel: amqp.Channel, service: str) -> None:
    """The publish exchange, with its alternate exchange and queue for unroutable events."""
    dead_letters = publish_dead_letter_exchange(service)
    _exchange(channel, dead_letters, "fanout")
    _queue(channel, publish_dead_letter_queue(service))
    channel.queue_bind(publish_dead_letter_queue(service), dead_letters, "")
    _exchange(channel, publish_exchange(service), "topic", {"alternate-exchange": dead_letters})


def declare_receiving_side(channel: amqp.Channel, service: Service) -> None:
    """The receive queue, its dead-letter path, its recover exchange and its subscriptions."""
    name = service.name
    _exchange(channel, receive_dead_letter_exchange(name), "fanout")
    _queue(channel, receive_dead_letter_queue(name))
    channel.queue_bind(receive_dead_letter_queue(name), receive_dead_letter_exchange(name), "")
    _queue(
        channel,
        receive_queue(name),
        {"x-dead-letter-exchange": receive_dead_letter_exchange(name)},
    )
    _exchange(channel, receive_recover_exchange(name), "fanout")
    channel.queue_bind(receive_queue(name), receive_recover_exchange(name), "")
    for subscription in service.handlers:
        declare_publishing_side(channel, subscription.source)
        channel.queue_bind(
            receive_queue(name), publish_exchange(subscription.source), subscription.event_type
        )


def declare_retry_queues(channel: amqp.Channel, service: str, delays: Sequence[float]) -> None:
    """Delay queues whose expired messages go back to the receive queue."""
    for delay in delays:
        _queue(
            channel,
            receive_retry_queue(service, delay),
            {
                "x-message-ttl": round(delay * 1000),
                "x-dead-letter-exchange": receive_recover_exchange(service),
            },
        )


def _exchange(channel: amqp.Channel, name: str, kind: str, arguments: dict | None = None) -> None:
    channel.exchange_declare(name, kind, durable=True, auto_delete=False, arguments=arguments)


def _queue(channel: amqp.Channel, name: str, arguments: dict | None = None) -> None:
    channel.queue_declare(name, durable=True, auto_delete=False, arguments=arguments)
