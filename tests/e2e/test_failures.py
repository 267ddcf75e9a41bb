"""Retries, dead letters and replay, with real RabbitMQ and a real Celery worker."""

from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from conftest import TEST_DELIVERY_LIMIT, TEST_RETRY_DELAYS, Processes
from harness.waiting import wait_until
from outbox.core import topology
from outbox.core.publisher import ConfirmingPublisher
from outbox.models import DeadLetter, ProcessedEvent
from outbox.operations.replay import replay_message
from tests import probe
from tests.e2e.messages import (
    cloudevent,
    event_message,
    lines,
    publish,
    publish_all,
    publish_probe,
    wait_for_probe_queue_to_drain,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MAX_ATTEMPTS = len(TEST_RETRY_DELAYS) + 1
PROBE_QUEUE = topology.receive_queue(probe.SERVICE)


def dead_letter_of(event_id: str) -> DeadLetter | None:
    return DeadLetter.objects.filter(event_id=event_id).first()


def replay(*options: str) -> str:
    out = StringIO()
    call_command("replay_dead_letters", *options, stdout=out)
    return out.getvalue()


def test_a_handler_that_fails_twice_then_succeeds_is_handled_once(
    processes: object, probe_dir: Path
) -> None:
    event_id = publish_probe(probe_dir, failures=2)

    wait_until(lambda: lines(probe_dir, event_id, "handled"), what="handled after retries")

    assert lines(probe_dir, event_id, "attempt") == 3
    assert lines(probe_dir, event_id, "handled") == 1
    assert ProcessedEvent.objects.filter(consumer="probe", event_id=event_id).count() == 1
    wait_for_probe_queue_to_drain(probe_dir)
    assert dead_letter_of(event_id) is None


def test_a_handler_that_always_fails_is_dead_lettered_once_then_replayed(
    processes: object, probe_dir: Path
) -> None:
    event_id = publish_probe(probe_dir, failures=1000)

    record = wait_until(lambda: dead_letter_of(event_id), what="dead letter recorded")

    assert record.status == DeadLetter.Status.PENDING
    assert record.attempts == MAX_ATTEMPTS == lines(probe_dir, event_id, "attempt")
    assert record.error_type == "ProbeFailure"
    assert "asked to fail" in record.error_message
    assert "raise ProbeFailure" in record.error_traceback
    assert record.first_failed_at < record.last_failed_at
    assert record.properties["application_headers"]["x-consumer"] == "probe"
    assert DeadLetter.objects.filter(event_id=event_id).count() == 1

    (probe_dir / f"{event_id}.fail").write_text("0")  # the handler is fixed
    assert "Moved 1, skipped 0, failed 0." in replay("--event-id", event_id)

    wait_until(lambda: lines(probe_dir, event_id, "handled"), what="handled after replay")
    record.refresh_from_db()
    assert record.status == DeadLetter.Status.REPLAYED
    assert "Moved 0" in replay("--event-id", event_id)
    wait_for_probe_queue_to_drain(probe_dir)
    assert lines(probe_dir, event_id, "handled") == 1


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not JSON"),
        (cloudevent("ProbeTeleportedEvent", source="probe", data={}), "no handler for"),
        (cloudevent("ProbeEvent", source="probe", data={}), "data.label"),
    ],
    ids=["not-json", "unknown-type", "missing-field"],
)
def test_a_poison_message_is_dead_lettered_at_once_and_the_worker_goes_on(
    processes: object, probe_dir: Path, body: bytes | dict, reason: str
) -> None:
    before = DeadLetter.objects.filter(service="probe").count()

    publish("", PROBE_QUEUE, body)

    wait_until(
        lambda: DeadLetter.objects.filter(service="probe").count() == before + 1,
        what="poison message recorded",
    )
    record = DeadLetter.objects.filter(service="probe").order_by("-recorded_at").first()
    assert reason in record.error_message
    assert record.attempts == 1
    wait_for_probe_queue_to_drain(probe_dir)


def test_an_interrupted_replay_run_again_handles_each_message_once(
    processes: object, probe_dir: Path
) -> None:
    event_ids = [publish_probe(probe_dir, failures=1000) for _ in range(6)]
    records = [wait_until(lambda i=i: dead_letter_of(i), what="dead letter") for i in event_ids]
    for event_id in event_ids:
        (probe_dir / f"{event_id}.fail").write_text("0")

    # A replay that dies after the broker confirmed half the messages, before marking them.
    publisher = ConfirmingPublisher(processes.env["CELERY_BROKER_URL"])
    publisher.publish([replay_message(record) for record in records[:3]])
    publisher.close()

    assert "Moved 6, skipped 0, failed 0." in replay("--service", "probe")

    wait_for_probe_queue_to_drain(probe_dir)
    assert [lines(probe_dir, event_id, "handled") for event_id in event_ids] == [1] * 6
    assert ProcessedEvent.objects.filter(event_id__in=event_ids).count() == 6


def test_the_admin_replays_a_dead_letter(
    processes: object, probe_dir: Path, admin_client: object
) -> None:
    event_id = publish_probe(probe_dir, failures=1000)
    record = wait_until(lambda: dead_letter_of(event_id), what="dead letter recorded")
    (probe_dir / f"{event_id}.fail").write_text("0")

    response = admin_client.post(
        "/admin/outbox/deadletter/",
        {"action": "replay", "_selected_action": [record.pk]},
        follow=True,
    )

    assert "Replayed 1, skipped 0 (not pending), failed 0." in response.content.decode()
    wait_until(lambda: lines(probe_dir, event_id, "handled"), what="handled after replay")


@pytest.mark.skipif(
    settings.OUTBOX["QUEUE_TYPE"] != "quorum", reason="only quorum queues have a delivery limit"
)
def test_a_message_that_kills_its_worker_every_time_ends_as_a_dead_letter(
    processes: Processes, probe_dir: Path
) -> None:
    """The receive queue's delivery limit is the backstop: RabbitMQ dead-letters a message
    whose handling kills the worker process, while the messages that came with it, given
    back with it at every death, are handled."""
    documents = [
        cloudevent(probe.EVENT_TYPE, source=probe.SERVICE, data={"label": f"together {n}"})
        for n in range(5)
    ]
    poison = documents[2]["id"]
    others = [document["id"] for document in documents if document["id"] != poison]
    (probe_dir / f"{poison}.crash").touch()

    publish_all([event_message(document) for document in documents])

    def dead_lettered() -> DeadLetter | None:
        if processes.running["worker"].poll() is not None:
            processes.start_worker(wait=False)
        return dead_letter_of(poison)

    record = wait_until(dead_lettered, timeout=180, what="the poison message dead-lettered")
    assert record.error_type == "DeliveryLimitReached"
    assert record.error_message.startswith(f"Delivery limit reached: {PROBE_QUEUE} delivered")
    assert lines(probe_dir, poison, "attempt") == TEST_DELIVERY_LIMIT + 1
    processes.wait_for_consumers()
    wait_until(
        lambda: ProcessedEvent.objects.filter(consumer="probe", event_id__in=others).count() == 4,
        what="the other messages handled",
    )
    assert not DeadLetter.objects.filter(event_id__in=others).exists()

    (probe_dir / f"{poison}.crash").unlink()  # the cause is fixed
    assert "Moved 1, skipped 0, failed 0." in replay("--event-id", poison)
    wait_until(lambda: lines(probe_dir, poison, "handled"), what="handled after replay")
