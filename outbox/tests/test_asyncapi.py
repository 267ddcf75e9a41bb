"""The AsyncAPI document against the events that the producers write: no database, no broker.

A sample of every known event type, built from its own field types, goes through `data()` and
`to_cloudevent` exactly as the outbox stores it, and must match the schema that the document
publishes for it: a producer cannot drift from its contract without this failing.
"""

import dataclasses
import json
import subprocess
import sys
import types
import typing
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from django.conf import settings

from outbox.contracts.asyncapi import asyncapi_document, data_schema, known_events, render
from outbox.contracts.schema_lock import locked_schemas
from outbox.core.cloudevents import dataschema_of, to_cloudevent
from outbox.core.events import DomainEvent
from outbox.core.registry import all_services
from outbox.core.topology import publish_exchange, receive_queue

COMMITTED = Path(settings.BASE_DIR) / "docs" / "asyncapi.yaml"
EVENTS = known_events()


def sample(hint: Any, *, optional_present: bool) -> Any:
    """A value of the type, as a producer would set it."""
    origin = typing.get_origin(hint)
    arguments = typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        if not optional_present:
            return None
        present = next(argument for argument in arguments if argument is not type(None))
        return sample(present, optional_present=True)
    if origin in (tuple, list):
        return origin([sample(arguments[0], optional_present=optional_present)] * 2)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return build(hint, optional_present=optional_present)
    return {
        str: "text",
        int: 3,
        bool: True,
        float: 1.5,
        Decimal: Decimal("-12.50"),
        uuid.UUID: uuid.uuid4(),
        datetime: datetime.now(UTC),
    }[hint]


def build(
    cls: type, *, optional_present: bool = True, exclude: frozenset[str] = frozenset()
) -> Any:
    hints = typing.get_type_hints(cls)
    values = {
        field.name: sample(hints[field.name], optional_present=optional_present)
        for field in dataclasses.fields(cls)
        if field.name not in exclude
    }
    return cls(**values)


def an_event(event: type[DomainEvent], *, optional_present: bool = True) -> DomainEvent:
    envelope = frozenset(field.name for field in dataclasses.fields(DomainEvent))
    built = build(event, optional_present=optional_present, exclude=envelope)
    return dataclasses.replace(built, aggregate_id=uuid.uuid4().hex, aggregate_version=2)


def envelope_validator(event_type: str) -> jsonschema.Draft7Validator:
    """A validator of the CloudEvent schema of the event type, its `$ref`s resolved in the
    document."""
    root = {
        "$ref": f"#/components/schemas/{event_type}",
        "components": asyncapi_document()["components"],
    }
    return jsonschema.Draft7Validator(root, format_checker=jsonschema.FormatChecker())


def test_every_subscription_is_to_a_known_event() -> None:
    known = {(event.service, event.event_type()) for event in EVENTS}
    publishers = {service for service, _ in known}

    assert publishers
    assert all(not event.__subclasses__() for event in EVENTS)
    for service in all_services():
        for subscription in service.handlers:
            if subscription.source in publishers:
                assert (subscription.source, subscription.event_type) in known, subscription


@pytest.mark.parametrize("optional_present", [True, False], ids=["optionals set", "optionals null"])
@pytest.mark.parametrize("event", EVENTS, ids=lambda event: event.event_type())
def test_every_event_matches_its_published_schema(
    event: type[DomainEvent], optional_present: bool
) -> None:
    cloudevent = to_cloudevent(an_event(event, optional_present=optional_present))

    jsonschema.validate(cloudevent["data"], data_schema(event), cls=jsonschema.Draft7Validator)
    envelope_validator(event.event_type()).validate(cloudevent)


def test_the_trace_context_an_event_may_carry_matches_its_schema() -> None:
    event = EVENTS[0]
    trace_context = {"traceparent": f"00-{'a' * 32}-{'b' * 16}-01", "tracestate": "shop=1"}
    traced = to_cloudevent(an_event(event), trace_context=trace_context)
    validator = envelope_validator(event.event_type())

    assert not list(validator.iter_errors(traced))
    assert list(validator.iter_errors({**traced, "traceparent": "00-not-a-trace"}))


def test_data_that_breaks_the_contract_is_refused() -> None:
    event = next(
        event
        for event in EVENTS
        if any(
            typing.get_type_hints(event)[field.name] is Decimal
            for field in dataclasses.fields(event)
        )
    )
    decimal_field = next(
        name for name, schema in data_schema(event)["properties"].items() if schema.get("pattern")
    )
    data = to_cloudevent(an_event(event))["data"]
    validator = jsonschema.Draft7Validator(data_schema(event))

    assert not list(validator.iter_errors(data))
    assert list(validator.iter_errors({**data, decimal_field: 12.5}))
    assert list(validator.iter_errors({**data, decimal_field: "twelve"}))
    missing = dict(data)
    del missing[decimal_field]
    assert list(validator.iter_errors(missing))


def test_each_cloudevent_names_the_schema_of_its_data() -> None:
    document = asyncapi_document()
    for event in EVENTS:
        cloudevent = to_cloudevent(an_event(event))
        schema = document["components"]["schemas"][f"{event.event_type()}Data"]

        assert (
            cloudevent["dataschema"]
            == schema["$id"]
            == dataschema_of(event.service, event.event_type(), event.data_version)
        )


def test_channels_and_operations_follow_the_registry_and_the_topology() -> None:
    document = asyncapi_document()
    for service in all_services():
        queue = document["channels"][receive_queue(service.name)]
        subscribed = {subscription.event_type for subscription in service.handlers}
        bound = {
            (binding["exchange"], binding["routingKey"])
            for binding in queue["x-amqp-queue-bindings"]
        }

        accepted = {
            f"{former.subscription.event_type}V{former.version}" for former in service.upcasters
        }
        assert set(queue["messages"]) == subscribed | accepted
        assert {
            (publish_exchange(subscription.source), subscription.event_type)
            for subscription in service.handlers
        } <= bound
        assert document["operations"][f"{service.name}.receive"]["action"] == "receive"

        published = {event.event_type() for event in EVENTS if event.service == service.name} | {
            subscription.event_type
            for subscriber in all_services()
            for subscription in subscriber.handlers
            if subscription.source == service.name
        }
        exchange = document["channels"][publish_exchange(service.name)]
        send = document["operations"][f"{service.name}.publish"]
        still_on_the_wire = {
            f"{former.subscription.event_type}V{former.version}"
            for subscriber in all_services()
            for former in subscriber.upcasters
            if former.subscription.source == service.name
        }
        assert set(exchange["messages"]) == published | still_on_the_wire
        assert exchange["bindings"]["amqp"]["exchange"]["type"] == "topic"
        assert set(exchange["parameters"]["eventType"]["enum"]) == published
        assert (send["action"], len(send["messages"])) == ("send", len(published))


def test_former_versions_still_accepted_are_listed_deprecated_with_their_locked_schema() -> None:
    document = asyncapi_document()
    formers = {former for service in all_services() for former in service.upcasters}
    locked = locked_schemas()

    assert formers, "no former version is accepted: nothing to show here"
    for former in formers:
        source, event_type = former.subscription.source, former.subscription.event_type
        name = f"{event_type}V{former.version}"
        message = document["components"]["messages"][name]
        envelope = document["components"]["schemas"][name]
        data = document["components"]["schemas"][f"{name}Data"]

        assert "deprecated" in message["title"]
        assert message["bindings"]["amqp"]["messageType"] == event_type
        assert envelope["deprecated"] is data["deprecated"] is True
        assert envelope["properties"]["type"]["const"] == event_type
        schema_id = dataschema_of(source, event_type, former.version)
        assert envelope["properties"]["dataschema"]["const"] == schema_id
        assert {**data, "deprecated": False} == {**locked[schema_id], "deprecated": False}
        current = document["components"]["schemas"][event_type]["properties"]["dataschema"]
        assert current["const"] != schema_id


def test_the_committed_document_is_what_the_command_writes() -> None:
    # In a process of its own: the test session registers a probe service of its own.
    written = subprocess.run(
        [sys.executable, "manage.py", "asyncapi"],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout

    assert written == COMMITTED.read_text(encoding="utf-8"), (
        "docs/asyncapi.yaml is stale: run `make asyncapi`"
    )


def test_the_json_and_the_yaml_are_the_same_document() -> None:
    document = asyncapi_document()

    assert json.loads(render(document, "json")) == yaml.safe_load(render(document, "yaml"))
    assert json.loads(render(document, "json"))["asyncapi"] == "3.0.0"
