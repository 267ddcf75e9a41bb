"""Fixtures shared by every test: real PostgreSQL (pytest-django), and for end-to-end tests
real RabbitMQ with real relay and Celery worker processes. The cluster tests' own fixtures
are in tests/cluster/conftest.py."""

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from kombu import Connection
from rest_framework.test import APIClient

import harness.processes
import tests.probe  # noqa: F401 - registers the probe service, as the test worker does
from ecommerce.staff import catalog_manager_create
from outbox.core import registry, senders, topology
from tests import management_api, parallel

# Under pytest-xdist, this worker's own vhost (tests/parallel.py); None outside it.
WORKER_VHOST = parallel.use_worker_vhost()

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


@pytest.fixture(scope="session", autouse=True)
def worker_vhost() -> Iterator[str | None]:
    """Under pytest-xdist, this worker's own vhost, for the whole session (tests/parallel.py)."""
    if WORKER_VHOST is None:
        yield None
        return
    management_api.create_vhost(WORKER_VHOST)
    yield WORKER_VHOST
    management_api.delete_vhost(WORKER_VHOST)


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
        empty_every_queue(connection)
        yield connection


def empty_every_queue(broker: Connection) -> None:
    """Purge every service's receive, retry and dead-letter queues."""
    channel = broker.default_channel
    for service in registry.all_services():
        for queue in (
            topology.receive_queue(service.name),
            topology.receive_dead_letter_queue(service.name),
            topology.publish_dead_letter_queue(service.name),
            *(topology.receive_retry_queue(service.name, d) for d in TEST_RETRY_DELAYS),
        ):
            channel.queue_purge(queue)


# Every Processes of the session. A relay on the test database publishes every test's events,
# and a worker consumes every queue of the vhost: a test that starts no process has both to
# itself (`database_and_broker_to_itself`), and tests that run processes on another broker
# (tests/cluster) stop the others first.
EVERY_PROCESSES: list["Processes"] = []


class Processes(harness.processes.Processes):
    """The harness's processes as the tests run them: logged as `test`, their workers of the
    probe app (the project's, with the probe service) and ready once they consume every
    service's receive queue."""

    def __init__(self, env: dict[str, str]) -> None:
        super().__init__(
            env,
            purpose="test",
            celery_app="tests.probe_worker",
            worker_queues=[
                topology.receive_queue(service.name) for service in registry.all_services()
            ],
        )
        EVERY_PROCESSES.append(self)

    def start_relay_and_worker(self) -> None:
        """Start the relay and the worker, unless they run: an earlier test may have stopped
        or killed them, or left a message that made the worker exit."""
        for name, start in (("relay", self.start_relay), ("worker", self.start_worker)):
            process = self.running.get(name)
            if process is not None and process.poll() is not None:
                del self.running[name]
            if name not in self.running:
                start()


@pytest.fixture(scope="session")
def probe_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the probe service keeps its attempts (see tests/probe.py)."""
    directory = tmp_path_factory.mktemp("probe")
    os.environ["PROBE_DIR"] = str(directory)
    return directory


def process_env(database: str, probe_dir: Path) -> dict[str, str]:
    """The environment of the processes the tests start on `database` and the test vhost."""
    return {
        **os.environ,
        "DATABASE_URL": database,
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


@pytest.fixture(scope="session")
def shared_processes(
    django_db_setup: None, broker: Connection, probe_dir: Path
) -> Iterator[Processes]:
    """The relay and the worker that the end-to-end tests share, for the session."""
    env = process_env(database_url(settings.DATABASES["default"]), probe_dir)
    running = Processes(env)
    try:
        yield running
    finally:
        running.stop_all()


@pytest.fixture
def processes(shared_processes: Processes) -> Processes:
    """A relay and a Celery worker consuming every service's queue, as `make up` runs them."""
    shared_processes.start_relay_and_worker()
    return shared_processes


@pytest.fixture(autouse=True)
def database_and_broker_to_itself(request: pytest.FixtureRequest) -> None:
    """A test not marked `processes` has the test database and vhost to itself: no relay
    publishes the rows it commits, and no worker consumes the messages it sends. The processes
    that earlier tests left running stop; those of the end-to-end tests start again for the next
    one that asks for them. In the order `pytest_collection_modifyitems` gives, that never
    happens: the tests that start processes come last."""
    if request.node.get_closest_marker("processes"):
        return
    for running in EVERY_PROCESSES:
        if running.running:
            running.stop_all()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every end-to-end and cluster test as starting processes, and run them last, the
    cluster tests after the others: each group's processes then start once, and no test that
    starts none has to stop them (`database_and_broker_to_itself`). pytest-xdist keeps this
    order (make test: --dist loadfile --no-loadscope-reorder)."""
    clusters = ("cluster", "pg_cluster")
    for item in items:
        if item.get_closest_marker("e2e") or any(map(item.get_closest_marker, clusters)):
            item.add_marker(pytest.mark.processes)

    def rank(item: pytest.Item) -> int:
        if any(map(item.get_closest_marker, clusters)):
            return 2
        return 1 if item.get_closest_marker("processes") else 0

    items.sort(key=rank)
