"""Event consumers inside Celery workers, as a consumer bootstep.

The events are not Celery tasks: each served service's receive queue is consumed with a plain
kombu consumer in the worker's event loop, with manual acknowledgements. A message is
acknowledged only after its handling committed, or after a copy was confirmed at its next
stop (a retry queue or the dead-letter queue). The same step drains the service's dead-letter
queues into the `DeadLetter` table of the service's database, and has the worker consume the
service's task queue, where its sweeps and asynchronous listeners wait.

A worker serves every service registered in its process: every context, or the one of a
split deployment (ECOMMERCE_SERVICES).

Received messages are handled in batches, one transaction each
(`outbox.core.consumer.handle_batch`), gathered by `MessageBatches`. A redelivered message is
handled alone: it may be the one whose handling killed the worker that had it.
"""

import dataclasses
import logging
import select
import time
from collections.abc import Callable, Sequence
from typing import Any, Generic, Protocol, TypeVar

from celery import bootsteps
from celery.worker import consumer as celery_consumer
from celery.worker import state as worker_state
from django.conf import settings
from django.db import InterfaceError, OperationalError, connections
from kombu import Connection, Consumer, Queue
from kombu.asynchronous import Hub
from kombu.message import Message
from kombu.transport import pyamqp

from outbox.core import metrics, registry, replication, topology, tracing
from outbox.core.broker import confirming_publisher, declare_own_topology
from outbox.core.cloudevents import MalformedEvent
from outbox.core.consumer import handle_batch
from outbox.core.databases import DatabaseUnreachable, require_databases
from outbox.core.dead_letters import dead_letter_record
from outbox.core.failures import FailureRouter, body_of
from outbox.core.publisher import PublishFailed
from outbox.core.senders import sender_of
from outbox.core.task_queues import service_task_queue
from outbox.models import DeadLetter

logger = logging.getLogger(__name__)

DATABASE_RETRY_SECONDS = 1.0
DATABASE_ERRORS = (OperationalError, InterfaceError)
# The longest a batch waits when the frames waiting on the connection were no messages.
BATCH_LINGER_SECONDS = 0.005

DELIVERY_COUNT_HEADER = "x-delivery-count"

MessageCallback = Callable[[Message], None]
# What a batch gathers: kombu messages in the worker, anything in a test of the batching alone.
M = TypeVar("M")
BatchCallback = Callable[[list[M]], None]


class EventConsumerStep(bootsteps.ConsumerStep):
    """Declares the topology and consumes the served services' receive and dead-letter queues."""

    def __init__(self, parent: celery_consumer.Consumer, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        try:
            require_databases(registry.outbox_databases())
        except DatabaseUnreachable as error:
            # Celery turns exceptions of a starting step into a traceback; SystemExit ends the
            # worker with just the message.
            raise SystemExit(f"worker not started: {error}") from None
        tracing.configure("worker")
        self.failures = FailureRouter(
            confirming_publisher(), settings.OUTBOX["RETRY_DELAYS_SECONDS"]
        )
        self.hub: Hub | None = None
        self.connection: Connection | None = None
        self.batches: MessageBatches[Message] | None = None
        for service in registry.all_services():
            parent.app.amqp.queues.select_add(service_task_queue(service.name))
        metrics.serve(settings.METRICS["WORKER_PORT"], "worker")

    def start(self, c: celery_consumer.Consumer) -> None:
        # Set on every (re)connection, before the consumers are made. Celery's stubs leave
        # out the consumer's event loop.
        self.hub, self.connection = c.hub, c.connection  # type: ignore[attr-defined]
        super().start(c)

    def get_consumers(self, channel: pyamqp.Channel) -> list[Consumer]:
        # Bodies as sent: py-amqp would otherwise decode a body with whatever content
        # encoding its sender names, and a hostile one could fail or change it.
        channel.auto_decode = False
        declare_own_topology(channel)
        self.batches = MessageBatches(
            settings.OUTBOX["CONSUMER_BATCH_SIZE"], self.frames_waiting, self.hub
        )
        services = registry.all_services()
        logger.info("consuming events for: %s", ", ".join(s.name for s in services))
        consumers = []
        for service in services:
            consumers += [
                self._consumer(
                    channel, topology.receive_queue(service.name), self._on_event(service)
                ),
                self._consumer(
                    channel,
                    topology.receive_dead_letter_queue(service.name),
                    self._on_dead_letter(service, DeadLetter.Kind.FAILED),
                ),
                self._consumer(
                    channel,
                    topology.publish_dead_letter_queue(service.name),
                    self._on_dead_letter(service, DeadLetter.Kind.UNROUTABLE),
                ),
            ]
        return consumers

    def shutdown(self, c: celery_consumer.Consumer) -> None:
        super().shutdown(c)
        self.failures.publisher.close()

    def _consumer(
        self, channel: pyamqp.Channel, queue: str, on_message: MessageCallback
    ) -> Consumer:
        return Consumer(
            channel,
            queues=[Queue(queue, no_declare=True)],
            on_message=on_message,
            prefetch_count=settings.OUTBOX["CONSUMER_PREFETCH"],
            auto_declare=False,
        )

    def _on_event(self, service: registry.Service) -> MessageCallback:
        def on_batch(messages: list[Message]) -> None:
            try:
                outcomes = handle_batch(
                    service,
                    [body_of(message) for message in messages],
                    senders=[
                        sender_of(message.properties, message.headers, service.name)
                        for message in messages
                    ],
                )
            except DATABASE_ERRORS as error:
                give_back(messages, error, service.database)
                return
            if not standby_has_commit(messages, service.database, self.heartbeat):
                return
            for message, outcome in zip(messages, outcomes, strict=True):
                if isinstance(outcome, MalformedEvent):
                    self._route_failure(service.name, message, outcome, retry=False)
                elif isinstance(outcome, Exception):  # logged by handle_batch, with its event
                    self._route_failure(service.name, message, outcome, retry=True)
                else:
                    message.ack()

        def on_message(message: Message) -> None:
            assert self.batches is not None, "get_consumers made the batches"
            self.batches.add(on_batch, message, previous_deliveries=previous_deliveries(message))

        return on_message

    def _route_failure(
        self, service: str, message: Message, error: Exception, *, retry: bool
    ) -> None:
        try:
            queue = self.failures.route(service, message, error, retry=retry)
        except PublishFailed as publish_error:
            give_back([message], publish_error, registry.service_database(service))
            return
        logger.info("%s sent a failed message to %s: %s", service, queue, error)
        message.ack()

    def _on_dead_letter(self, service: registry.Service, kind: DeadLetter.Kind) -> MessageCallback:
        def on_dead_letter(message: Message) -> None:
            try:
                dead_letter_record(
                    service=service.name,
                    kind=kind,
                    body=body_of(message),
                    properties=message.properties,
                    routing_key=message.delivery_info.get("routing_key", ""),
                    using=service.database,
                )
            except DATABASE_ERRORS as error:
                give_back([message], error, service.database)
                return
            if not standby_has_commit([message], service.database, self.heartbeat):
                return
            message.ack()
            metrics.count_dead_letter_recorded(service.name, kind)

        return on_dead_letter

    def heartbeat(self) -> None:
        """Answer the broker's heartbeats while the event loop is held (a wait for a standby):
        a broker that hears nothing closes the connection and gives the messages back."""
        if self.connection is not None:
            self.connection.heartbeat_check()

    def frames_waiting(self) -> bool:
        """Whether the broker has sent more than this worker has read yet."""
        assert self.connection is not None, "start() set the connection"
        socket = self.connection.connection.sock
        readable, _, _ = select.select([socket], [], [], 0)
        return bool(readable)


class Timers(Protocol):
    """What the batches need of the worker's event loop (kombu's `Hub`)."""

    def call_later(self, delay: float, callback: Callable[[], None]) -> object: ...


class MessageBatches(Generic[M]):
    """Received messages gathered into batches, one per service, each for one transaction.

    A message joins its service's batch. While the broker has sent more than the worker has
    read, the batches wait for it; as soon as nothing more waits on the connection, or a batch
    is full, they are handled. A lone message thus waits for nobody, and a backlog shares its
    commits. Without an event loop every message is handled alone.

    A redelivered message was held by a worker that died or gave it back. If its handling is
    what kills workers, a batch that holds it dies with it every time, and the broker's
    delivery limit would dead-letter the whole batch. So redelivered messages are handled
    alone, each in its own transaction, after the fresh messages that arrived with them.
    """

    def __init__(self, size: int, frames_waiting: Callable[[], bool], hub: Timers | None) -> None:
        self.size = size
        self.frames_waiting = frames_waiting
        self.hub = hub
        self.waiting: dict[BatchCallback[M], list[M]] = {}
        self.redelivered: list[Redelivery[M]] = []
        self.linger_timer_set = False

    def add(self, handle: BatchCallback[M], message: M, *, previous_deliveries: int = 0) -> None:
        if previous_deliveries:
            self.redelivered.append(Redelivery(handle, message, previous_deliveries))
        else:
            batch = self.waiting.setdefault(handle, [])
            batch.append(message)
            if len(batch) >= self.size:
                self.flush(handle)
        if self.hub is None or not self.frames_waiting():
            self.flush_all()
        elif not self.linger_timer_set:
            # What waits may be no message (a heartbeat, a Celery task): do not wait on it.
            self.linger_timer_set = True
            self.hub.call_later(BATCH_LINGER_SECONDS, self.on_linger_timer)

    def on_linger_timer(self) -> None:
        self.linger_timer_set = False
        self.flush_all()

    def flush_all(self) -> None:
        for handle in list(self.waiting):
            self.flush(handle)
        redelivered, self.redelivered = self.redelivered, []
        for redelivery in in_handling_order(redelivered):
            redelivery.handle([redelivery.message])

    def flush(self, handle: BatchCallback[M]) -> None:
        messages = self.waiting.pop(handle, [])
        if messages:
            handle(messages)


@dataclasses.dataclass(frozen=True)
class Redelivery(Generic[M]):
    handle: BatchCallback[M]
    message: M
    previous_deliveries: int


def in_handling_order(redelivered: Sequence[Redelivery[M]]) -> list[Redelivery[M]]:
    """Fewest previous deliveries first; equal ones in arrival order on odd counts, in reverse
    on even counts.

    A worker that dies gives back every message it held, each with one more delivery, so the
    message that killed it always shares its count with those that arrived with it, and they
    come back in the same order. Handled always in arrival order, the ones behind a message
    that kills every worker would never be reached and would hit the delivery limit with it;
    turning the order around at every count reaches each of them within two restarts.
    """

    def key(position: int) -> tuple[int, int]:
        count = redelivered[position].previous_deliveries
        return count, position if count % 2 else -position

    return [redelivered[position] for position in sorted(range(len(redelivered)), key=key)]


def previous_deliveries(message: Message) -> int:
    """How often the message was delivered before without being acknowledged.

    Quorum queues count it (`x-delivery-count`); classic queues only flag a redelivery.
    """
    count = int(message.headers.get(DELIVERY_COUNT_HEADER) or 0)
    if message.delivery_info.get("redelivered"):
        return max(count, 1)
    return count


def standby_has_commit(
    messages: Sequence[Message], database: str, while_waiting: Callable[[], None]
) -> bool:
    """Whether the messages may be acknowledged: with OUTBOX["WAIT_FOR_STANDBY"], once a
    standby has flushed the commit that handled them (`outbox.core.replication`).

    False leaves them unacknowledged: the worker is stopping, and the broker gives them again
    to the next worker; or the database went away, and they go back to their queue. Either way
    the consumers' processed-event records make the handling happen once.
    """
    try:
        replication.wait_for_standby(
            database, waiter="worker", stopping=worker_stopping, while_waiting=while_waiting
        )
    except replication.StandbyWaitAbandoned:
        return False
    except DATABASE_ERRORS as error:
        give_back(messages, error, database)
        return False
    return True


def worker_stopping() -> bool:
    """Whether Celery was told to stop. Its signal handlers only set these, to an exit code
    that may be 0, as Celery's own loop tests them."""
    return any(
        flag is not None and flag is not False
        for flag in (worker_state.should_stop, worker_state.should_terminate)
    )


def give_back(messages: Sequence[Message], error: Exception, database: str) -> None:
    """Return messages to their queue after an outage that is not their fault.

    They go back once the database answers again: a quorum queue counts every return towards
    its delivery limit, so giving them back every second of a long outage would dead-letter
    them. The pause also keeps a worker whose broker is down from spinning on redeliveries.
    """
    logger.warning("outage, %d messages go back to their queue: %s", len(messages), error)
    wait_for_database(database)
    for message in messages:
        message.requeue()


def wait_for_database(database: str) -> None:
    """Return once a new connection to `database` works, trying every DATABASE_RETRY_SECONDS."""
    connection = connections[database]
    while True:
        connection.close()
        time.sleep(DATABASE_RETRY_SECONDS)
        try:
            connection.ensure_connection()
        except DATABASE_ERRORS as error:
            logger.warning("database still unreachable: %s", error)
            continue
        return
