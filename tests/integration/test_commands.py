"""The operator's management commands, against real PostgreSQL and RabbitMQ."""

import uuid
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from outbox.models import DeadLetter, OutboxEvent
from products.services import product_create

pytestmark = pytest.mark.django_db


def run(command: str, *options: str) -> str:
    out = StringIO()
    call_command(command, *options, stdout=out, stderr=StringIO())
    return out.getvalue()


def dead_letter(event_type: str = "OrderCreatedEvent", service: str = "inventory") -> DeadLetter:
    event_id = uuid.uuid4().hex
    return DeadLetter.objects.create(
        message_key=f"{service}:{event_id}",
        service=service,
        kind=DeadLetter.Kind.FAILED,
        event_id=event_id,
        event_type=event_type,
        routing_key=event_type,
        body=b'{"specversion": "1.0"}',
        properties={"content_type": "application/cloudevents+json"},
        error_type="InsufficientStock",
        error_message="only 1 remain",
    )


def test_a_dry_run_lists_what_would_move_and_moves_nothing(broker: object) -> None:
    first, second = dead_letter(), dead_letter()

    output = run("replay_dead_letters", "--dry-run")

    assert first.event_id in output and second.event_id in output
    assert "Would move 2 to the receive queues." in output
    assert DeadLetter.objects.filter(status=DeadLetter.Status.PENDING).count() == 2


def test_filters_and_limit_choose_what_moves(broker: object) -> None:
    created = [dead_letter(), dead_letter(), dead_letter()]
    other_type = dead_letter(event_type="ProductCreatedEvent")
    other_service = dead_letter(service="order")

    output = run(
        "replay_dead_letters", "--service", "inventory", "--event-type", "OrderCreatedEvent",
        "--limit", "2",
    )  # fmt: skip

    assert "Moved 2, skipped 0, failed 0." in output
    replayed = set(DeadLetter.objects.filter(status="replayed").values_list("pk", flat=True))
    assert replayed == {created[0].pk, created[1].pk}
    assert run("replay_dead_letters", "--event-id", other_type.event_id).startswith("Moved 1")
    other_service.refresh_from_db()
    assert other_service.status == DeadLetter.Status.PENDING


def test_sweep_outbox_publishes_what_is_pending_and_counts_it(broker: object) -> None:
    product_create(name="Apple", description="", price=Decimal("10"))

    assert "Published 1 events of default." in run("sweep_outbox")
    assert not OutboxEvent.objects.filter(published_at=None).exists()
    assert "Published 0 events of default." in run("sweep_outbox")
