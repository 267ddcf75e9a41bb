"""The events as a contract: an AsyncAPI 3.0 document of the registered services.

It is generated, never written by hand, from what the runtime itself uses: the registry (who
publishes, who subscribes to what), the topology (publish exchanges, receive queues and their
bindings) and the event dataclasses, whose fields become the JSON Schema of `data` exactly as
`DomainEvent.data()` writes them. A service's published events are the leaf `DomainEvent`
subclasses of its `events` module: the module that each context keeps as its contract. The
former versions that consumers still accept (their upcasters) are listed too, deprecated, with
the schemas of the lock (`outbox/contracts/schema_lock.py`).
"""

import dataclasses
import inspect
import json
import types
import typing
import uuid
from collections.abc import Collection, Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

import yaml
from django.conf import settings

from outbox.contracts.schema_lock import locked_schemas
from outbox.core import topology
from outbox.core.broker import queue_shape
from outbox.core.cloudevents import CONTENT_TYPE, SPEC_VERSION, dataschema_of, source_of
from outbox.core.events import DomainEvent, to_camel_case
from outbox.core.registry import Service, Subscription, all_services
from outbox.core.versions import accepted_former_versions

ASYNCAPI_VERSION = "3.0.0"
AMQP_BINDING_VERSION = "0.3.0"
DOCUMENT_VERSION = "1.0.0"
# How Decimal travels (`to_json_value`): a string, so that no consumer loses precision.
DECIMAL_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"
# How a UUID travels: its 32 hex digits.
UUID_PATTERN = r"^[0-9a-f]{32}$"

T = TypeVar("T")


def asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI document of every registered service, ready for JSON or YAML."""
    services = all_services()
    events = known_events()
    wanted = topology.plan(services, settings.OUTBOX["RETRY_DELAYS_SECONDS"], queue_shape())
    publishers = sorted(
        {service.name for service in services}
        | {subscription.source for service in services for subscription in service.handlers}
    )
    message_types = sorted(
        {(event.service, event.event_type()) for event in events}
        | {(sub.source, sub.event_type) for service in services for sub in service.handlers}
    )
    classes = {(event.service, event.event_type()): event for event in events}

    former: dict[Subscription, dict[int, list[str]]] = {}
    for former_version, accepting in accepted_former_versions(services).items():
        former.setdefault(former_version.subscription, {})[former_version.version] = accepting
    locked = locked_schemas()

    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for source, event_type in message_types:
        event = classes.get((source, event_type))
        versions = former.get(Subscription(source, event_type), {})
        version = event.data_version if event else max(versions, default=0) + 1
        messages[event_type] = _message(source, event_type, event)
        schemas[event_type] = _envelope_schema(source, event_type, event, version, event_type)
        schemas[_data_schema_name(event_type)] = (
            data_schema(event) if event else _unknown_data_schema(source)
        )
        for old_version, accepting in sorted(versions.items()):
            name = _former_name(event_type, old_version)
            messages[name] = _former_message(source, event_type, old_version, version, accepting)
            envelope = _envelope_schema(source, event_type, event, old_version, name)
            schemas[name] = {**envelope, "deprecated": True}
            schema_id = dataschema_of(source, event_type, old_version)
            schemas[_data_schema_name(name)] = {
                **locked.get(schema_id, {"$id": schema_id, **_unknown_data_schema(source)}),
                "deprecated": True,
            }

    exchanges = {exchange.name: exchange for exchange in wanted.exchanges}
    for publisher in publishers:
        exchange = exchanges[topology.publish_exchange(publisher)]
        types_published = [
            event_type for source, event_type in message_types if source == publisher
        ]
        # Events of a former version may still pass through the exchange, sent before.
        on_the_wire = types_published + [
            _former_name(subscription.event_type, version)
            for subscription, versions in sorted(
                former.items(), key=lambda item: item[0].event_type
            )
            if subscription.source == publisher
            for version in sorted(versions)
        ]
        channels[exchange.name] = _exchange_channel(
            exchange, publisher, types_published, on_the_wire
        )
        if any(service.name == publisher for service in services):
            operations[f"{publisher}.publish"] = _operation(
                "send",
                exchange.name,
                types_published,
                f"The relay of {publisher} publishes its events from its outbox, routing key = "
                "event type, with publisher confirms.",
            )
    for service in services:
        queue = wanted.queue(topology.receive_queue(service.name))
        subscribed = sorted({subscription.event_type for subscription in service.handlers}) + [
            _former_name(former_version.subscription.event_type, former_version.version)
            for former_version in sorted(
                service.upcasters,
                key=lambda item: (item.subscription.event_type, item.version),
            )
        ]
        channels[queue.name] = _queue_channel(queue, service, subscribed)
        operations[f"{service.name}.receive"] = _operation(
            "receive",
            queue.name,
            subscribed,
            f"The workers of {service.name} hand each event to its handler once (the inbox "
            "skips duplicates), retry failures and dead-letter what keeps failing. An event "
            "of a former version reaches the handler upcast to the current one.",
        )

    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Domain events",
            "version": DOCUMENT_VERSION,
            "description": (
                "The events that the services publish and the ones each consumes: CloudEvents "
                "1.0 in structured JSON mode on RabbitMQ. Each service publishes to its topic "
                "exchange `<service>-publish-x` with the event type as routing key; each "
                "consumes one queue, `<service>-receive-q`, bound to the event types it "
                "subscribes to. A CloudEvent's `dataschema` is the `$id` of its `data` schema "
                "under components/schemas, and ends in `:v<N>` from version 2 of the data on. "
                "A former version that consumers still accept is a deprecated message of its "
                "own, `<type>V<N>`."
            ),
        },
        "defaultContentType": CONTENT_TYPE,
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def known_events() -> list[type[DomainEvent]]:
    """The event classes of the contexts loaded here, by service and type."""
    found = [
        event
        for event in _subclasses(DomainEvent)
        if not event.__subclasses__() and event.__module__.rsplit(".", 1)[-1] == "events"
    ]
    return sorted(found, key=lambda event: (event.service, event.event_type()))


def data_schema(event: type[DomainEvent]) -> dict[str, Any]:
    """The JSON Schema of the event's `data`, as `DomainEvent.data()` writes it."""
    envelope = {field.name for field in dataclasses.fields(DomainEvent)}
    schema = _object_schema(event, exclude=envelope)
    return {"$id": dataschema_of(event.service, event.event_type(), event.data_version), **schema}


def current_schemas() -> dict[str, dict[str, Any]]:
    """The data schema of the current version of every known event, by `$id`."""
    return {(schema := data_schema(event))["$id"]: schema for event in known_events()}


def _subclasses(cls: type[T]) -> Iterable[type[T]]:
    for subclass in cls.__subclasses__():
        yield subclass
        yield from _subclasses(subclass)


def _object_schema(cls: type, *, exclude: Collection[str] = ()) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    fields = [field for field in dataclasses.fields(cls) if field.name not in exclude]
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            to_camel_case(field.name): _value_schema(
                hints[field.name], f"{cls.__name__}.{field.name}"
            )
            for field in fields
        },
        # data() writes every field, but a field with a default may have been added to the
        # version later (an additive change): the events of before lack it.
        "required": [to_camel_case(field.name) for field in fields if not _has_default(field)],
        # A field the schema does not know is drift: adding one is a change to the contract.
        "additionalProperties": False,
    }
    if description := _description(cls):
        schema["description"] = description
    return schema


def _has_default(field: dataclasses.Field) -> bool:
    return (
        field.default is not dataclasses.MISSING or field.default_factory is not dataclasses.MISSING
    )


def _value_schema(hint: Any, where: str) -> dict[str, Any]:
    origin = typing.get_origin(hint)
    arguments = typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        present = [argument for argument in arguments if argument is not type(None)]
        if len(present) != 1 or len(arguments) != 2:
            raise TypeError(f"{where}: only `X | None` unions can be described, not {hint}")
        schema = _value_schema(present[0], where)
        return {**schema, "type": [schema["type"], "null"]}
    if origin in (tuple, list):
        item = arguments[0] if arguments else Any
        return {"type": "array", "items": _value_schema(item, where)}
    if origin is dict:
        return {"type": "object", "additionalProperties": _value_schema(arguments[1], where)}
    if hint is bool:
        return {"type": "boolean"}
    if hint is int:
        return {"type": "integer"}
    if hint is float:
        return {"type": "number"}
    if hint is str:
        return {"type": "string"}
    if hint is Decimal:
        return {"type": "string", "pattern": DECIMAL_PATTERN, "description": "a decimal number"}
    if hint is uuid.UUID:
        return {"type": "string", "pattern": UUID_PATTERN}
    if hint is datetime:
        return {"type": "string", "format": "date-time"}
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _object_schema(hint)
    raise TypeError(f"{where}: no JSON Schema for the type {hint!r}")


def _description(cls: type) -> str | None:
    """The class's own docstring; dataclasses without one get their signature, not wanted."""
    doc = cls.__dict__.get("__doc__")
    if not doc or doc.startswith(f"{cls.__name__}("):
        return None
    return inspect.cleandoc(doc)


def _data_schema_name(event_type: str) -> str:
    return f"{event_type}Data"


def _unknown_data_schema(source: str) -> dict[str, Any]:
    return {
        "type": "object",
        "description": f"Published by {source}, whose events are not loaded in this process: "
        f"see the document of {source}.",
    }


def _former_name(event_type: str, version: int) -> str:
    return f"{event_type}V{version}"


def _former_message(
    source: str, event_type: str, version: int, current: int, accepting: list[str]
) -> dict[str, Any]:
    name = _former_name(event_type, version)
    return {
        "name": name,
        "title": f"{event_type} (version {version}, deprecated)",
        "summary": f"Version {version} of {event_type}, published by {source} before version "
        f"{current}: still accepted by {' and '.join(sorted(accepting))} while its events drain.",
        "description": (
            f"Same type and routing key as {event_type}; its `dataschema` names version "
            f"{version}. Each consumer's upcaster turns its data into version {current} before "
            "the handler sees it. It is removed once no event of it is left in outbox rows, "
            "queues, retries or dead letters."
        ),
        "contentType": CONTENT_TYPE,
        "payload": {"$ref": f"#/components/schemas/{name}"},
        "bindings": _message_bindings(event_type),
    }


def _message_bindings(event_type: str) -> dict[str, Any]:
    return {
        "amqp": {
            "contentEncoding": "utf-8",
            "messageType": event_type,
            "bindingVersion": AMQP_BINDING_VERSION,
        },
    }


def _message(source: str, event_type: str, event: type[DomainEvent] | None) -> dict[str, Any]:
    message: dict[str, Any] = {
        "name": event_type,
        "title": event_type,
        "summary": f"Published by {source}"
        + (f" about its {event.aggregate_type} aggregate." if event else "."),
        "contentType": CONTENT_TYPE,
        "payload": {"$ref": f"#/components/schemas/{event_type}"},
        "bindings": _message_bindings(event_type),
    }
    if event and (description := _description(event)):
        message["description"] = description
    return message


def _envelope_schema(
    source: str, event_type: str, event: type[DomainEvent] | None, version: int, name: str
) -> dict[str, Any]:
    """The structured CloudEvent that carries the event, as `to_cloudevent` builds it."""
    properties: dict[str, Any] = {
        "specversion": {"type": "string", "const": SPEC_VERSION},
        "id": {"type": "string", "pattern": UUID_PATTERN, "description": "the event id"},
        "type": {"type": "string", "const": event_type},
        "source": {"type": "string", "const": source_of(source)},
        "subject": {"type": "string", "description": "the aggregate's id"},
        "time": {"type": "string", "format": "date-time"},
        "datacontenttype": {"type": "string", "const": "application/json"},
        "dataschema": {"type": "string", "const": dataschema_of(source, event_type, version)},
        "aggregatetype": {"type": "string", "description": "extension: the aggregate's type"},
        "aggregateversion": {
            "type": "integer",
            "minimum": 0,
            "description": "extension: the aggregate's version after this event",
        },
        "data": {"$ref": f"#/components/schemas/{_data_schema_name(name)}"},
    }
    if event:
        properties["aggregatetype"]["const"] = event.aggregate_type
    return {
        "type": "object",
        "description": f"The CloudEvent of {event_type}"
        + (f", version {version}." if version > 1 or name != event_type else "."),
        "properties": {**properties, **_tracing_extension()},
        "required": list(properties),
    }


def _tracing_extension() -> dict[str, Any]:
    """The CloudEvents distributed tracing extension: present when the event was raised inside
    a traced span (`outbox/core/tracing.py`), absent otherwise. New dicts each time: the YAML has no
    anchors then."""
    return {
        "traceparent": {
            "type": "string",
            "pattern": "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
            "description": "extension (distributed tracing, optional): the W3C Trace Context "
            "traceparent of the span that raised the event",
        },
        "tracestate": {
            "type": "string",
            "description": "extension (distributed tracing, optional): the W3C Trace Context "
            "tracestate that goes with traceparent",
        },
    }


def _exchange_channel(
    exchange: topology.ExchangeDeclaration,
    publisher: str,
    event_types: list[str],
    message_names: list[str],
) -> dict[str, Any]:
    return {
        "address": "{eventType}",
        "title": exchange.name,
        "description": (
            f"The topic exchange of every event {publisher} publishes; the routing key is the "
            f"event type. Events that no queue is bound to go to its alternate exchange "
            f"`{exchange.arguments.get('alternate-exchange')}`."
        ),
        "parameters": {
            "eventType": {
                "description": "The event type, which is also the CloudEvent's `type`.",
                "enum": event_types,
                "location": "$message.payload#/type",
            }
        },
        "messages": {name: _message_ref(name) for name in message_names},
        "bindings": {
            "amqp": {
                "is": "routingKey",
                "exchange": {
                    "name": exchange.name,
                    "type": exchange.kind,
                    "durable": True,
                    "autoDelete": False,
                },
                "bindingVersion": AMQP_BINDING_VERSION,
            }
        },
    }


def _queue_channel(
    queue: topology.QueueDeclaration, service: Service, event_types: list[str]
) -> dict[str, Any]:
    bindings = [
        {"exchange": binding.exchange, "routingKey": binding.routing_key}
        for binding in queue.bindings
    ]
    return {
        "address": queue.name,
        "title": queue.name,
        "description": (
            f"The one queue that the workers of {service.name} consume, bound to the publish "
            "exchanges with the event types it subscribes to (and to its recover exchange, "
            "through which retries and replayed dead letters come back): "
            + ", ".join(f"{b['exchange']} {b['routingKey'] or '(all)'}" for b in bindings)
            + "."
        ),
        "messages": {event_type: _message_ref(event_type) for event_type in event_types},
        "bindings": {
            "amqp": {
                "is": "queue",
                "queue": {
                    "name": queue.name,
                    "durable": True,
                    "exclusive": False,
                    "autoDelete": False,
                },
                "bindingVersion": AMQP_BINDING_VERSION,
            }
        },
        "x-amqp-queue-bindings": bindings,
    }


def _message_ref(event_type: str) -> dict[str, str]:
    return {"$ref": f"#/components/messages/{event_type}"}


def _operation(
    action: str, channel: str, event_types: list[str], description: str
) -> dict[str, Any]:
    return {
        "action": action,
        "channel": {"$ref": f"#/channels/{_escape(channel)}"},
        "description": description,
        "messages": [
            {"$ref": f"#/channels/{_escape(channel)}/messages/{event_type}"}
            for event_type in event_types
        ],
        "bindings": {
            "amqp": (
                {"deliveryMode": 2, "bindingVersion": AMQP_BINDING_VERSION}
                if action == "send"
                else {"ack": True, "bindingVersion": AMQP_BINDING_VERSION}
            )
        },
    }


def _escape(name: str) -> str:
    """A name as a JSON Pointer token."""
    return name.replace("~", "~0").replace("/", "~1")


def render(document: dict[str, Any], kind: str) -> str:
    """The document as JSON or YAML text, keys in the order they were built."""
    if kind == "json":
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
