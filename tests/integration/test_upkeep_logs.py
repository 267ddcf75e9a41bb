"""What a person watching the processes reads: upkeep that found something, and no line for
upkeep that found nothing."""

import logging
from decimal import Decimal

import pytest

from outbox.tasks import sweep_outbox
from products.services import product_create

pytestmark = pytest.mark.django_db


def test_the_sweep_says_what_it_published_and_nothing_when_it_found_nothing(
    broker: object, caplog: pytest.LogCaptureFixture
) -> None:
    product_create(name="Apple", description="", price=Decimal("10"))

    with caplog.at_level(logging.DEBUG, logger="outbox.tasks"):
        assert sweep_outbox(service="product") == 1
        assert sweep_outbox(service="product") == 0

    assert [record.getMessage() for record in caplog.records if record.name == "outbox.tasks"] == [
        "the sweep published 1 events of product that the relay had left"
    ]


@pytest.mark.parametrize("logger", ["celery.beat", "celery.worker.strategy", "celery.app.trace"])
def test_celery_tells_of_each_scheduled_received_and_finished_task_only_at_debug(
    logger: str,
) -> None:
    assert not logging.getLogger(logger).isEnabledFor(logging.INFO)
