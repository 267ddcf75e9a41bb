"""Beat and a worker as `make up` runs them: beat's upkeep leaves no line in either log while it
finds nothing to do, and a sweep that published something says so."""

from decimal import Decimal

import pytest

from conftest import Processes
from harness.waiting import wait_until
from outbox.core import topology
from outbox.models import OutboxEvent
from products.services import product_create
from tests import management_api

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Each line Celery writes for a task it schedules, receives or finishes.
CELERY_TASK_LINES = ("Sending due task", "Task outbox.tasks.", "received", "succeeded in")


def sweeps_sent() -> int:
    """How many tasks beat has sent to the product service's task queue, as the broker's
    statistics (a few seconds behind) count them."""
    stats = management_api.queue_info(topology.task_queue("product")).get("message_stats", {})
    return stats.get("publish", 0)


def test_idle_upkeep_logs_nothing_and_a_sweep_that_publishes_says_so(
    shared_processes: Processes,
) -> None:
    # No relay: what the sweep finds, it publishes itself.
    shared_processes.stop_all()
    upkeep = Processes({**shared_processes.env, "OUTBOX_SWEEP_SECONDS": "1"})
    try:
        upkeep.start_worker("upkeep-worker")
        upkeep.start_beat("upkeep-beat")
        product = product_create(name="Apple", description="", price=Decimal("10"))
        wait_until(
            lambda: (
                OutboxEvent.objects.filter(aggregate_id=product.id.hex)
                .exclude(published_at=None)
                .exists()
            ),
            what="the sweep publishing the product's event",
        )
        idle_from = sweeps_sent()
        wait_until(
            lambda: sweeps_sent() >= idle_from + 6, timeout=60, what="six sweeps that find nothing"
        )
        worker_log = upkeep.written_since_start("upkeep-worker")
        beat_log = upkeep.written_since_start("upkeep-beat")
    finally:
        upkeep.stop_all()

    # The product's event, then the events its handling raised: each in a sweep of its own.
    assert "the sweep published 1 pending events of" in worker_log
    assert [line for line in CELERY_TASK_LINES if line in worker_log + beat_log] == []
