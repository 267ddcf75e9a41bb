"""Each service's task queue, and the Celery router that sends a service's tasks to it.

The tasks (`outbox.tasks`) may be lost: the sweep comes round again, asynchronous listeners
are at most once, and an admin action leaves its rows as they were, to be acted on again. So
their queues are transient: on a cluster, a queue whose node died is declared again on a live
node, where a durable classic queue would be unusable until its node came back.
"""

from typing import Any

from kombu import Exchange, Queue

from outbox.core import topology


def service_task_queue(service: str) -> Queue:
    """The transient queue of a service's tasks, with a direct exchange of the same name."""
    name = topology.task_queue(service)
    return Queue(name, Exchange(name, type="direct"), routing_key=name, durable=False)


def route_to_service(
    name: str, args: tuple, kwargs: dict[str, Any], options: dict[str, Any], **extra: Any
) -> dict[str, Queue | str] | None:
    """Celery task router: a task with a `service` argument goes to that service's queue,
    through its exchange. Without the exchange named, Celery would publish to RabbitMQ's
    default exchange, which no service's broker user may write to."""
    if "service" in kwargs:
        queue = service_task_queue(kwargs["service"])
        return {"queue": queue, "exchange": queue.exchange.name, "routing_key": queue.routing_key}
    return None
