"""Unit tests of the wire format: no database, no broker."""

import dataclasses
import json
from decimal import Decimal
from typing import ClassVar

import pytest

from outbox.core.cloudevents import MalformedEvent, parse_cloudevent, to_cloudevent
from outbox.core.events import DomainEvent


@dataclasses.dataclass(frozen=True, kw_only=True)
class ParcelWeighedEvent(DomainEvent):
    service: ClassVar[str] = "shipping"
    aggregate_type: ClassVar[str] = "Parcel"

    gross_weight: Decimal


def weighed() -> ParcelWeighedEvent:
    return ParcelWeighedEvent(aggregate_id="p1", aggregate_version=4, gross_weight=Decimal("1.50"))


def test_an_event_becomes_a_structured_cloudevent() -> None:
    event = weighed()

    document = to_cloudevent(event)

    assert document["specversion"] == "1.0"
    assert document["id"] == event.event_id.hex
    assert document["type"] == "ParcelWeighedEvent"
    assert document["source"] == "/shipping"
    assert document["subject"] == "p1"
    assert document["dataschema"] == "urn:event-schema:shipping:ParcelWeighedEvent"
    assert (document["aggregatetype"], document["aggregateversion"]) == ("Parcel", 4)
    assert document["data"] == {"grossWeight": "1.50"}


def test_a_published_event_reads_back() -> None:
    received = parse_cloudevent(json.dumps(to_cloudevent(weighed())).encode())

    assert received.service == "shipping"
    assert received.aggregate_version == 4
    assert received.field("grossWeight", str) == "1.50"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"specversion": "0.3"}', "specversion"),
        (b'{"specversion": "1.0", "id": "x"}', "'type'"),
    ],
)
def test_malformed_messages_say_what_is_wrong(body: bytes, reason: str) -> None:
    with pytest.raises(MalformedEvent, match=reason):
        parse_cloudevent(body)


def test_a_missing_data_field_is_malformed() -> None:
    received = parse_cloudevent(json.dumps(to_cloudevent(weighed())).encode())

    with pytest.raises(MalformedEvent, match="data.netWeight"):
        received.field("netWeight", str)
