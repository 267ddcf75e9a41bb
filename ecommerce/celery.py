"""The Celery application: runs the event consumers (a worker bootstep) and periodic tasks."""

import os

from celery import Celery, signals
from django.conf import settings
from django.utils.log import configure_logging

from outbox.core.failover import FailoverConnection

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecommerce.settings")

app = Celery("ecommerce")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Celery's broker connections check each node's TLS certificate as the outbox's own do.
app.amqp.Connection = FailoverConnection

# Domain events are consumed by a bootstep inside the worker, not as Celery tasks.
app.steps["consumer"].add("outbox.core.worker:EventConsumerStep")


@signals.celeryd_init.connect
def log_from_the_start(**_: object) -> None:
    """Apply the project's logging (LOGGING, LOG_FORMAT) before the worker logs or warns
    anything, rather than once Django is set up: with LOG_FORMAT=json every line is JSON."""
    configure_logging(settings.LOGGING_CONFIG, settings.LOGGING)
