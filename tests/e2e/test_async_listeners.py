"""Asynchronous in-process listeners, run by a real Celery worker after the commit, and only
the ones it has registered."""

import uuid

import pytest
from celery import current_app
from django.db import transaction

from conftest import Processes
from harness.waiting import wait_until
from outbox.inprocess import listeners
from outbox.models import ProcessedEvent
from tests import probe

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


class Boom(Exception):
    pass


def noted(title: str) -> probe.ProbeNoted:
    return probe.ProbeNoted(title=title, aggregate_id=uuid.uuid4().hex, aggregate_version=1)


def publish_committed(event: probe.ProbeNoted) -> None:
    """Publish the event in a transaction that commits, with a row saying it committed."""
    with transaction.atomic():
        ProcessedEvent.objects.create(
            consumer="caller", event_id=event.event_id.hex, event_type="ProbeNoted"
        )
        listeners.publish(event)


def worker_row(event: probe.ProbeNoted) -> ProcessedEvent:
    return wait_until(
        lambda: ProcessedEvent.objects.filter(
            consumer="worker", event_id=event.event_id.hex
        ).first(),
        what="the asynchronous listener's row",
    )


def test_an_asynchronous_listener_runs_in_a_worker_after_commit_on_the_wire_event(
    processes: Processes,
) -> None:
    rolled_back, committed = noted("Rolled back"), noted("Printer on fire")

    with pytest.raises(Boom), transaction.atomic():
        listeners.publish(rolled_back)
        raise Boom
    publish_committed(committed)

    row = worker_row(committed)
    assert row.event_type == "ReceivedEvent ProbeNoted 'Printer on fire' caller committed: True"
    # One worker takes the tasks in order: had the rolled-back event been sent, it came first.
    assert not ProcessedEvent.objects.filter(event_id=rolled_back.event_id.hex).exists()


@pytest.mark.parametrize("listener_name", ["sys:exit", "os:_exit", "tests.probe:handle_probe"])
def test_a_task_naming_an_unregistered_listener_is_refused_and_the_worker_goes_on(
    processes: Processes, listener_name: str
) -> None:
    worker = processes.running["worker"]
    forged = noted("Forged")

    current_app.send_task(
        listeners.ASYNC_LISTENER_TASK,
        kwargs={
            "service": probe.SERVICE,
            "listener_name": listener_name,
            "cloudevent": listeners.wire_form(forged),
        },
    )
    after = noted("After the forged task")
    publish_committed(after)

    worker_row(after)
    assert worker.poll() is None, "the worker stopped"
    assert processes.running["worker"] is worker
    log = processes.log_file("worker").read_text(errors="replace")
    assert f"refused to run {listener_name!r} on event {forged.event_id.hex}" in log
    assert not ProcessedEvent.objects.filter(event_id=forged.event_id.hex).exists()
