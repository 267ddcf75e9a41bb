"""Fixtures shared by every test: real PostgreSQL (pytest-django), and for end-to-end tests
real RabbitMQ with real relay and Celery worker processes. The cluster tests' own fixtures
are in tests/cluster/conftest.py."""

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from kombu import Connection
from rest_framework.test import APIClient

import tests.probe  # noqa: F401 - registers the probe service, as the test worker does
from ecommerce.staff import catalog_manager_create
from outbox.core import registry, senders, topology
from tests.waiting import wait_until

PROJECT_DIR = Path(__file__).resolve().parent
LOG_DIR = PROJECT_DIR / ".run" / "log"
# Every retry in well under a second, instead of the production minute.
TEST_RETRY_DELAYS = (0.2, 0.4, 0.6, 0.8)
# A message that kills its worker is dead-lettered after 4 deliveries instead of 11: each
# one costs a worker restart.
TEST_DELIVERY_LIMIT = 3


@pytest.fixture
def staff_client() -> APIClient:
    """An API client signed in as a catalog manager: staff with the permissions to manage
    products and inventory, who may also order."""
    user = catalog_manager_create(username="staff")
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def customer_client(django_user_model: type) -> APIClient:
    """An API client signed in as a customer, who orders and sees only their own orders."""
    user = django_user_model.objects.create_user(username="customer")
    client = APIClient()
    client.force_authenticate(user)
    return client


def database_url(database: dict) -> str:
    """The URL of a Django database settings dict (the test database, once it exists)."""
    credentials = f"{quote(database['USER'])}:{quote(database['PASSWORD'])}@"
    return f"postgres://{credentials}{database['HOST']}:{database['PORT']}/{database['NAME']}"


def queue_shape_for_tests() -> topology.QueueShape:
    """The configured queue type (OUTBOX_QUEUE_TYPE), with the test delivery limit."""
    return topology.QueueShape(settings.OUTBOX["QUEUE_TYPE"], TEST_DELIVERY_LIMIT)


@pytest.fixture(scope="session")
def broker() -> Iterator[Connection]:
    """The test broker with every service's topology declared and every queue empty.

    A queue that an older run declared with another type or other arguments is deleted and
    declared again: this is a test vhost, where a deployment would migrate it instead.
    """
    with Connection(settings.CELERY_BROKER_URL) as connection:
        channel = connection.default_channel
        while True:
            try:
                topology.declare(
                    channel, registry.all_services(), TEST_RETRY_DELAYS, queue_shape_for_tests()
                )
                break
            except topology.QueueMismatch as mismatch:
                channel.queue_delete(mismatch.queue)
        for service in registry.all_services():
            for queue in (
                topology.receive_queue(service.name),
                topology.receive_dead_letter_queue(service.name),
                topology.publish_dead_letter_queue(service.name),
                *(topology.receive_retry_queue(service.name, d) for d in TEST_RETRY_DELAYS),
            ):
                channel.queue_purge(queue)
        yield connection


# Every Processes of the session. Tests that run processes on another broker (tests/cluster)
# stop the others first: a relay on the test database publishes every test's events.
EVERY_PROCESSES: list["Processes"] = []


class Processes:
    """Relay and worker processes on the test database, stopped at the end of the session."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.running: dict[str, subprocess.Popen] = {}
        EVERY_PROCESSES.append(self)

    def start(self, name: str, *command: str) -> subprocess.Popen:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        log = open(LOG_DIR / f"test-{name}.log", "ab")
        process = subprocess.Popen(
            command, cwd=PROJECT_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        self.running[name] = process
        return process

    def start_relay(self, name: str = "relay") -> subprocess.Popen:
        return self.start(name, sys.executable, "manage.py", "run_relay")

    def start_worker(self, name: str = "worker", *, wait: bool = True) -> subprocess.Popen:
        """Start a worker and return once it consumes every service's receive queue, or at
        once without `wait` (a worker that may die before a test could see it consume)."""
        process = self.start(
            name,
            sys.executable, "-m", "celery", "-A", "tests.probe_worker", "worker",
            "--pool=solo", "--loglevel=INFO", f"--hostname={name}@%h",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        )  # fmt: skip
        if wait:
            self.wait_for_consumers()
        return process

    def wait_for_consumers(self) -> None:
        """Return once a worker consumes every service's receive queue."""
        with Connection(self.env["CELERY_BROKER_URL"]) as broker:
            for service in registry.all_services():
                queue = topology.receive_queue(service.name)
                wait_until(
                    lambda queue=queue: consumer_count(broker, queue) > 0,
                    timeout=60,
                    what=f"a worker consuming {queue}",
                )

    def kill(self, name: str) -> None:
        """SIGKILL a process: no shutdown, no acknowledgements, no goodbyes."""
        process = self.running.pop(name)
        process.kill()
        process.wait()

    def stop(self, name: str) -> None:
        process = self.running.pop(name)
        process.terminate()
        wait_or_kill(process)

    def stop_all(self) -> None:
        """Ask every process to stop at once, then wait for each: shutdowns overlap."""
        for process in self.running.values():
            process.terminate()
        for name in list(self.running):
            wait_or_kill(self.running.pop(name))


def wait_or_kill(process: subprocess.Popen) -> None:
    """Wait for a process asked to stop; kill it if it takes longer than 15 s."""
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def local_secret(name: str) -> str:
    """One of this clone's local secrets (scripts/secret.sh), e.g. a broker user's password."""
    return subprocess.run(
        [str(PROJECT_DIR / "scripts" / "secret.sh"), name],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip


def free_port() -> int:
    """A local TCP port that nothing listens on, for a web process of a test."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def consumer_count(connection: Connection, queue: str) -> int:
    _, _, consumers = connection.default_channel.queue_declare(queue, passive=True)
    return consumers


@pytest.fixture(scope="session")
def probe_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the probe service keeps its attempts (see tests/probe.py)."""
    directory = tmp_path_factory.mktemp("probe")
    os.environ["PROBE_DIR"] = str(directory)
    return directory


@pytest.fixture(scope="session")
def processes(django_db_setup: None, broker: Connection, probe_dir: Path) -> Iterator[Processes]:
    """A relay and a Celery worker consuming every service's queue, as `make up` runs them."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url(settings.DATABASES["default"]),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "OUTBOX_RELAY_IDLE_SECONDS": "1",
        "OUTBOX_RETRY_DELAYS_SECONDS": ",".join(map(str, TEST_RETRY_DELAYS)),
        "OUTBOX_QUEUE_TYPE": queue_shape_for_tests().queue_type,
        "OUTBOX_DELIVERY_LIMIT": str(queue_shape_for_tests().delivery_limit),
        "PROBE_DIR": str(probe_dir),
        # Every service sends as the test session's broker user, also in a process that
        # serves one of them (ECOMMERCE_SERVICES), where the default would be the user named
        # after each other service.
        "BROKER_USERS": ",".join(
            f"{service.name}={senders.own_broker_user()}" for service in registry.all_services()
        ),
    }
    running = Processes(env)
    try:
        running.start_relay()
        running.start_worker()
        yield running
    finally:
        running.stop_all()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run end-to-end tests last, and the cluster tests after them: their relays and workers
    live on until the session ends, and would otherwise write into the tables that faster
    tests expect to find empty; the cluster tests stop the end-to-end ones."""

    def rank(item: pytest.Item) -> int:
        if item.get_closest_marker("cluster"):
            return 2
        return 1 if item.get_closest_marker("e2e") else 0

    items.sort(key=rank)
