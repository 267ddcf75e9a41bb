"""A committed event leaves at once: the relay process is woken, not left to its sweep."""

import os
from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.conf import settings
from kombu import Connection

from conftest import EVERY_PROCESSES, Processes, database_url
from harness.waiting import wait_until
from outbox.models import OutboxEvent
from products.services import product_create

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# The relay's sweep comes after an hour: far later than any wait below, so a row published
# within a wait was published because its commit woke the relay.
SWEEP_SECONDS = 3600
WAIT_SECONDS = 60


@pytest.fixture
def lone_relay(broker: Connection) -> Iterator[None]:
    """A relay process that only a wake-up moves before its sweep, alone on the test
    database: the session's relay, if running, is stopped meanwhile and started again."""
    stopped = [others for others in EVERY_PROCESSES if "relay" in others.running]
    for others in stopped:
        others.stop("relay")
    relay = Processes(
        {
            **os.environ,
            "DATABASE_URL": database_url(settings.DATABASES["default"]),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "OUTBOX_RELAY_IDLE_SECONDS": str(SWEEP_SECONDS),
        }
    )
    try:
        relay.start_relay("relay-woken")
        yield
    finally:
        relay.stop_all()
        for others in stopped:
            others.start_relay()


def created_product(name: str) -> str:
    """A product created as the API creates one: its event saved with it and committed."""
    return product_create(name=name, description="", price=Decimal("10")).id.hex


def published(product_id: str) -> bool:
    return OutboxEvent.objects.filter(aggregate_id=product_id, published_at__isnull=False).exists()


def test_a_committed_event_is_published_without_waiting_for_the_sweep(lone_relay: None) -> None:
    # Published by the relay's first drain or by a wake-up: either way the relay listens now
    # (it listens before it first drains).
    first = created_product("first")
    wait_until(lambda: published(first), timeout=WAIT_SECONDS, what="the first event published")

    second = created_product("second")

    wait_until(lambda: published(second), timeout=WAIT_SECONDS, what="a woken relay")
    assert not OutboxEvent.objects.filter(published_at__isnull=True).exists()
