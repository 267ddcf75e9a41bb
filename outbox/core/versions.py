"""Former versions of an event, accepted side by side with the current one.

A breaking change to an event's data gives it a new version (`DomainEvent.data_version`, on the
wire at the end of `dataschema`); its type, and so its routing, stays. While events of the
former version may still wait in outbox rows, queues, retries or dead letters, each consumer
registers an upcaster from it: the worker turns the former data into the current shape before
the handler sees it, so a handler only ever reads one shape.
"""

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from outbox.core.cloudevents import MalformedEvent, ReceivedEvent, dataschema_of
from outbox.core.registry import FormerVersion, Service, Subscription


def upcast(service: Service, event: ReceivedEvent) -> ReceivedEvent:
    """The event with its data in the newest version the service's upcasters reach."""
    subscription = Subscription(event.service, event.type)
    version, data = event.data_version, event.data
    while upcaster := service.upcasters.get(FormerVersion(subscription, version)):
        try:
            data = upcaster(data)
        except (KeyError, TypeError, ValueError) as error:
            raise MalformedEvent(
                f"{event.type}: data of version {version} cannot be read: {error!r}"
            ) from None
        version += 1
    if version == event.data_version:
        return event
    return dataclasses.replace(
        event, data=data, dataschema=dataschema_of(event.service, event.type, version)
    )


def data_not_read(data: Mapping[str, Any]) -> dict[str, Any]:
    """The upcaster of a handler that reads nothing of the data (event notification): the
    former version passes as it is, and the consumer is on record as accepting it."""
    return dict(data)


def accepted_former_versions(services: Iterable[Service]) -> dict[FormerVersion, list[str]]:
    """Every former version that some service still accepts, and the names of those services."""
    accepted: dict[FormerVersion, list[str]] = {}
    for service in services:
        for former in service.upcasters:
            accepted.setdefault(former, []).append(service.name)
    return accepted
