"""Refusing to start without a database: the web, relay and worker processes check theirs first.

A process that starts with an unreachable database would otherwise run until its first
query, and then fail with a traceback far from the cause. The check names the database alias,
the environment variable it comes from (setting DATABASE_URL_VARIABLES) and where it points,
with the password masked, and the server's own reason.
"""

from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import OperationalError, connections

from outbox.core import replication


class DatabaseUnreachable(ImproperlyConfigured):
    """One or more databases of this process cannot be connected to, or not used as its
    settings need; the message says which."""


def require_databases(aliases: Iterable[str]) -> None:
    """Connect to each database once; raise `DatabaseUnreachable` naming every one that fails.
    With OUTBOX_WAIT_FOR_STANDBY, each role must also see how far the standbys have come."""
    problems = []
    for alias in aliases:
        connection = connections[alias]
        try:
            connection.ensure_connection()
            if replication.enabled() and not replication.standby_positions_readable(alias):
                problems.append(
                    f"{describe_database(alias)}: OUTBOX_WAIT_FOR_STANDBY is on, and the role "
                    f"cannot read the standbys' positions (GRANT pg_read_all_stats TO "
                    f"{connection.settings_dict['USER']})"
                )
        except OperationalError as error:
            problems.append(f"{describe_database(alias)}: {one_line(error)}")
        finally:
            # The check's connection belongs to the starting thread, which will not query again.
            connection.close()
    if problems:
        raise DatabaseUnreachable(
            "cannot reach the database this process needs:\n  " + "\n  ".join(problems)
        )


def describe_database(alias: str) -> str:
    """`'inventory' (INVENTORY_DATABASE_URL=postgres://user:***@host:port/name)`."""
    config = settings.DATABASES[alias]
    source = settings.DATABASE_URL_VARIABLES.get(alias, f"DATABASES[{alias!r}]")
    password = ":***" if config.get("PASSWORD") else ""
    hosts = str(config.get("HOST") or "localhost").split(",")
    ports = str(config.get("PORT") or 5432).split(",")
    # A cluster's URL lists its members, each host with its port.
    location = ",".join(f"{host}:{port}" for host, port in zip(hosts, ports, strict=False))
    masked_url = f"postgres://{config.get('USER', '')}{password}@{location}/{config['NAME']}"
    return f"database {alias!r} ({source}={masked_url})"


def one_line(error: Exception) -> str:
    """The server's reason, on one line (libpq's messages span several)."""
    return " ".join(str(error).split())
