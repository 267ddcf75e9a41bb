"""The health endpoint and command report database, broker, backlog and dead letters."""

from collections.abc import Iterator
from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.test import override_settings
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from outbox.models import DeadLetter
from outbox.operations.health import HEALTHY_CACHE_KEY
from outbox.tests.rows import saved_outbox_event

pytestmark = pytest.mark.django_db
UNREACHABLE_BROKER = "amqp://nobody:unreachable@127.0.0.1:1//"


@pytest.fixture(autouse=True)
def no_cached_answer() -> Iterator[None]:
    """Each test's anonymous answer is its own look, not one an earlier test left cached."""
    cache.delete(HEALTHY_CACHE_KEY)
    yield
    cache.delete(HEALTHY_CACHE_KEY)


@pytest.mark.events_written_by_hand
def test_a_healthy_system_reports_its_backlog_and_dead_letters_to_staff(
    broker: object, staff_client: APIClient
) -> None:
    saved_outbox_event()
    DeadLetter.objects.create(
        message_key="inventory:e1", service="inventory", kind=DeadLetter.Kind.FAILED, body=b"{}"
    )

    response = staff_client.get("/health")

    assert response.status_code == 200
    report = response.json()
    assert report["healthy"] is True
    assert report["database"]["ok"] and report["broker"]["ok"]
    assert report["outbox"]["pending"] == 1
    assert report["outbox"]["oldestPendingAgeSeconds"] >= 0
    assert report["deadLetters"]["inventory"]["pending"] == 1


def test_anyone_else_is_told_only_up_or_down(broker: object, customer_client: APIClient) -> None:
    anonymous = APIClient().get("/health")
    customer = customer_client.get("/health")

    assert anonymous.status_code == customer.status_code == 200
    assert anonymous.json() == customer.json() == {"healthy": True}


@override_settings(CELERY_BROKER_URL=UNREACHABLE_BROKER)
def test_an_unreachable_broker_makes_it_unhealthy(staff_client: APIClient) -> None:
    response = staff_client.get("/health")
    anonymous = APIClient().get("/health")

    assert response.status_code == anonymous.status_code == 503
    assert response.json()["broker"]["ok"] is False
    assert response.json()["database"]["ok"] is True
    assert anonymous.json() == {"healthy": False}


def test_anyone_but_staff_is_answered_from_a_short_cache_and_staff_afresh(
    broker: object, customer_client: APIClient, staff_client: APIClient
) -> None:
    first = APIClient().get("/health")

    with override_settings(CELERY_BROKER_URL=UNREACHABLE_BROKER):
        anonymous = APIClient().get("/health")
        customer = customer_client.get("/health")
        staff = staff_client.get("/health")
        cache.delete(HEALTHY_CACHE_KEY)  # as when HEALTH_CACHE_SECONDS have passed
        anonymous_later = APIClient().get("/health")

    assert first.status_code == anonymous.status_code == customer.status_code == 200
    assert staff.status_code == anonymous_later.status_code == 503
    assert anonymous_later.json() == {"healthy": False}


def test_without_a_cache_every_anonymous_request_looks_afresh(
    broker: object, settings: Settings
) -> None:
    settings.OUTBOX = {**settings.OUTBOX, "HEALTH_CACHE_SECONDS": 0}
    up = APIClient().get("/health")

    settings.CELERY_BROKER_URL = UNREACHABLE_BROKER
    down = APIClient().get("/health")

    assert (up.status_code, down.status_code) == (200, 503)


def test_the_command_prints_the_report(broker: object) -> None:
    out = StringIO()

    call_command("health", stdout=out)

    assert '"healthy": true' in out.getvalue()


@override_settings(CELERY_BROKER_URL=UNREACHABLE_BROKER)
def test_the_command_fails_when_unhealthy() -> None:
    with pytest.raises(CommandError, match="Unhealthy"):
        call_command("health", stdout=StringIO())
