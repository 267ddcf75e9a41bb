"""Celery tasks of the order context, run by celery beat (settings.CELERY_BEAT_SCHEDULE)."""

import logging

from celery import shared_task

from orders import services

EXPIRE_UNPAID_ORDERS_TASK = "orders.tasks.expire_unpaid_orders"

logger = logging.getLogger(__name__)


@shared_task(name=EXPIRE_UNPAID_ORDERS_TASK, ignore_result=True)
def expire_unpaid_orders(*, service: str) -> int:
    """Cancel the orders left unpaid too long. `service` routes the task to the order
    service's own task queue (`outbox.core.task_queues`), whose workers reach its database."""
    cancelled = services.order_expire_unpaid()
    if cancelled:
        logger.info("cancelled %d orders left unpaid", cancelled)
    return cancelled
