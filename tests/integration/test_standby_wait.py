"""With OUTBOX_WAIT_FOR_STANDBY, the relay publishes nothing until a standby has the rows'
commits: on the test server, which has no standby, it waits and says so, in the gauge and the
health report, until its process stops. (tests/pg_failover sees it pass on a cluster.)"""

import threading
from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connections
from django.test import override_settings
from kombu import Connection
from prometheus_client import REGISTRY
from rest_framework.test import APIClient

from harness.waiting import wait_until
from outbox.core import replication, topology
from outbox.core.publisher import ConfirmingPublisher
from outbox.core.relay import Relay
from outbox.models import OutboxEvent
from outbox.operations.health import NO_STANDBY
from products.services import product_create

pytestmark = pytest.mark.django_db(transaction=True)

INVENTORY_QUEUE = topology.receive_queue("inventory")


@pytest.fixture(autouse=True)
def waiting_for_a_standby(broker: Connection) -> Iterator[None]:
    broker.default_channel.queue_purge(INVENTORY_QUEUE)
    with override_settings(OUTBOX={**settings.OUTBOX, "WAIT_FOR_STANDBY": True}):
        yield


def relay_waiting() -> float | None:
    return REGISTRY.get_sample_value(
        "outbox_waiting_for_standby", {"database": "default", "process": "relay"}
    )


def test_with_no_standby_the_relay_waits_says_so_and_publishes_nothing(broker: Connection) -> None:
    product_create(name="Apple", description="", price=Decimal("10"))
    stopping = threading.Event()
    outcome: list[BaseException | int] = []
    relay = Relay(ConfirmingPublisher(settings.CELERY_BROKER_URL), stopping=stopping.is_set)

    def run() -> None:
        try:
            outcome.append(relay.publish_pending())
        except BaseException as error:  # noqa: BLE001 - what the relay raised is the outcome
            outcome.append(error)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    try:
        wait_until(lambda: relay_waiting() == 1, timeout=10, what="the relay reports its wait")
        assert topology.queue_counts(broker.default_channel, INVENTORY_QUEUE)[0] == 0
    finally:
        stopping.set()
        thread.join(timeout=10)

    [raised] = outcome
    assert isinstance(raised, replication.StandbyWaitAbandoned)
    # Let go of, the batch still waits for a standby, and the gauge says so until one has it.
    assert relay_waiting() == 1
    assert OutboxEvent.objects.filter(published_at__isnull=True).count() == 1
    assert topology.queue_counts(broker.default_channel, INVENTORY_QUEUE)[0] == 0


def test_the_health_report_and_the_metrics_say_no_standby_is_connected(
    staff_client: APIClient,
) -> None:
    report = staff_client.get("/health").json()
    with override_settings(METRICS={**settings.METRICS, "TOKEN": "a-token"}):
        metrics = APIClient().get("/metrics", HTTP_AUTHORIZATION="Bearer a-token")

    assert report["standbys"] == {
        "ok": False,
        "default": {"connected": 0, "waiting": NO_STANDBY},
    }
    assert 'outbox_standbys{database="default"} 0.0' in metrics.content.decode()
