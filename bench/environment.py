"""Where a benchmark runs: its own database and its own RabbitMQ vhost, reset between runs.

A benchmark never touches the development or test database and vhost. It derives its URLs
from `DATABASE_URL` and `CELERY_BROKER_URL` (or the local servers' of scripts/services.sh, with
this clone's passwords, as the broker's administrator) with the database name and vhost
replaced, so that nothing else consumes from its queues or writes to its tables.
This module is imported before Django is set up: it must not import Django models.
"""

import dataclasses
import os
import secrets
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import psycopg2
import requests
from psycopg2 import sql

from harness import logs
from harness.processes import Processes
from harness.project import PROJECT_DIR, local_secret

# What the processes of a benchmark are logged as (harness.logs).
LOG_PURPOSE = "bench"
DEFAULT_MANAGEMENT_URL = "http://127.0.0.1:15672"
# A run's processes share a key that signs nothing outside it, unless the environment has one;
# they serve plain http on 127.0.0.1. One customer sends thousands of orders, never paid: the
# throttles count them at rates no run reaches, and no cap stops them.
DJANGO_ENV = {
    "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(50),
    "DJANGO_SECURE_SSL": "false",
    "API_THROTTLE_ANON": "100000/second",
    "API_THROTTLE_USER": "100000/second",
    "API_THROTTLE_ORDER_CREATE": "100000/second",
    "ORDER_MAX_UNPAID_PER_CUSTOMER": "0",
}


BENCH_SERVICES = ("product", "inventory", "order")


@dataclasses.dataclass(frozen=True)
class BenchEnvironment:
    """The database and vhost of one benchmark run, and how child processes reach them."""

    database_url: str
    broker_url: str
    management_url: str

    @classmethod
    def from_environment(cls, *, database: str, vhost: str) -> "BenchEnvironment":
        """URLs of the server in DATABASE_URL / CELERY_BROKER_URL, with our database and vhost."""
        database_url = urlsplit(
            os.environ.get("DATABASE_URL")
            or f"postgres://ecommerce:{local_secret('postgres')}@127.0.0.1:5432/ecommerce"
        )
        broker_url = urlsplit(
            os.environ.get("CELERY_BROKER_URL")
            or f"amqp://admin:{local_secret('rabbitmq-admin')}@127.0.0.1:5672/ecommerce"
        )
        return cls(
            database_url=urlunsplit(database_url._replace(path=f"/{database}")),
            broker_url=urlunsplit(broker_url._replace(path=f"/{quote(vhost, safe='')}")),
            management_url=os.environ.get("RABBITMQ_MANAGEMENT_URL", DEFAULT_MANAGEMENT_URL),
        )

    @classmethod
    def fresh(cls, *, database: str, vhost: str) -> "BenchEnvironment":
        """The environment of a run: its database created afresh and migrated, and this process
        set up with Django against it."""
        import django

        environment = cls.from_environment(database=database, vhost=vhost)
        environment.recreate_database()
        environment.migrate()
        environment.use_in_this_process()
        django.setup()
        return environment

    @property
    def database(self) -> str:
        return urlsplit(self.database_url).path.lstrip("/")

    @property
    def vhost(self) -> str:
        return unquote(urlsplit(self.broker_url).path.lstrip("/"))

    @property
    def broker_env(self) -> dict[str, str]:
        """The run's broker user administers its vhost, and every service sends as it, also in
        a worker that serves one of them."""
        user = unquote(urlsplit(self.broker_url).username or "")
        return {
            "BROKER_ADMIN_URL": self.broker_url,
            "BROKER_USERS": ",".join(f"{service}={user}" for service in BENCH_SERVICES),
        }

    def servers(self) -> list[tuple[str, int]]:
        """(host, port) of each server the database URL names: one, or a cluster's members,
        of which libpq takes the primary."""
        servers = urlsplit(self.database_url).netloc.rpartition("@")[2]
        addresses = [urlsplit(f"//{server}") for server in servers.split(",")]
        return [(address.hostname or "127.0.0.1", address.port or 5432) for address in addresses]

    def child_env(self, **extra: str) -> dict[str, str]:
        """Environment of a process (relay, worker, web, pgbench) that works on this run."""
        url = urlsplit(self.database_url)
        servers = self.servers()
        return {
            **os.environ,
            **DJANGO_ENV,
            "DJANGO_SETTINGS_MODULE": "ecommerce.settings",
            "DATABASE_URL": self.database_url,
            "CELERY_BROKER_URL": self.broker_url,
            **self.broker_env,
            "PGHOST": ",".join(host for host, _ in servers),
            "PGPORT": ",".join(str(port) for _, port in servers),
            **({"PGTARGETSESSIONATTRS": "read-write"} if len(servers) > 1 else {}),
            "PGUSER": url.username or "",
            "PGPASSWORD": url.password or "",
            "PGDATABASE": self.database,
            "LOG_LEVEL": os.environ.get("BENCH_CHILD_LOG_LEVEL", "WARNING"),
            **extra,
        }

    def processes(self) -> Processes:
        """Processes of the project (relays, workers, the web server) working on this run."""
        return Processes(self.child_env(), purpose=LOG_PURPOSE)

    def use_in_this_process(self) -> None:
        """Point this process's Django settings at the run's database and vhost."""
        os.environ.update(
            {
                **DJANGO_ENV,
                "DJANGO_SETTINGS_MODULE": "ecommerce.settings",
                "DATABASE_URL": self.database_url,
                "CELERY_BROKER_URL": self.broker_url,
                **self.broker_env,
            }
        )

    def recreate_database(self) -> None:
        """Drop the run's database if it exists and create it empty (migrations come after)."""
        # libpq reads the URL itself, a cluster's list of members included.
        url = urlsplit(self.database_url)
        server = psycopg2.connect(urlunsplit(url._replace(path="/postgres")))
        server.autocommit = True
        name = sql.Identifier(self.database)
        with server.cursor() as cursor:
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(name))
        server.close()

    def migrate(self) -> None:
        """Bring the run's database schema up to date, in a child process."""
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=PROJECT_DIR, env=self.child_env(), check=True,
        )  # fmt: skip

    def reset_vhost(self) -> None:
        """Delete and recreate the run's vhost: no queue, exchange or message survives."""
        broker = urlsplit(self.broker_url)
        api = requests.Session()
        api.auth = (broker.username or "guest", broker.password or "guest")
        vhost = quote(self.vhost, safe="")
        response = api.delete(f"{self.management_url}/api/vhosts/{vhost}", timeout=30)
        if response.status_code not in (204, 404):
            response.raise_for_status()
        api.put(f"{self.management_url}/api/vhosts/{vhost}", timeout=30).raise_for_status()
        api.put(
            f"{self.management_url}/api/permissions/{vhost}/{quote(broker.username or 'guest')}",
            json={"configure": ".*", "write": ".*", "read": ".*"},
            timeout=30,
        ).raise_for_status()


def log_file(name: str) -> Path:
    """The log of a command a benchmark runs beside its processes."""
    return logs.log_file(LOG_PURPOSE, name)
