"""The wire format: CloudEvents 1.0 in structured JSON mode.

Any language can read what the relay publishes; consumers read it back with a tolerant
reader that checks only the attributes the runtime relies on and hands `data` over as a dict.
"""

import builtins
import dataclasses
import json
import re
from collections.abc import Mapping
from typing import Any, TypeVar

from outbox.core.events import DomainEvent

CONTENT_TYPE = "application/cloudevents+json"
SPEC_VERSION = "1.0"
DATA_VERSION_SUFFIX = re.compile(r":v([0-9]+)$")


def source_of(service: str) -> str:
    """The CloudEvents `source` of every event that a service publishes."""
    return f"/{service}"


def dataschema_of(service: str, event_type: str, version: int = 1) -> str:
    """The CloudEvents `dataschema` of a version of an event type: the `$id` of the JSON Schema
    of its `data` in the AsyncAPI document (`outbox/contracts/asyncapi.py`, served at
    `/api/asyncapi.json`). Version 1 has no suffix: it is what events carried before their
    data had versions."""
    suffix = f":v{version}" if version > 1 else ""
    return f"urn:event-schema:{service}:{event_type}{suffix}"


def data_version_of(dataschema: str) -> int:
    """The version of `data` that a `dataschema` names: 1 without a `:v<N>` suffix."""
    match = DATA_VERSION_SUFFIX.search(dataschema)
    return int(match.group(1)) if match else 1


def to_cloudevent(
    event: DomainEvent, *, trace_context: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The structured CloudEvent of a domain event, ready for `json.dumps`.

    `trace_context` holds the attributes of the distributed tracing extension (`traceparent`,
    `tracestate`) of the span that raised the event, if any (`outbox.core.tracing`).
    """
    return {
        "specversion": SPEC_VERSION,
        "id": event.event_id.hex,
        "type": event.event_type(),
        "source": source_of(event.service),
        "time": event.occurred_at.isoformat(),
        "subject": event.aggregate_id,
        "datacontenttype": "application/json",
        "dataschema": dataschema_of(event.service, event.event_type(), event.data_version),
        "aggregatetype": event.aggregate_type,
        "aggregateversion": event.aggregate_version,
        "data": event.data(),
        **(trace_context or {}),
    }


class MalformedEvent(ValueError):
    """A message that is not a CloudEvent this runtime can handle; retrying will not help."""


T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class ReceivedEvent:
    """An event as a consumer reads it: the envelope, and `data` as the producer wrote it."""

    id: str
    type: str
    source: str
    subject: str
    time: str
    aggregate_type: str
    aggregate_version: int
    data: Mapping[str, Any]
    dataschema: str = ""
    # The distributed tracing extension: the trace context of the span that raised the event.
    traceparent: str = ""
    tracestate: str = ""

    @property
    def service(self) -> str:
        """The service that published the event."""
        return self.source.removeprefix("/")

    @property
    def data_version(self) -> int:
        """The version of the shape of `data`, from `dataschema`."""
        return data_version_of(self.dataschema)

    # builtins.type: in the class body, `type` is the event's type field.
    def field(self, name: str, kind: builtins.type[T]) -> T:
        """A value from `data` that a handler needs, or `MalformedEvent` naming what is off."""
        value = self.data.get(name)
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise MalformedEvent(f"{self.type}: data.{name} is missing or not a {kind.__name__}")
        return value


REQUIRED_STRINGS = ("id", "type", "source", "subject", "time")


def parse_cloudevent(body: bytes | str) -> ReceivedEvent:
    """Read a structured CloudEvent, or raise `MalformedEvent` saying what is wrong."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MalformedEvent(f"body is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise MalformedEvent("body is not a JSON object")
    if document.get("specversion") != SPEC_VERSION:
        raise MalformedEvent(f"specversion is {document.get('specversion')!r}, expected '1.0'")
    for attribute in REQUIRED_STRINGS:
        if not isinstance(document.get(attribute), str) or not document[attribute]:
            raise MalformedEvent(f"attribute {attribute!r} is missing or not a string")
    data = document.get("data")
    if not isinstance(data, dict):
        raise MalformedEvent("attribute 'data' is missing or not a JSON object")
    version = document.get("aggregateversion", 0)
    if not isinstance(version, int) or isinstance(version, bool):
        raise MalformedEvent("attribute 'aggregateversion' is not an integer")
    return ReceivedEvent(
        id=document["id"],
        type=document["type"],
        source=document["source"],
        subject=document["subject"],
        time=document["time"],
        aggregate_type=str(document.get("aggregatetype", "")),
        aggregate_version=version,
        data=data,
        dataschema=str(document.get("dataschema", "")),
        traceparent=_optional_string(document, "traceparent"),
        tracestate=_optional_string(document, "tracestate"),
    )


def _optional_string(document: Mapping[str, Any], attribute: str) -> str:
    """An optional extension attribute; one that is not a string is ignored, as if absent."""
    value = document.get(attribute, "")
    return value if isinstance(value, str) else ""
