"""The operator's admin pages, logged in as staff: outbox, processed events, dead letters."""

import uuid

import pytest
from django.test import Client

from outbox.models import DeadLetter, OutboxEvent, ProcessedEvent
from outbox.tests.rows import saved_outbox_event

pytestmark = pytest.mark.django_db

OUTBOX = "/admin/outbox/outboxevent/"
DEAD_LETTERS = "/admin/outbox/deadletter/"


def outbox_event(*, published: bool = False, attempts: int = 0) -> OutboxEvent:
    event_id = uuid.uuid4()
    return saved_outbox_event(
        event_id=event_id,
        payload={"id": event_id.hex, "type": "ProductCreatedEvent", "data": {"name": "苹果"}},
        published_at="2026-01-01T00:00:00Z" if published else None,
        attempts=attempts,
        last_error="Connection refused" if attempts else "",
    )


def dead_letter(**fields: object) -> DeadLetter:
    return DeadLetter.objects.create(
        **{
            "message_key": f"inventory:{uuid.uuid4().hex}",
            "service": "inventory",
            "kind": DeadLetter.Kind.FAILED,
            "event_id": uuid.uuid4().hex,
            "event_type": "OrderCreatedEvent",
            "body": b'{"specversion": "1.0"}',
            "error_type": "InsufficientStock",
            "error_message": "only 1 remain",
            "attempts": 5,
            **fields,
        }
    )


def test_the_outbox_filters_by_state_and_searches_by_event_id(admin_client: Client) -> None:
    pending, failing, published = (
        outbox_event(),
        outbox_event(attempts=2),
        outbox_event(published=True),
    )

    pending_page = admin_client.get(OUTBOX, {"state": "pending"}).content.decode()
    failing_page = admin_client.get(OUTBOX, {"state": "failing"}).content.decode()
    search_page = admin_client.get(OUTBOX, {"q": published.event_id.hex}).content.decode()

    assert pending.aggregate_id in pending_page and failing.aggregate_id in pending_page
    assert published.aggregate_id not in pending_page
    assert failing.aggregate_id in failing_page and pending.aggregate_id not in failing_page
    assert published.aggregate_id in search_page and pending.aggregate_id not in search_page


def test_an_outbox_event_shows_its_payload_and_cannot_be_edited(admin_client: Client) -> None:
    event = outbox_event(attempts=1)

    page = admin_client.get(f"{OUTBOX}{event.pk}/change/")

    assert page.status_code == 200
    assert "苹果" in page.content.decode() and "Connection refused" in page.content.decode()
    assert admin_client.get(f"{OUTBOX}add/").status_code == 403
    admin_client.post(f"{OUTBOX}{event.pk}/change/", {"event_type": "Forged"})
    event.refresh_from_db()
    assert event.event_type == "ProductCreatedEvent"


def test_publish_now_publishes_pending_events(admin_client: Client, broker: object) -> None:
    event = outbox_event()

    response = admin_client.post(
        OUTBOX, {"action": "publish_now", "_selected_action": [event.pk]}, follow=True
    )

    assert "Published 1 pending events." in response.content.decode()
    event.refresh_from_db()
    assert event.published_at is not None


def test_processed_events_are_searchable_by_event_id(admin_client: Client) -> None:
    ProcessedEvent.objects.create(
        consumer="inventory", event_id="e-1", event_type="OrderCreatedEvent"
    )
    ProcessedEvent.objects.create(
        consumer="product", event_id="e-2", event_type="OrderCreatedEvent"
    )

    page = admin_client.get("/admin/outbox/processedevent/", {"q": "e-1"}).content.decode()

    assert "e-1" in page and "e-2" not in page


def test_dead_letters_show_the_error_and_filter_by_status(admin_client: Client) -> None:
    pending, discarded = dead_letter(), dead_letter(status=DeadLetter.Status.DISCARDED)

    listing = admin_client.get(DEAD_LETTERS, {"status__exact": "pending"}).content.decode()
    detail = admin_client.get(f"{DEAD_LETTERS}{pending.pk}/change/").content.decode()

    assert pending.event_id in listing and discarded.event_id not in listing
    assert "InsufficientStock" in detail and "only 1 remain" in detail
    assert "specversion" in detail


def test_discarding_asks_for_a_reason_and_keeps_it(admin_client: Client) -> None:
    record = dead_letter()
    selected = {"action": "discard", "_selected_action": [record.pk]}

    form = admin_client.post(DEAD_LETTERS, selected)
    assert form.status_code == 200 and "reason" in form.content.decode()
    record.refresh_from_db()
    assert record.status == DeadLetter.Status.PENDING

    admin_client.post(DEAD_LETTERS, {**selected, "reason": "order was cancelled by hand"})

    record.refresh_from_db()
    assert record.status == DeadLetter.Status.DISCARDED
    assert record.discard_reason == "order was cancelled by hand"
    assert record.resolved_at is not None
