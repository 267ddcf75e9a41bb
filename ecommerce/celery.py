"""The Celery application: runs the event consumers (a worker bootstep) and periodic tasks."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecommerce.settings")

app = Celery("ecommerce")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Domain events are consumed by a bootstep inside the worker, not as Celery tasks.
app.steps["consumer"].add("outbox.worker:EventConsumerStep")
