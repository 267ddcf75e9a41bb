"""Connecting to any live node of a broker given as a list of nodes.

`CELERY_BROKER_URL` may name several nodes of a RabbitMQ cluster in kombu's failover syntax,
`amqp://u:p@host1:5672/vhost;amqp://u:p@host2:5672/vhost;...`. A kombu connection made from
such a list moves to the next node (round-robin) after a failed attempt. `connect_to_any_node`
tries every node once: a dead node is passed over at once, and a list with no live node fails
at once, naming every node it tried (passwords masked).
"""

import amqp
from kombu import Connection
from kombu.exceptions import OperationalError


class BrokerUnreachable(OperationalError):
    """No node of the broker list accepted a connection."""


def broker_connection(url: str, **options: object) -> Connection:
    """A connection to the broker `url`, which may list several nodes separated by `;`."""
    return Connection(url, failover_strategy="round-robin", **options)


def connect_to_any_node(connection: Connection) -> None:
    """Connect to the first node of the list, from the current one on, that accepts.

    Raises `BrokerUnreachable` naming each node tried and why it failed.
    """
    tried: list[str] = []

    def record_failure(error: BaseException, interval: float) -> None:
        # Called before kombu moves on, so `as_uri` still names the node that failed.
        tried.append(f"{connection.as_uri()} ({type(error).__name__}: {error})")

    node_count = max(len(connection.alt), 1)
    try:
        connection.ensure_connection(errback=record_failure, max_retries=node_count - 1)
    except (OperationalError, amqp.exceptions.AMQPError, OSError) as error:
        # kombu wraps the last attempt's error; name the original, as for the others.
        record_failure(error.__cause__ or error, 0)
        raise BrokerUnreachable(
            f"could not connect to the broker; tried {len(tried)} of {node_count} "
            f"node(s): {', '.join(tried)}"
        ) from error
