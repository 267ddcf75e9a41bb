"""Unit tests of holding CloudEvents against the AsyncAPI document: no database, no broker.

The check must pass what the producers write and name what a drifted producer would write.
"""

import copy
from typing import Any

import pytest

from outbox.contracts.asyncapi import asyncapi_document, known_events
from outbox.contracts.conformance import EventContract
from outbox.core.cloudevents import dataschema_of, to_cloudevent
from outbox.tests.test_asyncapi import an_event

CONTRACT = EventContract(asyncapi_document())
# An event with data fields to drift in, its type and a field a handler would read.
EVENT = next(event for event in known_events() if an_event(event).data())


def written() -> dict[str, Any]:
    return to_cloudevent(an_event(EVENT))


def drifted(edit: Any) -> dict[str, Any]:
    cloudevent = copy.deepcopy(written())
    edit(cloudevent)
    return cloudevent


def test_every_event_as_its_producer_writes_it_keeps_the_contract() -> None:
    for event in known_events():
        for optional_present in (True, False):
            cloudevent = to_cloudevent(an_event(event, optional_present=optional_present))
            assert CONTRACT.violations(cloudevent) == [], event.event_type()


@pytest.mark.parametrize(
    ("edit", "violation"),
    [
        (
            lambda e: e["data"].__setitem__("surprise", 1),
            "data: Additional properties are not allowed ('surprise' was unexpected)",
        ),
        (
            lambda e: e["data"].pop(next(iter(e["data"]))),
            "data: '{field}' is a required property",
        ),
        (
            lambda e: e["data"].__setitem__(next(iter(e["data"])), {"nested": True}),
            "data/{field}: {{'nested': True}} is not of type",
        ),
        (lambda e: e.pop("subject"), "(event): 'subject' is a required property"),
        (lambda e: e.__setitem__("time", "yesterday"), "time: 'yesterday' is not a 'date-time'"),
        (
            lambda e: e.__setitem__("aggregateversion", "2"),
            "aggregateversion: '2' is not of type 'integer'",
        ),
    ],
    ids=["added field", "missing field", "changed type", "no subject", "bad time", "version"],
)
def test_a_drifted_event_is_reported_with_what_is_wrong(edit: Any, violation: str) -> None:
    field = next(iter(written()["data"]))

    violations = CONTRACT.violations(drifted(edit))

    expected = violation.format(field=field)
    assert any(found.startswith(expected) for found in violations), violations


def test_an_event_of_a_version_the_document_does_not_know_is_reported() -> None:
    event_type = EVENT.event_type()
    future = drifted(
        lambda e: e.__setitem__("dataschema", dataschema_of(EVENT.service, event_type, 99))
    )

    assert CONTRACT.violations(future) == [
        f"no message of '{event_type}' version 99 from /{EVENT.service}"
    ]


def test_an_event_that_lost_its_source_is_checked_as_its_publisher() -> None:
    anonymous = drifted(lambda e: e.pop("source"))

    assert CONTRACT.violations(anonymous) == []
    assert CONTRACT.violations(anonymous, source=f"/{EVENT.service}") == [
        "(event): 'source' is a required property"
    ]


def test_events_of_a_service_without_a_contract_here_are_not_its_business() -> None:
    stranger = drifted(lambda e: e.__setitem__("source", "/somebody-else"))

    assert CONTRACT.violations(stranger) == []
