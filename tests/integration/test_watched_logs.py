"""What a person watching the processes reads: the events handled, upkeep that found something,
and no line for upkeep that found nothing."""

import json
import logging
from decimal import Decimal

import pytest
from kombu import Connection

from outbox.core.registry import get_service
from outbox.models import OutboxEvent
from outbox.tasks import sweep_outbox
from products.services import product_create
from tests.consuming import deliver

pytestmark = pytest.mark.django_db


def test_the_sweep_says_what_it_published_and_nothing_when_it_found_nothing(
    broker: Connection, caplog: pytest.LogCaptureFixture
) -> None:
    product_create(name="Apple", description="", price=Decimal("10"))

    with caplog.at_level(logging.DEBUG, logger="outbox.tasks"):
        assert sweep_outbox(service="product") == 1
        assert sweep_outbox(service="product") == 0

    assert [record.getMessage() for record in caplog.records if record.name == "outbox.tasks"] == [
        "the sweep published 1 pending events of product"
    ]


@pytest.mark.parametrize("logger", ["celery.beat", "celery.worker.strategy", "celery.app.trace"])
def test_celery_tells_of_each_scheduled_received_and_finished_task_only_at_debug(
    logger: str,
) -> None:
    assert not logging.getLogger(logger).isEnabledFor(logging.INFO)


def test_a_worker_says_what_each_batch_handled(caplog: pytest.LogCaptureFixture) -> None:
    bodies = [
        json.dumps(OutboxEvent.objects.get(aggregate_id=product.id.hex).payload).encode()
        for product in (
            product_create(name=name, description="", price=Decimal("10"))
            for name in ("Apple", "Pear")
        )
    ]

    with caplog.at_level(logging.INFO, logger="outbox.core.consumer"):
        deliver(get_service("inventory"), [*bodies, bodies[0]])

    assert "inventory handled 2 ProductCreatedEvent" in caplog.messages
