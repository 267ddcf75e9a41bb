"""RabbitMQ's management HTTP API on the test vhost, as its administrator (the test session's
broker user): what it says about a queue or the connections, and broker users made for a test.

AMQP cannot tell a queue's type or arguments; the management API (port 15672) can.
RABBITMQ_MANAGEMENT_URL points elsewhere, as for the benchmarks.
"""

import contextlib
import dataclasses
import os
import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import requests
from django.conf import settings
from kombu import Connection

from outbox.core import topology

MANAGEMENT_URL = os.environ.get("RABBITMQ_MANAGEMENT_URL", "http://127.0.0.1:15672")


def queue_info(name: str) -> dict[str, Any]:
    """The management API's description of a queue: `type`, `arguments`, `messages`, ..."""
    return _call("GET", f"queues/{quote(_vhost(), safe='')}/{quote(name, safe='')}").json()


def connections() -> list[dict[str, Any]]:
    """The management API's description of every client connection: `ssl`, `vhost`, ..."""
    return _call("GET", "connections").json()


def permissions_of(user: str) -> topology.Permissions:
    """What a broker user may do on the test vhost."""
    granted = _call("GET", f"permissions/{quote(_vhost(), safe='')}/{quote(user)}").json()
    return topology.Permissions(granted["configure"], granted["write"], granted["read"])


@contextlib.contextmanager
def broker_user(name: str, permissions: topology.Permissions | None = None) -> Iterator[str]:
    """A broker user with no tags and a password of its own, on the test vhost with
    `permissions` (none: the test grants them), deleted afterwards; yields its URL."""
    password = secrets.token_urlsafe(16)
    _call("PUT", f"users/{quote(name)}", {"password": password, "tags": ""})
    try:
        if permissions is not None:
            path = f"permissions/{quote(_vhost(), safe='')}/{quote(name)}"
            _call("PUT", path, dataclasses.asdict(permissions))
        broker = Connection(settings.CELERY_BROKER_URL)
        yield broker.clone(userid=name, password=password).as_uri(include_password=True)
    finally:
        _call("DELETE", f"users/{quote(name)}")


def create_vhost(name: str) -> None:
    """A vhost of its own for a test, on which the test session's user may do everything."""
    _call("PUT", f"vhosts/{quote(name, safe='')}")
    user = Connection(settings.CELERY_BROKER_URL).userid
    every_right = {"configure": ".*", "write": ".*", "read": ".*"}
    _call("PUT", f"permissions/{quote(name, safe='')}/{quote(user, safe='')}", every_right)


def delete_vhost(name: str) -> None:
    _call("DELETE", f"vhosts/{quote(name, safe='')}")


def _vhost() -> str:
    return Connection(settings.CELERY_BROKER_URL).virtual_host


def _call(method: str, path: str, body: dict[str, Any] | None = None) -> requests.Response:
    broker = Connection(settings.CELERY_BROKER_URL)
    response = requests.request(
        method,
        f"{MANAGEMENT_URL}/api/{path}",
        json=body,
        auth=(broker.userid, broker.password),
        timeout=10,
    )
    response.raise_for_status()
    return response
