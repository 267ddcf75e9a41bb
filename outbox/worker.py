"""Event consumers inside Celery workers, as a consumer bootstep.

The events are not Celery tasks: each service's receive queue is consumed with a plain kombu
consumer in the worker's event loop, with manual acknowledgements. A message is acknowledged
only after its handling committed, or after it was dead-lettered with the reason.
"""
import logging
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime

from celery import bootsteps
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from kombu import Consumer, Queue
from kombu.message import Message

from outbox import registry, topology
from outbox.cloudevents import MalformedEvent
from outbox.consumer import handle_message
from outbox.publisher import ConfirmingPublisher, OutgoingMessage, PublishFailed

logger = logging.getLogger(__name__)

MAX_ERROR_CHARS = 4000
DATABASE_RETRY_SECONDS = 1.0


def consumed_services() -> list[registry.Service]:
    """The services whose queues this worker consumes (setting OUTBOX CONSUMER_SERVICES)."""
    names = settings.OUTBOX["CONSUMER_SERVICES"]
    if not names:
        return registry.all_services()
    return [registry.get_service(name) for name in names]


class EventConsumerStep(bootsteps.ConsumerStep):
    """Declares the topology and consumes every served service's receive queue."""

    def __init__(self, parent: object, **kwargs: object) -> None:
        super().__init__(parent, **kwargs)
        self.dead_letters = ConfirmingPublisher(settings.CELERY_BROKER_URL)

    def get_consumers(self, channel: object) -> list[Consumer]:
        services = consumed_services()
        topology.declare(channel, registry.all_services())
        logger.info("consuming events for: %s", ", ".join(s.name for s in services))
        return [
            Consumer(
                channel,
                queues=[Queue(topology.receive_queue(service.name), no_declare=True)],
                on_message=self.message_handler(service),
                prefetch_count=settings.OUTBOX["CONSUMER_PREFETCH"],
                auto_declare=False,
            )
            for service in services
        ]

    def message_handler(self, service: registry.Service) -> Callable[[Message], None]:
        def on_message(message: Message) -> None:
            self.on_message(service, message)

        return on_message

    def on_message(self, service: registry.Service, message: Message) -> None:
        """Handle one message; ack, dead-letter, or give it back on a database outage."""
        try:
            handle_message(service, message.body)
        except (OperationalError, InterfaceError) as error:
            logger.warning("database unavailable, message returned to the queue: %s", error)
            connection.close()
            message.requeue()
            time.sleep(DATABASE_RETRY_SECONDS)
            return
        except MalformedEvent as error:
            self.dead_letter(service, message, error)
            return
        except Exception as error:
            logger.exception("%s failed to handle a message", service.name)
            self.dead_letter(service, message, error)
            return
        message.ack()

    def dead_letter(
        self, service: registry.Service, message: Message, error: Exception
    ) -> None:
        """Send the message with the reason to the service's DLQ, then ack the original."""
        headers = dict(message.headers or {})
        headers.update(
            {
                "x-error-type": type(error).__name__,
                "x-error-message": str(error)[:MAX_ERROR_CHARS],
                "x-error-traceback": "".join(traceback.format_exception(error))[
                    -MAX_ERROR_CHARS:
                ],
                "x-failed-at": datetime.now(UTC).isoformat(),
                "x-consumer": service.name,
            }
        )
        properties = {
            key: value
            for key, value in message.properties.items()
            if key in {"content_type", "message_id", "type", "app_id"}
        }
        dead_letter = OutgoingMessage(
            exchange=topology.receive_dead_letter_exchange(service.name),
            routing_key=message.delivery_info.get("routing_key", ""),
            body=message.body,
            properties={**properties, "application_headers": headers},
        )
        try:
            self.dead_letters.publish([dead_letter])
        except PublishFailed:
            logger.exception("could not dead-letter a message; it goes back to the queue")
            message.requeue()
            return
        logger.warning("%s dead-lettered a message: %s", service.name, error)
        message.ack()

    def shutdown(self, c: object) -> None:
        super().shutdown(c)
        self.dead_letters.close()
