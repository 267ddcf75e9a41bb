"""A handler that calls sys.exit() fails its event, like any error, and the worker goes on."""

from pathlib import Path

import pytest

from conftest import TEST_RETRY_DELAYS, Processes
from harness.waiting import wait_until
from outbox.models import DeadLetter, ProcessedEvent
from tests import probe
from tests.e2e.messages import cloudevent, event_message, lines, publish_all

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MAX_ATTEMPTS = len(TEST_RETRY_DELAYS) + 1


def test_a_handler_raising_system_exit_is_retried_then_dead_lettered_and_the_worker_lives(
    processes: Processes, probe_dir: Path
) -> None:
    worker = processes.running["worker"]
    exiting, beside = (
        cloudevent(probe.EVENT_TYPE, source=probe.SERVICE, data={"label": label})
        for label in ("exits", "beside it")
    )
    (probe_dir / f"{exiting['id']}.exit").touch()

    publish_all([event_message(exiting), event_message(beside)])

    record = wait_until(
        lambda: DeadLetter.objects.filter(event_id=exiting["id"]).first(),
        what="the exiting handler's event dead-lettered",
    )
    assert record.error_type == "HandlerAborted"
    assert f"raised SystemExit({probe.HANDLER_EXIT_CODE})" in record.error_message
    assert "sys.exit(HANDLER_EXIT_CODE)" in record.error_traceback
    assert record.attempts == MAX_ATTEMPTS == lines(probe_dir, exiting["id"], "attempt")
    assert not ProcessedEvent.objects.filter(consumer="probe", event_id=exiting["id"]).exists()
    assert lines(probe_dir, beside["id"], "handled") == 1
    assert worker.poll() is None, "the worker stopped"
    assert processes.running["worker"] is worker

    after = cloudevent(probe.EVENT_TYPE, source=probe.SERVICE, data={"label": "after"})
    publish_all([event_message(after)])
    wait_until(lambda: lines(probe_dir, after["id"], "handled"), what="the next event handled")
    assert worker.poll() is None
