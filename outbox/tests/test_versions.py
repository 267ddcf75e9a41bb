"""Unit tests of event versions on the wire and of upcasting: no database, no broker."""

import dataclasses
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar

import pytest

from outbox.core.cloudevents import (
    MalformedEvent,
    ReceivedEvent,
    data_version_of,
    dataschema_of,
    parse_cloudevent,
    to_cloudevent,
)
from outbox.core.events import DomainEvent
from outbox.core.registry import FormerVersion, Service, Subscription
from outbox.core.versions import upcast

WEIGHED = Subscription("shipping", "ParcelWeighedEvent")


@dataclasses.dataclass(frozen=True, kw_only=True)
class ParcelWeighedEvent(DomainEvent):
    """Version 3: the weight in grams, as an integer."""

    service: ClassVar[str] = "shipping"
    aggregate_type: ClassVar[str] = "Parcel"
    data_version: ClassVar[int] = 3

    grams: int


def version_1_to_2(data: Mapping[str, Any]) -> dict[str, Any]:
    """Version 1 said `weight` (kilograms as a decimal string); version 2 `kilograms`."""
    upcast = dict(data)
    upcast["kilograms"] = upcast.pop("weight")
    return upcast


def version_2_to_3(data: Mapping[str, Any]) -> dict[str, Any]:
    upcast = dict(data)
    upcast["grams"] = int(Decimal(upcast.pop("kilograms")) * 1000)
    return upcast


def received(data: dict[str, Any], version: int) -> ReceivedEvent:
    document = {
        **to_cloudevent(ParcelWeighedEvent(aggregate_id="p1", grams=0)),
        "dataschema": dataschema_of(WEIGHED.source, WEIGHED.event_type, version),
        "data": data,
    }
    return parse_cloudevent(json.dumps(document).encode())


def consumer() -> Service:
    table = {FormerVersion(WEIGHED, 1): version_1_to_2, FormerVersion(WEIGHED, 2): version_2_to_3}
    return Service("warehouse", {WEIGHED: lambda event: None}, upcasters=table)


def test_the_version_is_the_end_of_the_dataschema_and_1_without_one() -> None:
    assert to_cloudevent(ParcelWeighedEvent(grams=5))["dataschema"] == (
        "urn:event-schema:shipping:ParcelWeighedEvent:v3"
    )
    assert dataschema_of("shipping", "ParcelWeighedEvent", 1) == (
        "urn:event-schema:shipping:ParcelWeighedEvent"
    )
    assert data_version_of("urn:event-schema:shipping:ParcelWeighedEvent:v12") == 12
    assert data_version_of("urn:event-schema:shipping:ParcelWeighedEvent") == 1
    assert data_version_of("") == 1


def test_a_former_version_reaches_the_handler_in_the_current_shape() -> None:
    event = received({"weight": "1.25"}, version=1)

    current = upcast(consumer(), event)

    assert current.data == {"grams": 1250}
    assert current.data_version == 3
    assert (current.id, current.type, current.subject) == (event.id, event.type, event.subject)


def test_the_current_version_passes_as_it_came() -> None:
    event = received({"grams": 900}, version=3)

    assert upcast(consumer(), event) is event


def test_a_consumer_without_upcasters_reads_the_event_as_it_came() -> None:
    event = received({"weight": "1.25"}, version=1)

    assert upcast(Service("warehouse", {WEIGHED: lambda event: None}), event) is event


def test_former_data_that_cannot_be_upcast_is_malformed() -> None:
    with pytest.raises(MalformedEvent, match="ParcelWeighedEvent: data of version 1"):
        upcast(consumer(), received({"mass": "1.25"}, version=1))
