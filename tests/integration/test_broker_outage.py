"""With the broker unreachable, work that commits still commits: an asynchronous listener's
task, sent after the commit, is logged as not sent and dropped (it is at most once)."""

import dataclasses
import logging
import uuid
from collections.abc import Iterator
from typing import ClassVar

import pytest
from celery import Celery, current_app
from django.db import transaction

from harness.ports import free_port
from outbox.core.cloudevents import ReceivedEvent
from outbox.core.events import DomainEvent
from outbox.inprocess import listeners
from outbox.models import ProcessedEvent

pytestmark = pytest.mark.django_db(transaction=True)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ParcelSent(DomainEvent):
    service: ClassVar[str] = "inventory"
    aggregate_type: ClassVar[str] = "Parcel"


def never_runs_here(event: ReceivedEvent) -> None:
    """An asynchronous listener: a worker would import and run it."""


@pytest.fixture
def unreachable_broker(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The current Celery app is one whose broker refuses connections."""
    # Celery prefers this variable to the broker an app is given.
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    previous = current_app._get_current_object()
    app = Celery("unreachable", broker=f"amqp://nobody:unreachable@127.0.0.1:{free_port()}//")
    app.set_current()
    try:
        yield
    finally:
        previous.set_current()


def test_the_commit_stands_and_the_listener_task_is_dropped(
    unreachable_broker: None, caplog: pytest.LogCaptureFixture
) -> None:
    event = ParcelSent(aggregate_id=uuid.uuid4().hex, aggregate_version=1)

    with (
        caplog.at_level(logging.ERROR, logger="outbox.inprocess.listeners"),
        listeners.listening(ParcelSent, never_runs_here, asynchronous=True),
        transaction.atomic(),
    ):
        ProcessedEvent.objects.create(
            consumer="caller", event_id=event.event_id.hex, event_type="ParcelSent"
        )
        listeners.publish(event)

    assert ProcessedEvent.objects.filter(event_id=event.event_id.hex).exists()
    assert f"was not sent event {event.event_id.hex}" in caplog.text
