"""Asynchronous in-process listeners, run by a real Celery worker after the commit."""

import dataclasses
import uuid
from typing import ClassVar

import pytest
from django.db import transaction

from outbox import listeners
from outbox.cloudevents import ReceivedEvent
from outbox.events import DomainEvent
from outbox.models import ProcessedEvent
from tests import probe
from tests.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@dataclasses.dataclass(frozen=True, kw_only=True)
class TicketOpened(DomainEvent):
    # Asynchronous listeners run in a worker of the event's service: the test worker's.
    service: ClassVar[str] = probe.SERVICE
    aggregate_type: ClassVar[str] = "Ticket"

    title: str


class Boom(Exception):
    pass


def record_in_worker(event: ReceivedEvent) -> None:
    """The asynchronous listener: notes what it received, and whether the caller committed.

    The worker imports it by its path, so it lives at module level.
    """
    caller_committed = ProcessedEvent.objects.filter(consumer="caller", event_id=event.id).exists()
    ProcessedEvent.objects.create(
        consumer="worker",
        event_id=event.id,
        event_type=f"{type(event).__name__} {event.type} {event.field('title', str)!r} "
        f"caller committed: {caller_committed}",
    )


def opened(title: str) -> TicketOpened:
    return TicketOpened(title=title, aggregate_id=uuid.uuid4().hex, aggregate_version=1)


def test_an_asynchronous_listener_runs_in_a_worker_after_commit_on_the_wire_event(
    processes: object,
) -> None:
    rolled_back, committed = opened("Rolled back"), opened("Printer on fire")

    with listeners.listening(TicketOpened, record_in_worker, asynchronous=True):
        with pytest.raises(Boom), transaction.atomic():
            listeners.publish(rolled_back)
            raise Boom
        with transaction.atomic():
            ProcessedEvent.objects.create(
                consumer="caller", event_id=committed.event_id.hex, event_type="TicketOpened"
            )
            listeners.publish(committed)

    row = wait_until(
        lambda: ProcessedEvent.objects.filter(consumer="worker").first(),
        what="the asynchronous listener's row",
    )
    assert row.event_id == committed.event_id.hex
    assert row.event_type == "ReceivedEvent TicketOpened 'Printer on fire' caller committed: True"
    # One worker takes the tasks in order: had the rolled-back event been sent, it came first.
    assert not ProcessedEvent.objects.filter(event_id=rolled_back.event_id.hex).exists()
