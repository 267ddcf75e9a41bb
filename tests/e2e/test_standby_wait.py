"""A worker with OUTBOX_WAIT_FOR_STANDBY acknowledges nothing that no standby has, and still
stops when asked: the test server has no standby."""

from pathlib import Path

import pytest
from kombu import Connection

from conftest import Processes, empty_every_queue
from harness.waiting import wait_until
from outbox.core import topology
from outbox.models import ProcessedEvent
from tests import probe
from tests.e2e.messages import publish_probe
from tests.e2e.shop import ready_messages

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PROBE_QUEUE = topology.receive_queue(probe.SERVICE)


def test_a_waiting_worker_acknowledges_nothing_and_stops_on_sigterm(
    shared_processes: Processes, broker: Connection, probe_dir: Path
) -> None:
    shared_processes.stop_all()
    # The worker would wait on the first message it handles: the probe's, and no other.
    empty_every_queue(broker)
    guarded = Processes({**shared_processes.env, "OUTBOX_WAIT_FOR_STANDBY": "true"})
    worker = guarded.start_worker("guarded-worker")
    try:
        event_id = publish_probe(probe_dir)
        wait_until(
            lambda: ProcessedEvent.objects.filter(event_id=event_id).exists(),
            what="the probe handled and committed",
        )
        wait_until(
            lambda: "worker waits" in guarded.written_since_start("guarded-worker"),
            what="the worker waiting for a standby before it acknowledges",
        )
    finally:
        guarded.stop("guarded-worker")

    assert worker.returncode == 0, "stopped by SIGTERM, not killed after the harness's patience"
    assert ready_messages(broker, PROBE_QUEUE) == 1, "unacknowledged, the event is there again"
    empty_every_queue(broker)
