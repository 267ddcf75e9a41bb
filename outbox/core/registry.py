"""Which services exist and which events each one handles.

Each bounded context registers itself once, from its `AppConfig.ready`, with the table of
its event handlers and the database its rows live in. The queue bindings are derived from
these tables: subscribing to an event is adding a line to a table, and nothing else.
"""

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from django.db import DEFAULT_DB_ALIAS

from outbox.core.cloudevents import ReceivedEvent

EventHandler = Callable[[ReceivedEvent], None]
# Turns the `data` of one version of an event into the shape of the next version.
Upcaster = Callable[[Mapping[str, Any]], dict[str, Any]]


@dataclasses.dataclass(frozen=True)
class Subscription:
    """An event type published by a service."""

    source: str
    event_type: str


@dataclasses.dataclass(frozen=True)
class FormerVersion:
    """A version of an event's data that a consumer still accepts, while events of it drain
    from outbox rows and queues: its upcaster turns it into the next version."""

    subscription: Subscription
    version: int


@dataclasses.dataclass(frozen=True)
class Service:
    """A bounded context on the wire: it publishes events and handles its subscriptions.

    `database` holds its rows and, with them, its outbox, inbox, dead letters and audit trail:
    its events are saved, its messages handled and its failures recorded there. `upcasters`
    turn former versions of the events it handles into the shape its handlers read.
    """

    name: str
    handlers: Mapping[Subscription, EventHandler]
    database: str = DEFAULT_DB_ALIAS
    upcasters: Mapping[FormerVersion, Upcaster] = dataclasses.field(default_factory=dict)

    def handler_for(self, source: str, event_type: str) -> EventHandler | None:
        """The handler of an event, or None when this service does not subscribe to it."""
        return self.handlers.get(Subscription(source, event_type))


_services: dict[str, Service] = {}


def register_service(
    name: str,
    handlers: Mapping[Subscription, EventHandler],
    *,
    database: str = DEFAULT_DB_ALIAS,
    upcasters: Mapping[FormerVersion, Upcaster] | None = None,
) -> None:
    """Declare a service, its event handlers, the database alias its rows live in and the
    upcasters of the former event versions it still accepts."""
    _services[name] = Service(name, dict(handlers), database, dict(upcasters or {}))


def all_services() -> list[Service]:
    """Every registered service, by name."""
    return [_services[name] for name in sorted(_services)]


def is_registered(name: str) -> bool:
    """Whether this process serves the service."""
    return name in _services


def get_service(name: str) -> Service:
    """A registered service; `LookupError` names the known ones if there is no such service."""
    try:
        return _services[name]
    except KeyError:
        raise LookupError(f"no service {name!r}; known: {', '.join(sorted(_services))}") from None


def outbox_databases() -> list[str]:
    """The databases holding the registered services' outboxes, each once."""
    return sorted({service.database for service in _services.values()})


def service_database(name: str) -> str:
    """The database of a service's rows; `default` for a service not registered here."""
    service = _services.get(name)
    return service.database if service else DEFAULT_DB_ALIAS
