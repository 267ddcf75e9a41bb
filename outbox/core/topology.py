"""The RabbitMQ topology of every service, declared idempotently.

Per service `xxx`:

    xxx-publish-x          topic exchange; every event xxx publishes, routing key = event type
    xxx-publish-dlx        fanout; the publish exchange's alternate exchange (unroutable events)
    xxx-publish-dlq        queue of those unroutable events
    xxx-receive-q          the one queue xxx consumes, bound to other publish exchanges
    xxx-receive-dlx        fanout; where messages whose handling failed for good are sent
    xxx-receive-dlq        queue of those dead letters
    xxx-receive-recover-x  fanout into xxx-receive-q; replaying a dead letter publishes here
    xxx-receive-retry-x    direct; a failed message is sent here, routed by the name of the
                           retry queue it should wait in
    xxx-receive-retry-Ns   one queue per retry delay: a failed message waits there N seconds
                           (its TTL), then dead-letters through xxx-receive-recover-x back
                           into xxx-receive-q. The name carries the delay, because a queue's
                           TTL cannot change once declared.
    xxx-tasks              Celery's queue for xxx's own tasks (outbox sweep, retention,
                           asynchronous listeners): they run where xxx's database is reachable.

The queues are quorum queues (replicated on every node of a cluster) unless the shape asks for
classic ones. Quorum queues bring two guarantees that the topology uses:

- `x-delivery-limit` on xxx-receive-q: a message given back more often than that (its worker
  died while holding it, every time) is dead-lettered to xxx-receive-dlx instead of killing
  workers forever.
- `x-dead-letter-strategy: at-least-once` on the queues that dead-letter (xxx-receive-q and
  the retry queues): the broker keeps a message until the queue it is dead-lettered to has
  confirmed it. RabbitMQ requires `x-overflow: reject-publish` with it.

A queue's type and arguments cannot change once it is declared: declaring it otherwise fails,
and `QueueMismatch` says what to do (outbox/operations/queue_migration.py moves the messages).
"""

import dataclasses
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import amqp

from outbox.core.registry import Service

QUORUM = "quorum"
CLASSIC = "classic"
QUEUE_TYPES = (QUORUM, CLASSIC)
DEFAULT_DELIVERY_LIMIT = 10


@dataclasses.dataclass(frozen=True)
class QueueShape:
    """The type of the topology's queues, and the delivery limit of quorum receive queues."""

    queue_type: str = QUORUM
    delivery_limit: int = DEFAULT_DELIVERY_LIMIT

    def __post_init__(self) -> None:
        if self.queue_type not in QUEUE_TYPES:
            raise ValueError(f"queue type {self.queue_type!r}: expected one of {QUEUE_TYPES}")

    def with_the_other_type(self) -> "QueueShape":
        """The same shape with classic queues instead of quorum ones, or the reverse."""
        other = CLASSIC if self.queue_type == QUORUM else QUORUM
        return dataclasses.replace(self, queue_type=other)


@dataclasses.dataclass(frozen=True)
class Binding:
    exchange: str
    routing_key: str


@dataclasses.dataclass(frozen=True)
class ExchangeDeclaration:
    name: str
    kind: str
    # The service whose exchange it is: a receive queue binds to other services' exchanges.
    owner: str
    arguments: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class QueueDeclaration:
    name: str
    arguments: dict[str, Any]
    bindings: tuple[Binding, ...] = ()


@dataclasses.dataclass(frozen=True)
class Topology:
    """Every exchange and queue of some services, each queue with its bindings."""

    exchanges: list[ExchangeDeclaration]
    queues: list[QueueDeclaration]

    def queue(self, name: str) -> QueueDeclaration:
        return next(queue for queue in self.queues if queue.name == name)


class QueueMismatch(Exception):
    """A queue exists with another type or other arguments than the topology declares."""

    def __init__(self, queue: str, wanted_type: str, current_type: str | None, reason: str):
        self.queue = queue
        self.wanted_type = wanted_type
        self.current_type = current_type
        self.reason = reason
        if current_type:
            found = f"is a {current_type} queue"
            alternative = f", or set OUTBOX_QUEUE_TYPE={current_type} to keep it"
        else:
            found = "was declared with other arguments"
            alternative = ""
        super().__init__(
            f"RabbitMQ queue {queue!r} {found}, but the topology declares a {wanted_type} queue "
            f"({reason}). A queue's type and arguments cannot change in place: stop the "
            f"workers and run `python manage.py migrate_queues --to {wanted_type}`, which "
            f"moves its messages to a queue of the new shape{alternative}."
        )


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


def receive_retry_exchange(service: str) -> str:
    return f"{service}-receive-retry-x"


def receive_retry_queue(service: str, delay_seconds: float) -> str:
    return f"{service}-receive-retry-{delay_seconds:g}s"


def task_queue(service: str) -> str:
    return f"{service}-tasks"


def plan(services: Iterable[Service], retry_delays: Sequence[float], shape: QueueShape) -> Topology:
    """The exchanges and queues of the services, without touching the broker."""
    exchanges: dict[str, ExchangeDeclaration] = {}
    queues: list[QueueDeclaration] = []

    def publishing_side(service: str) -> None:
        dead_letters = publish_dead_letter_exchange(service)
        exchanges[dead_letters] = ExchangeDeclaration(dead_letters, "fanout", service)
        exchanges[publish_exchange(service)] = ExchangeDeclaration(
            publish_exchange(service), "topic", service, {"alternate-exchange": dead_letters}
        )

    services = list(services)
    for service in services:
        publishing_side(service.name)
        queues.append(
            QueueDeclaration(
                publish_dead_letter_queue(service.name),
                _arguments(shape),
                (Binding(publish_dead_letter_exchange(service.name), ""),),
            )
        )
    for service in services:
        name = service.name
        for exchange, kind in (
            (receive_dead_letter_exchange(name), "fanout"),
            (receive_recover_exchange(name), "fanout"),
            (receive_retry_exchange(name), "direct"),
        ):
            exchanges[exchange] = ExchangeDeclaration(exchange, kind, name)
        queues.append(
            QueueDeclaration(
                receive_dead_letter_queue(name),
                _arguments(shape),
                (Binding(receive_dead_letter_exchange(name), ""),),
            )
        )
        subscriptions = []
        for subscription in service.handlers:
            publishing_side(subscription.source)
            subscriptions.append(
                Binding(publish_exchange(subscription.source), subscription.event_type)
            )
        queues.append(
            QueueDeclaration(
                receive_queue(name),
                _arguments(
                    shape,
                    {"x-dead-letter-exchange": receive_dead_letter_exchange(name)},
                    delivery_limit=True,
                ),
                (Binding(receive_recover_exchange(name), ""), *subscriptions),
            )
        )
        for delay in retry_delays:
            queues.append(
                QueueDeclaration(
                    receive_retry_queue(name, delay),
                    _arguments(
                        shape,
                        {
                            "x-message-ttl": round(delay * 1000),
                            "x-dead-letter-exchange": receive_recover_exchange(name),
                        },
                    ),
                    (Binding(receive_retry_exchange(name), receive_retry_queue(name, delay)),),
                )
            )
    return Topology(list(exchanges.values()), queues)


@dataclasses.dataclass(frozen=True)
class Permissions:
    """What a broker user may do on a vhost: RabbitMQ's three regular expressions over the
    names of exchanges and queues."""

    configure: str
    write: str
    read: str


def permissions(
    services: Iterable[Service], retry_delays: Sequence[float], default_task_queue: str
) -> Permissions:
    """What the broker user of these services needs, and no more.

    `default_task_queue` is Celery's queue for a task without a service, which every worker
    declares on start.

    It declares its own exchanges and queues (a worker declares them on every connection),
    binds its receive queue to the publish exchanges it subscribes to, writes only to its own
    publish exchange, its retry, dead-letter and recover paths and its task exchange, and
    reads only its own queues. It may not write to the default exchange, which reaches every
    queue by name, nor to another service's exchanges.
    """
    services = list(services)
    own = [name for service in services for name in _own_names(service.name, retry_delays)]
    subscribed = {
        publish_exchange(subscription.source)
        for service in services
        for subscription in service.handlers
    }
    writes = [
        name
        for service in services
        for name in (
            publish_exchange(service.name),
            receive_retry_exchange(service.name),
            receive_dead_letter_exchange(service.name),
            receive_recover_exchange(service.name),
            task_queue(service.name),
            # Binding a queue needs write on it.
            receive_queue(service.name),
            receive_dead_letter_queue(service.name),
            publish_dead_letter_queue(service.name),
            *(receive_retry_queue(service.name, delay) for delay in retry_delays),
        )
    ]
    return Permissions(
        configure=_any_of([*own, default_task_queue]),
        write=_any_of([*writes, default_task_queue]),
        read=_any_of([*own, *sorted(subscribed - set(own)), default_task_queue]),
    )


def task_permissions(services: Iterable[str], default_task_queue: str) -> Permissions:
    """What a scheduler (Celery beat) needs to send the services' tasks, and no more."""
    tasks = _any_of([*(task_queue(service) for service in services), default_task_queue])
    return Permissions(configure=tasks, write=tasks, read=tasks)


def _own_names(service: str, retry_delays: Sequence[float]) -> list[str]:
    return [
        publish_exchange(service),
        publish_dead_letter_exchange(service),
        publish_dead_letter_queue(service),
        receive_queue(service),
        receive_dead_letter_exchange(service),
        receive_dead_letter_queue(service),
        receive_recover_exchange(service),
        receive_retry_exchange(service),
        *(receive_retry_queue(service, delay) for delay in retry_delays),
        task_queue(service),
    ]


def _any_of(names: Iterable[str]) -> str:
    return "^(" + "|".join(re.escape(name) for name in dict.fromkeys(names)) + ")$"


def declare(
    channel: amqp.Channel,
    services: Iterable[Service],
    retry_delays: Sequence[float],
    shape: QueueShape,
    *,
    others_passively: bool = False,
) -> None:
    """Declare the exchanges, queues and bindings of the services; safe to repeat.

    `others_passively` only checks that the other services' exchanges that the receive queues
    bind to exist, as a service's own broker user may not create them (`permissions`).
    Raises `QueueMismatch` when a queue exists with another type or other arguments.
    """
    services = list(services)
    wanted = plan(services, retry_delays, shape)
    own = {service.name for service in services}
    declare_exchanges(
        channel,
        wanted.exchanges,
        passively=lambda exchange: others_passively and exchange.owner not in own,
    )
    for queue in wanted.queues:
        try:
            declare_queue(channel, queue)
        except amqp.exceptions.PreconditionFailed as error:
            other_shape = shape.with_the_other_type()
            other = plan(services, retry_delays, other_shape).queue(queue.name)
            current = other_shape.queue_type if matches(channel, other) else None
            raise QueueMismatch(queue.name, shape.queue_type, current, reason(error)) from error
        bind(channel, queue.name, queue.bindings)


def declare_exchanges(
    channel: amqp.Channel,
    exchanges: Iterable[ExchangeDeclaration],
    *,
    passively: Callable[[ExchangeDeclaration], bool] = lambda exchange: False,
) -> None:
    for exchange in exchanges:
        channel.exchange_declare(
            exchange.name, exchange.kind, durable=True, auto_delete=False,
            arguments=exchange.arguments, passive=passively(exchange),
        )  # fmt: skip


def declare_queue(channel: amqp.Channel, queue: QueueDeclaration) -> None:
    """Declare a queue; `PreconditionFailed` if it exists otherwise (the channel reopens)."""
    channel.queue_declare(queue.name, durable=True, auto_delete=False, arguments=queue.arguments)


def bind(channel: amqp.Channel, queue: str, bindings: Iterable[Binding]) -> None:
    for binding in bindings:
        channel.queue_bind(queue, binding.exchange, binding.routing_key)


def unbind(channel: amqp.Channel, queue: str, bindings: Iterable[Binding]) -> None:
    for binding in bindings:
        channel.queue_unbind(queue, binding.exchange, binding.routing_key)


def matches(channel: amqp.Channel, queue: QueueDeclaration) -> bool:
    """Whether the existing queue has exactly this declaration's type and arguments.

    Declaring a queue that exists with the same arguments changes nothing; with other
    arguments the broker refuses and closes the channel, which py-amqp reopens. A queue that
    does not exist is created: ask `exists` first.
    """
    try:
        declare_queue(channel, queue)
    except amqp.exceptions.PreconditionFailed:
        return False
    return True


def exists(channel: amqp.Channel, queue: str) -> bool:
    """Whether the queue exists (a passive declare, which creates nothing)."""
    try:
        channel.queue_declare(queue, passive=True)
    except amqp.exceptions.NotFound:
        return False
    return True


def queue_counts(channel: amqp.Channel, queue: str) -> tuple[int, int]:
    """The ready messages and the consumers of an existing queue (a passive declare, which
    creates nothing); `amqp.exceptions.NotFound` when there is no such queue."""
    declared = channel.queue_declare(queue, passive=True)
    assert declared is not None, "a declare without nowait returns the broker's answer"
    _, messages, consumers = declared
    return messages, consumers


def reason(error: amqp.exceptions.AMQPError) -> str:
    """RabbitMQ's explanation of a refusal, e.g. "inequivalent arg 'x-queue-type' ..."."""
    return str(error.reply_text).removeprefix("PRECONDITION_FAILED - ")


def _arguments(
    shape: QueueShape, arguments: dict[str, Any] | None = None, *, delivery_limit: bool = False
) -> dict[str, Any]:
    arguments = dict(arguments or {})
    if shape.queue_type == CLASSIC:
        # Without x-queue-type, as classic queues were always declared here: an existing
        # deployment's queues stay equivalent.
        return arguments
    arguments["x-queue-type"] = QUORUM
    if delivery_limit:
        arguments["x-delivery-limit"] = shape.delivery_limit
    if "x-dead-letter-exchange" in arguments:
        arguments["x-dead-letter-strategy"] = "at-least-once"
        arguments["x-overflow"] = "reject-publish"
    return arguments
