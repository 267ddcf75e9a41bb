"""A relay and a worker that reach the broker over TLS only carry an event end to end."""

from collections.abc import Iterator

import pytest
from kombu import Connection
from rest_framework.test import APIClient

from conftest import Processes
from harness.waiting import wait_until
from outbox.core import topology
from tests import management_api
from tests.broker_tls import PROJECT_CA_FILE, broker_url
from tests.e2e.shop import created_product, inventory_of

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not PROJECT_CA_FILE.is_file(), reason="no local CA: scripts/services.sh start makes it"
    ),
]


@pytest.fixture
def processes_over_tls(processes: Processes, broker: Connection) -> Iterator[Processes]:
    """The session's relay and worker, started again with an amqps:// URL and the project's
    CA instead of theirs meanwhile; the session's are back afterwards."""
    for name in list(processes.running):
        processes.stop(name)
    over_tls = Processes(
        {
            **processes.env,
            "CELERY_BROKER_URL": broker_url(),
            "BROKER_TLS_CA_FILE": str(PROJECT_CA_FILE),
        }
    )
    try:
        over_tls.start_relay("relay-tls")
        # The wait asks the broker over the test's own plain connection: a kombu connection to
        # the amqps:// URL would trust only the system's CAs.
        over_tls.start_worker("worker-tls", wait=False)
        over_tls.wait_for_consumers("worker-tls", broker_url=broker.as_uri(include_password=True))
        yield over_tls
    finally:
        over_tls.stop_all()
        processes.start_relay()
        processes.start_worker()


def consumer_connection(queue: str) -> dict | None:
    """The management API's description of the connection that consumes `queue`, once its
    statistics (a few seconds behind) list it."""
    consumers = management_api.queue_info(queue).get("consumer_details") or [{}]
    # The statistics give `[]` for a channel they have not described yet.
    channel = consumers[0].get("channel_details") or {}
    name = channel.get("connection_name") if isinstance(channel, dict) else None
    return next((each for each in management_api.connections() if each["name"] == name), None)


def test_an_event_travels_from_relay_to_worker_over_tls(
    processes_over_tls: Processes, staff_client: APIClient
) -> None:
    product_id = created_product(staff_client)

    wait_until(lambda: inventory_of(product_id), timeout=60, what="inventory created over TLS")
    receiving = wait_until(
        lambda: consumer_connection(topology.receive_queue("inventory")),
        timeout=30,
        what="the broker's statistics listing the worker's connection",
    )
    assert receiving["ssl"] is True
    assert receiving["port"] == 5671
