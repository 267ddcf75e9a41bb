"""A three-member PostgreSQL cluster of its own for the session (Patroni and etcd), each test's
database on it, and real web, relay, worker and beat processes given every member of it."""

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest
from kombu import Connection

from conftest import EVERY_PROCESSES, Processes, empty_every_queue, process_env
from harness.project import PROJECT_DIR
from tests.load import ApiClient
from tests.pg_failover.cluster import APP_USER, CLUSTER_DIR, PgCluster

TEMPLATE_DATABASE = "failover_template"
# Users and their tokens, made in a test's database: the staff user stocks the shop, the
# customer orders and pays.
USERS_AND_TOKENS = """
from django.contrib.auth import get_user_model
from knox.models import AuthToken
from ecommerce.staff import catalog_manager_create
staff = catalog_manager_create(username="failover-staff")
customer = get_user_model().objects.create_user(username="failover-customer")
tokens = [AuthToken.objects.create(user=user)[1] for user in (staff, customer)]
print("tokens:", *tokens)
"""


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """The cluster, made afresh in synchronous mode (a session that was killed may have left
    one with a member that cannot rejoin); stopped after."""
    cluster = PgCluster()
    cluster.script("stop")
    shutil.rmtree(CLUSTER_DIR, ignore_errors=True)
    cluster.script("start")
    try:
        yield cluster
    finally:
        cluster.script("stop")


def manage(env: dict[str, str], *arguments: str) -> str:
    finished = subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    return finished.stdout


@pytest.fixture(scope="session")
def template_database(pg_cluster: PgCluster) -> str:
    """A database migrated once, which each test's database is copied from."""
    with closing(pg_cluster.superuser()) as server, server.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE_DATABASE}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{TEMPLATE_DATABASE}" OWNER "{APP_USER}"')
    manage(
        {**os.environ, "DATABASE_URL": pg_cluster.url(TEMPLATE_DATABASE)}, "migrate", "--noinput"
    )
    return TEMPLATE_DATABASE


@pytest.fixture
def shop_database(
    pg_cluster: PgCluster, template_database: str, request: pytest.FixtureRequest
) -> str:
    """A database of the test's own on the cluster, migrated; its multi-host URL."""
    name = "failover_" + re.sub(r"\W", "_", request.node.name)[:40].lower()
    with closing(pg_cluster.superuser()) as server, server.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
        cursor.execute(f'ALTER DATABASE "{name}" OWNER TO "{APP_USER}"')
    return pg_cluster.url(name)


class Shop:
    """The processes of `make up` on the test's database, and its API as staff and customer."""

    def __init__(self, processes: Processes, database_url: str) -> None:
        self.processes = processes
        self.database_url = database_url
        processes.start_worker("failover-worker")
        processes.start_relay("failover-relay")
        processes.start_beat("failover-beat")
        web_url = processes.start_web("failover-web", "--workers", "1", "--threads", "4")
        said = self.manage("shell", "-c", USERS_AND_TOKENS).splitlines()
        staff_token, customer_token = next(
            line for line in said if line.startswith("tokens:")
        ).split()[1:]
        self.staff = ApiClient(web_url, staff_token)
        self.customer = ApiClient(web_url, customer_token)

    def manage(self, *arguments: str) -> str:
        """A management command with the processes' environment; its output."""
        return manage(self.processes.env, *arguments)


@pytest.fixture
def start_shop(
    shop_database: str, broker: Connection, probe_dir: Path
) -> Iterator[Callable[..., Shop]]:
    """Starts web, relay, worker and beat on the test's database, with the environment the
    test adds (the guard, say); they stop after the test."""
    for others in EVERY_PROCESSES:
        others.stop_all()
    empty_every_queue(broker)
    started: list[Processes] = []

    def start(**env: str) -> Shop:
        # Beat sends a sweep every second: it is seen going on after a failover.
        defaults = {"OUTBOX_SWEEP_SECONDS": "1", "OUTBOX_WAIT_FOR_STANDBY": "false"}
        processes = Processes({**process_env(shop_database, probe_dir), **defaults, **env})
        started.append(processes)
        return Shop(processes, shop_database)

    yield start
    for processes in started:
        processes.stop_all()
