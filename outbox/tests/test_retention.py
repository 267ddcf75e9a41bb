"""Old published outbox rows and processed-event records are purged; nothing else is."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from outbox.models import OutboxEvent, ProcessedEvent
from outbox.retention import purge_expired_records
from outbox.tests.rows import saved_outbox_event

pytestmark = pytest.mark.django_db


def outbox_event(*, published_days_ago: float | None) -> OutboxEvent:
    published_at = (
        None if published_days_ago is None else timezone.now() - timedelta(days=published_days_ago)
    )
    return saved_outbox_event(published_at=published_at)


def processed_event(*, days_ago: float) -> ProcessedEvent:
    record = ProcessedEvent.objects.create(
        consumer="things", event_id=uuid.uuid4().hex, event_type="ThingHappenedEvent"
    )
    ProcessedEvent.objects.filter(pk=record.pk).update(
        processed_at=timezone.now() - timedelta(days=days_ago)
    )
    return record


def test_only_rows_older_than_the_window_are_purged() -> None:
    old_published = outbox_event(published_days_ago=8)
    recent_published = outbox_event(published_days_ago=1)
    pending = outbox_event(published_days_ago=None)
    old_processed = processed_event(days_ago=8)
    recent_processed = processed_event(days_ago=1)

    purged = purge_expired_records(older_than=timedelta(days=7), using="default")

    assert purged == {"published_outbox_events": 1, "processed_events": 1}
    assert set(OutboxEvent.objects.values_list("pk", flat=True)) == {
        recent_published.pk,
        pending.pk,
    }
    assert list(ProcessedEvent.objects.values_list("pk", flat=True)) == [recent_processed.pk]
    assert not OutboxEvent.objects.filter(pk=old_published.pk).exists()
    assert not ProcessedEvent.objects.filter(pk=old_processed.pk).exists()


def test_purging_works_through_many_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("outbox.retention.DELETE_BATCH_SIZE", 3)
    for _ in range(10):
        outbox_event(published_days_ago=30)

    purged = purge_expired_records(older_than=timedelta(days=7), using="default")

    assert purged["published_outbox_events"] == 10
    assert not OutboxEvent.objects.exists()
