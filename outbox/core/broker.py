"""Connections to the broker, built from the project's settings."""

import base64
import dataclasses
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from urllib.parse import quote

import amqp
from django.conf import settings
from kombu import Connection

from outbox.core import registry, senders, topology
from outbox.core.failover import amqp_channel, broker_connection, connect_to_any_node
from outbox.core.publisher import ConfirmingPublisher
from outbox.core.relay import Relay


def relay_from_settings(database: str, stopping: Callable[[], bool] = lambda: False) -> Relay:
    """A relay of the outbox in `database` that publishes to the configured broker; `stopping`
    says when its process stops."""
    return Relay(
        confirming_publisher(),
        database=database,
        batch_size=settings.OUTBOX["RELAY_BATCH_SIZE"],
        stopping=stopping,
    )


def queue_shape(queue_type: str | None = None) -> topology.QueueShape:
    """The configured queue type (or the one given) and delivery limit."""
    return topology.QueueShape(
        queue_type=queue_type or settings.OUTBOX["QUEUE_TYPE"],
        delivery_limit=settings.OUTBOX["DELIVERY_LIMIT"],
    )


def declare_topology() -> list[str]:
    """Declare every registered service's exchanges and queues, on any live node of the broker
    as its administrator (`BROKER_ADMIN_URL`), then grant each service's broker user what it
    needs (`grant_broker_users`); return the service names.

    Raises `outbox.core.failover.BrokerUnreachable` when no node answers, and
    `topology.QueueMismatch`, naming the queue and the command that migrates it, when a queue
    exists with another type than the configured one.
    """
    services = registry.all_services()
    with broker_connection(settings.BROKER_ADMIN_URL) as connection:
        connect_to_any_node(connection)
        topology.declare(
            amqp_channel(connection.default_channel),
            services,
            settings.OUTBOX["RETRY_DELAYS_SECONDS"],
            queue_shape(),
        )
    grant_broker_users()
    return [service.name for service in services]


def declare_own_topology(channel: amqp.Channel) -> None:
    """Declare the served services' own exchanges and queues again, as a worker does on every
    connection; the publish exchanges of other services it binds to must exist already (its
    broker user may not create them)."""
    topology.declare(
        channel,
        registry.all_services(),
        settings.OUTBOX["RETRY_DELAYS_SECONDS"],
        queue_shape(),
        others_passively=True,
    )


class GrantFailed(Exception):
    """The management API refused or did not answer a grant of permissions."""


def broker_user_permissions() -> dict[str, topology.Permissions]:
    """What each broker user of the registered services may do: a user that serves several
    services (one process serving every context) may do what each of them may, and the
    scheduler's user (`BROKER_SCHEDULER_USER`) may send every service's tasks."""
    services_of: dict[str, list[registry.Service]] = {}
    for service in registry.all_services():
        services_of.setdefault(senders.broker_user(service.name), []).append(service)
    granted = {
        user: topology.permissions(
            services, settings.OUTBOX["RETRY_DELAYS_SECONDS"], settings.CELERY_TASK_DEFAULT_QUEUE
        )
        for user, services in services_of.items()
    }
    scheduler = settings.OUTBOX["BROKER_SCHEDULER_USER"]
    if scheduler and scheduler not in granted:
        granted[scheduler] = topology.task_permissions(
            [service.name for service in registry.all_services()],
            settings.CELERY_TASK_DEFAULT_QUEUE,
        )
    return granted


def grant_broker_users() -> dict[str, topology.Permissions]:
    """Set each broker user's permissions on the vhost through the management HTTP API
    (`BROKER_MANAGEMENT_URL`), as the administrator; return what was granted. The users must
    exist: creating them, with their passwords, is the deployment's (scripts/services.sh
    locally). The administrator itself is left as it is."""
    admin = Connection(settings.BROKER_ADMIN_URL)
    vhost = admin.virtual_host
    granted = {
        user: permissions
        for user, permissions in broker_user_permissions().items()
        if user != admin.userid
    }
    credentials = base64.b64encode(f"{admin.userid}:{admin.password}".encode()).decode()
    for user, permissions in granted.items():
        request = urllib.request.Request(
            f"{settings.BROKER_MANAGEMENT_URL}/api/permissions/"
            f"{quote(vhost, safe='')}/{quote(user, safe='')}",
            data=json.dumps(dataclasses.asdict(permissions)).encode(),
            method="PUT",
            headers={"Content-Type": "application/json", "Authorization": f"Basic {credentials}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10):
                pass
        except (urllib.error.URLError, OSError) as error:
            raise GrantFailed(
                f"could not grant broker user {user!r} its permissions on vhost {vhost!r} "
                f"through {settings.BROKER_MANAGEMENT_URL}: {error}. Does the user exist, and "
                f"is BROKER_ADMIN_URL an administrator?"
            ) from error
    return granted


def confirming_publisher() -> ConfirmingPublisher:
    """A publisher with confirms on the configured broker."""
    return ConfirmingPublisher(
        settings.CELERY_BROKER_URL,
        confirm_timeout=settings.OUTBOX["CONFIRM_TIMEOUT_SECONDS"],
    )
