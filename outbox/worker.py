"""Event consumers inside Celery workers, as a consumer bootstep.

The events are not Celery tasks: each served service's receive queue is consumed with a plain
kombu consumer in the worker's event loop, with manual acknowledgements. A message is
acknowledged only after its handling committed, or after a copy was confirmed at its next
stop (a retry queue or the dead-letter queue). The same step drains the service's dead-letter
queues into the `DeadLetter` table.

Received messages are handled in batches, one transaction each (`outbox.consumer.handle_batch`):
a batch grows while further messages are already waiting on the connection, and is handled as
soon as none is, so a lone message waits for nobody and a backlog shares its commits.
"""

import logging
import select
import time
from collections.abc import Callable, Sequence

from celery import bootsteps
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from kombu import Connection, Consumer, Queue
from kombu.asynchronous import Hub
from kombu.message import Message

from outbox import registry, topology
from outbox.broker import confirming_publisher, declare_topology
from outbox.cloudevents import MalformedEvent
from outbox.consumer import handle_batch
from outbox.dead_letters import dead_letter_record
from outbox.failures import FailureRouter
from outbox.models import DeadLetter
from outbox.publisher import PublishFailed

logger = logging.getLogger(__name__)

DATABASE_RETRY_SECONDS = 1.0
DATABASE_ERRORS = (OperationalError, InterfaceError)

MessageCallback = Callable[[Message], None]
BatchCallback = Callable[[list[Message]], None]


def consumed_services() -> list[registry.Service]:
    """The services whose queues this worker consumes (setting OUTBOX CONSUMER_SERVICES)."""
    names = settings.OUTBOX["CONSUMER_SERVICES"]
    if not names:
        return registry.all_services()
    return [registry.get_service(name) for name in names]


class EventConsumerStep(bootsteps.ConsumerStep):
    """Declares the topology and consumes the served services' receive and dead-letter queues."""

    def __init__(self, parent: object, **kwargs: object) -> None:
        super().__init__(parent, **kwargs)
        self.failures = FailureRouter(
            confirming_publisher(), settings.OUTBOX["RETRY_DELAYS_SECONDS"]
        )
        self.hub: Hub | None = None
        self.connection: Connection | None = None

    def start(self, c: object) -> None:
        # Set on every (re)connection, before the consumers are made.
        self.hub, self.connection = c.hub, c.connection
        super().start(c)

    def get_consumers(self, channel: object) -> list[Consumer]:
        declare_topology(channel)
        services = consumed_services()
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
                    self._on_dead_letter(service.name, DeadLetter.Kind.FAILED),
                ),
                self._consumer(
                    channel,
                    topology.publish_dead_letter_queue(service.name),
                    self._on_dead_letter(service.name, DeadLetter.Kind.UNROUTABLE),
                ),
            ]
        return consumers

    def shutdown(self, c: object) -> None:
        super().shutdown(c)
        self.failures.publisher.close()

    def _consumer(self, channel: object, queue: str, on_message: MessageCallback) -> Consumer:
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
                outcomes = handle_batch(service, [message.body for message in messages])
            except DATABASE_ERRORS as error:
                give_back(messages, error)
                return
            for message, outcome in zip(messages, outcomes, strict=True):
                if isinstance(outcome, MalformedEvent):
                    self._route_failure(service.name, message, outcome, retry=False)
                elif isinstance(outcome, Exception):
                    logger.warning("%s failed to handle a message: %r", service.name, outcome)
                    self._route_failure(service.name, message, outcome, retry=True)
                else:
                    message.ack()

        batch = MessageBatch(on_batch, settings.OUTBOX["CONSUMER_BATCH_SIZE"], self)
        return batch.add

    def _route_failure(
        self, service: str, message: Message, error: Exception, *, retry: bool
    ) -> None:
        try:
            queue = self.failures.route(service, message, error, retry=retry)
        except PublishFailed as publish_error:
            give_back([message], publish_error)
            return
        logger.info("%s sent a failed message to %s: %s", service, queue, error)
        message.ack()

    def _on_dead_letter(self, service: str, kind: DeadLetter.Kind) -> MessageCallback:
        def on_dead_letter(message: Message) -> None:
            try:
                dead_letter_record(
                    service=service,
                    kind=kind,
                    body=message.body,
                    properties=message.properties,
                    routing_key=message.delivery_info.get("routing_key", ""),
                )
            except DATABASE_ERRORS as error:
                give_back([message], error)
                return
            message.ack()

        return on_dead_letter

    def frames_waiting(self) -> bool:
        """Whether the broker has sent more than this worker has read yet."""
        socket = self.connection.connection.sock
        readable, _, _ = select.select([socket], [], [], 0)
        return bool(readable)


class MessageBatch:
    """Received messages gathered for one transaction.

    A message joins the batch; the batch is handled when it is full, or, on the worker's next
    turn of its event loop, when nothing more waits to be read from the connection. Without an
    event loop every message is handled alone.
    """

    def __init__(self, handle: BatchCallback, size: int, step: EventConsumerStep) -> None:
        self.handle = handle
        self.size = size
        self.step = step
        self.messages: list[Message] = []
        self.flush_scheduled = False

    def add(self, message: Message) -> None:
        self.messages.append(message)
        if len(self.messages) >= self.size or self.step.hub is None:
            self.flush()
        elif not self.flush_scheduled:
            self.flush_scheduled = True
            self.step.hub.call_soon(self.flush_when_idle)

    def flush_when_idle(self) -> None:
        if self.messages and self.step.frames_waiting():
            self.step.hub.call_soon(self.flush_when_idle)
            return
        self.flush_scheduled = False
        self.flush()

    def flush(self) -> None:
        messages, self.messages = self.messages, []
        if messages:
            self.handle(messages)


def give_back(messages: Sequence[Message], error: Exception) -> None:
    """Return messages to their queue after an outage that is not their fault.

    The pause keeps a worker whose database or broker is down from spinning on redeliveries.
    """
    logger.warning("outage, %d messages returned to their queue: %s", len(messages), error)
    connection.close()
    for message in messages:
        message.requeue()
    time.sleep(DATABASE_RETRY_SECONDS)
