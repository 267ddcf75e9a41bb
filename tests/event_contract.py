"""Every event that a test's real processes saved, held against the AsyncAPI document before
the test's tables are emptied: a producer cannot drift from its contract unnoticed.

The outbox rows are where every event a producer publishes starts, in each database that holds
a service's outbox; dead letters and replays carry those same bodies, or the hand-made ones
that tests send on purpose, so they are not checked again. A test that writes stand-in rows by
hand says so with `@pytest.mark.events_written_by_hand`.
"""

import functools
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from django.conf import settings

from outbox.contracts.asyncapi import asyncapi_document
from outbox.contracts.conformance import EventContract
from outbox.core.cloudevents import source_of
from outbox.core.registry import outbox_databases
from outbox.models import OutboxEvent


@functools.cache
def event_contract() -> EventContract:
    return EventContract(asyncapi_document())


def contract_breaches(databases: list[str]) -> list[str]:
    """One line per event saved in these databases that breaks its contract, in the order
    they were saved: its type, id and what is wrong."""
    return breaches_of(
        row
        for database in databases
        for row in OutboxEvent.objects.using(database)
        .order_by("id")
        .values_list("service", "event_type", "event_id", "payload")
    )


def breaches_of(rows: Iterable[tuple[str, str, uuid.UUID | str, dict[str, Any]]]) -> list[str]:
    """One line per outbox row (service, event type, event id, payload) whose event breaks
    its contract."""
    return [
        f"{event_type} {uuid.UUID(str(event_id)).hex}: {'; '.join(violations)}"
        for service, event_type, event_id, payload in rows
        if (violations := event_contract().violations(payload, source=source_of(service)))
    ]


def readable_databases(request: pytest.FixtureRequest) -> list[str]:
    """The outbox databases that the test may query."""
    marker = request.node.get_closest_marker("django_db")
    allowed = (marker.kwargs.get("databases") if marker else None) or ["default"]
    if allowed == "__all__":
        allowed = list(settings.DATABASES)
    return [database for database in outbox_databases() if database in allowed]


@pytest.fixture(autouse=True)
def saved_events_keep_their_contract(request: pytest.FixtureRequest) -> Iterator[None]:
    uses_database = request.node.get_closest_marker("django_db") or {
        "db",
        "transactional_db",
    } & set(request.fixturenames)
    if not uses_database or request.node.get_closest_marker("events_written_by_hand"):
        yield
        return
    # Set up before this fixture, so torn down after it: the rows are read before the flush.
    request.getfixturevalue(
        "transactional_db" if "transactional_db" in request.fixturenames else "db"
    )
    yield
    if breaches := contract_breaches(readable_databases(request)):
        pytest.fail(
            "events that break their contract (docs/asyncapi.yaml):\n  " + "\n  ".join(breaches),
            pytrace=False,
        )
