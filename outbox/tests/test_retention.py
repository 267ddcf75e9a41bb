"""Old published outbox rows, processed-event records, audit records and resolved dead letters
are purged, each after its own window; nothing else is."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from outbox.models import AuditRecord, DeadLetter, OutboxEvent, ProcessedEvent
from outbox.operations.retention import purge_expired_records
from outbox.tests.rows import saved_outbox_event

pytestmark = pytest.mark.django_db

WEEK = timedelta(days=7)
MONTH = timedelta(days=30)


def purge(**windows: timedelta) -> dict[str, int]:
    """Purge the test database with a week for outbox and inbox, a month for the others."""
    return purge_expired_records(
        **{
            "older_than": WEEK,
            "audit_older_than": MONTH,
            "resolved_dead_letters_older_than": MONTH,
            **windows,
        },
        using="default",
    )


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

    purged = purge()

    assert purged == {
        "published_outbox_events": 1,
        "processed_events": 1,
        "audit_records": 0,
        "resolved_dead_letters": 0,
    }
    assert set(OutboxEvent.objects.values_list("pk", flat=True)) == {
        recent_published.pk,
        pending.pk,
    }
    assert list(ProcessedEvent.objects.values_list("pk", flat=True)) == [recent_processed.pk]
    assert not OutboxEvent.objects.filter(pk=old_published.pk).exists()
    assert not ProcessedEvent.objects.filter(pk=old_processed.pk).exists()


def test_purging_works_through_many_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("outbox.operations.retention.DELETE_BATCH_SIZE", 3)
    for _ in range(10):
        outbox_event(published_days_ago=30)

    purged = purge()

    assert purged["published_outbox_events"] == 10
    assert not OutboxEvent.objects.exists()


def audit_record(*, days_ago: float) -> AuditRecord:
    record = AuditRecord.objects.create(
        event_id=uuid.uuid4(),
        event_type="ThingHappenedEvent",
        aggregate_type="Thing",
        aggregate_id=uuid.uuid4().hex,
        aggregate_version=1,
        data={},
        outcome=AuditRecord.Outcome.COMMITTED,
        occurred_at=timezone.now(),
    )
    AuditRecord.objects.filter(pk=record.pk).update(
        recorded_at=timezone.now() - timedelta(days=days_ago)
    )
    return record


def dead_letter(status: DeadLetter.Status, *, days_ago: float) -> DeadLetter:
    """A dead letter recorded `days_ago`, and resolved then unless it is pending."""
    then = timezone.now() - timedelta(days=days_ago)
    record = DeadLetter.objects.create(
        message_key=uuid.uuid4().hex,
        service="things",
        kind=DeadLetter.Kind.FAILED,
        status=status,
        body=b"{}",
        resolved_at=None if status == DeadLetter.Status.PENDING else then,
    )
    DeadLetter.objects.filter(pk=record.pk).update(recorded_at=then)
    return record


def test_audit_records_are_kept_for_their_own_window() -> None:
    audit_record(days_ago=31)
    recent = audit_record(days_ago=8)

    purged = purge()

    assert purged["audit_records"] == 1
    assert list(AuditRecord.objects.values_list("pk", flat=True)) == [recent.pk]


def test_resolved_dead_letters_go_after_their_window_and_pending_ones_never() -> None:
    dead_letter(DeadLetter.Status.REPLAYED, days_ago=31)
    dead_letter(DeadLetter.Status.DISCARDED, days_ago=31)
    recently_replayed = dead_letter(DeadLetter.Status.REPLAYED, days_ago=2)
    old_pending = dead_letter(DeadLetter.Status.PENDING, days_ago=365)

    purged = purge()

    assert purged["resolved_dead_letters"] == 2
    assert set(DeadLetter.objects.values_list("pk", flat=True)) == {
        recently_replayed.pk,
        old_pending.pk,
    }


def test_each_window_is_its_own() -> None:
    audit_record(days_ago=3)
    dead_letter(DeadLetter.Status.DISCARDED, days_ago=3)
    outbox_event(published_days_ago=3)

    purged = purge(audit_older_than=timedelta(days=1))

    assert purged == {
        "published_outbox_events": 0,
        "processed_events": 0,
        "audit_records": 1,
        "resolved_dead_letters": 0,
    }
