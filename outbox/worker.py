"""Event consumers inside Celery workers, as a consumer bootstep.

The events are not Celery tasks: each served service's receive queue is consumed with a plain
kombu consumer in the worker's event loop, with manual acknowledgements. A message is
acknowledged only after its handling committed, or after a copy was confirmed at its next
stop (a retry queue or the dead-letter queue). The same step drains the service's dead-letter
queues into the `DeadLetter` table.
"""

import logging
import time
from collections.abc import Callable

from celery import bootsteps
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from kombu import Consumer, Queue
from kombu.message import Message

from outbox import registry, topology
from outbox.broker import confirming_publisher, declare_topology
from outbox.cloudevents import MalformedEvent
from outbox.consumer import handle_message
from outbox.dead_letters import dead_letter_record
from outbox.failures import FailureRouter
from outbox.models import DeadLetter
from outbox.publisher import PublishFailed

logger = logging.getLogger(__name__)

DATABASE_RETRY_SECONDS = 1.0
DATABASE_ERRORS = (OperationalError, InterfaceError)

MessageCallback = Callable[[Message], None]


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
        def on_event(message: Message) -> None:
            try:
                handle_message(service, message.body)
            except DATABASE_ERRORS as error:
                give_back(message, error)
            except MalformedEvent as error:
                self._route_failure(service.name, message, error, retry=False)
            except Exception as error:
                logger.warning("%s failed to handle a message: %r", service.name, error)
                self._route_failure(service.name, message, error, retry=True)
            else:
                message.ack()

        return on_event

    def _route_failure(
        self, service: str, message: Message, error: Exception, *, retry: bool
    ) -> None:
        try:
            queue = self.failures.route(service, message, error, retry=retry)
        except PublishFailed as publish_error:
            give_back(message, publish_error)
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
                give_back(message, error)
                return
            message.ack()

        return on_dead_letter


def give_back(message: Message, error: Exception) -> None:
    """Return the message to its queue after an outage that is not the message's fault.

    The pause keeps a worker whose database or broker is down from spinning on redeliveries.
    """
    logger.warning("outage, message returned to its queue: %s", error)
    connection.close()
    message.requeue()
    time.sleep(DATABASE_RETRY_SECONDS)
