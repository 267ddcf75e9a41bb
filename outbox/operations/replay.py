"""Replaying and discarding dead letters, as the admin and `manage.py replay_dead_letters` do.

Replaying publishes a record's message back with confirms, then marks it replayed; a crash in
between only sends it twice, and the processed-event table absorbs the copy. Failed messages
go back to their service's recover exchange, unroutable ones to the publish exchange they
missed.
"""

import dataclasses
from collections.abc import Callable, Iterator

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from outbox.core import failures, topology
from outbox.core.publisher import ConfirmingPublisher, OutgoingMessage, PublishFailed
from outbox.core.senders import SENDER_HEADER, sender_of
from outbox.models import DeadLetter

REPLAY_BATCH_SIZE = 100


@dataclasses.dataclass
class ReplaySummary:
    moved: int = 0
    skipped: int = 0
    failed: int = 0
    errors: list[str] = dataclasses.field(default_factory=list)


def dead_letter_replay(
    dead_letters: QuerySet[DeadLetter],
    publisher: ConfirmingPublisher,
    *,
    # Whatever it returns is ignored (tqdm's `update` returns whether it redrew).
    on_progress: Callable[[int], object] = lambda moved: None,
) -> ReplaySummary:
    """Send pending dead letters back where they can be handled: failed ones to their
    service's recover exchange, unroutable ones to the publish exchange they missed."""
    summary = ReplaySummary()
    database = dead_letters.db
    ids = list(dead_letters.filter(status=DeadLetter.Status.PENDING).values_list("pk", flat=True))
    summary.skipped = dead_letters.count() - len(ids)
    for batch in _chunks(ids, REPLAY_BATCH_SIZE):
        with transaction.atomic(using=database):
            locked = list(
                DeadLetter.objects.using(database)
                .select_for_update(skip_locked=True)
                .filter(pk__in=batch, status=DeadLetter.Status.PENDING)
                .order_by("pk")
            )
            summary.skipped += len(batch) - len(locked)
            try:
                publisher.publish([replay_message(record) for record in locked])
            except PublishFailed as error:
                summary.failed += len(locked)
                summary.errors.append(str(error))
                continue
            DeadLetter.objects.using(database).filter(pk__in=[r.pk for r in locked]).update(
                status=DeadLetter.Status.REPLAYED, resolved_at=timezone.now()
            )
        summary.moved += len(locked)
        on_progress(len(locked))
    return summary


def dead_letter_discard(dead_letters: QuerySet[DeadLetter], *, reason: str) -> int:
    """Give up on pending dead letters, keeping the record and why; return how many."""
    return dead_letters.filter(status=DeadLetter.Status.PENDING).update(
        status=DeadLetter.Status.DISCARDED, discard_reason=reason, resolved_at=timezone.now()
    )


def replay_message(record: DeadLetter) -> OutgoingMessage:
    """The recorded message, addressed to where it can be handled, with a fresh attempt count."""
    properties = dict(record.properties)
    headers = failures.without_failure_headers(properties.get("application_headers"))
    # The replay is signed by the replaying process's user: it names who sent the original,
    # as a retry does, so that a dead letter the broker itself moved is not taken as forged. A
    # record made before messages were signed knows no sender: the replaying operator vouches.
    if "user_id" in properties:
        headers[SENDER_HEADER] = sender_of(properties, headers, record.service) or ""
    properties["application_headers"] = headers
    if record.kind == DeadLetter.Kind.UNROUTABLE:
        exchange = topology.publish_exchange(record.service)
    else:
        exchange = topology.receive_recover_exchange(record.service)
    return OutgoingMessage(
        exchange=exchange,
        routing_key=record.routing_key,
        body=bytes(record.body),
        properties=properties,
    )


def _chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
