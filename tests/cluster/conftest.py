"""A three-node RabbitMQ cluster of its own for the session, and real web (gunicorn), relay
and Celery worker processes on it, all given the cluster as a list of nodes."""

import dataclasses
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from knox.models import AuthToken
from pytest_django import DjangoDbBlocker

from conftest import EVERY_PROCESSES, Processes, database_url
from ecommerce.staff import catalog_manager_create
from harness.project import PROJECT_DIR
from tests.cluster.nodes import Cluster
from tests.load import ApiClient

# Retries spaced as in production, only shorter: a handler that runs ahead of its source (two
# workers share each queue) has several seconds to let it arrive before being dead-lettered.
RETRY_DELAYS_SECONDS = "0.5,1,2,4"


@pytest.fixture(scope="session")
def started_cluster() -> Iterator[Cluster]:
    """The test cluster, started (or found running) with an empty test vhost; stopped after."""
    nodes = Cluster()
    nodes.script("start")
    try:
        nodes.fresh_vhost()
        yield nodes
    finally:
        # A node that a failed test left down is started first, so that the others can hand
        # it their replicas and leave: the next session starts from node 1 alone again.
        nodes.script("start")
        nodes.script("stop")


@dataclasses.dataclass
class ClusterProcesses:
    """A web process, a relay and two workers, each given every node of the cluster."""

    web_url: str
    relay: subprocess.Popen
    workers: list[subprocess.Popen]


@pytest.fixture(scope="module")
def on_the_cluster(
    started_cluster: Cluster,
    django_db_setup: None,
    django_db_blocker: DjangoDbBlocker,
    probe_dir: Path,
) -> Iterator[ClusterProcesses]:
    """The relay, the web process and the first worker list the nodes from the first on; the
    second worker from the second on, so that the two workers start on different nodes."""
    cluster = started_cluster
    for others in EVERY_PROCESSES:
        others.stop_all()
    # What they wrote after their last test's tables were emptied (the effects and events of a
    # message they were handling then) is nobody's: the relay here would publish it.
    with django_db_blocker.unblock():
        call_command("flush", "--no-input")
    env = {
        **os.environ,
        "DATABASE_URL": database_url(settings.DATABASES["default"]),
        "OUTBOX_RELAY_IDLE_SECONDS": "1",
        "OUTBOX_RETRY_DELAYS_SECONDS": RETRY_DELAYS_SECONDS,
        "PROBE_DIR": str(probe_dir),
    }
    from_first = Processes({**env, "CELERY_BROKER_URL": cluster.broker_url(first=0)})
    from_second = Processes({**env, "CELERY_BROKER_URL": cluster.broker_url(first=1)})
    subprocess.run(
        [sys.executable, "manage.py", "declare_topology"],
        cwd=PROJECT_DIR,
        env={
            **from_first.env,
            "BROKER_ADMIN_URL": cluster.broker_url(first=0),
            "BROKER_MANAGEMENT_URL": f"http://127.0.0.1:{cluster.nodes[0].management_port}",
        },
        check=True,
        capture_output=True,
    )
    try:
        workers = [from_first.start_worker("cluster-worker-1")]
        workers.append(from_second.start_worker("cluster-worker-2"))
        from_second.wait_for_consumers("cluster-worker-2", consumers=2)
        relay = from_first.start_relay("cluster-relay")
        web_url = from_first.start_web("cluster-web", "--workers", "1", "--threads", "4")
        yield ClusterProcesses(web_url, relay, workers)
    finally:
        from_first.stop_all()
        from_second.stop_all()


@pytest.fixture
def staff_api(on_the_cluster: ClusterProcesses) -> ApiClient:
    """The web process's API as a staff user, who stocks the shop."""
    user = catalog_manager_create(username="cluster-staff")
    return ApiClient(on_the_cluster.web_url, AuthToken.objects.create(user=user)[1])


@pytest.fixture
def customer_api(on_the_cluster: ClusterProcesses, django_user_model: type) -> ApiClient:
    """The web process's API as a customer, who orders."""
    user = django_user_model.objects.create_user(username="cluster-customer")
    return ApiClient(on_the_cluster.web_url, AuthToken.objects.create(user=user)[1])
