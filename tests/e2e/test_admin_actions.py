"""The admin's actions on a large selection run in the background, on a real worker of the
rows' service, on exactly the rows selected."""

import json
import uuid
from pathlib import Path

import pytest
from django.test import Client

from conftest import Processes
from harness.waiting import wait_until
from outbox.core.cloudevents import CONTENT_TYPE
from outbox.models import DeadLetter
from tests import probe
from tests.e2e.messages import cloudevent, lines

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DEAD_LETTERS = "/admin/outbox/deadletter/"


def probe_dead_letter(probe_dir: Path) -> DeadLetter:
    """A recorded dead letter of a probe event whose handling now succeeds."""
    document = cloudevent(probe.EVENT_TYPE, source=probe.SERVICE, data={"label": "dead"})
    return DeadLetter.objects.create(
        message_key=f"{probe.SERVICE}:{uuid.uuid4().hex}",
        service=probe.SERVICE,
        kind=DeadLetter.Kind.FAILED,
        event_id=document["id"],
        event_type=probe.EVENT_TYPE,
        routing_key=probe.EVENT_TYPE,
        body=json.dumps(document).encode(),
        properties={"content_type": CONTENT_TYPE, "type": probe.EVENT_TYPE},
    )


def status(record: DeadLetter) -> str:
    record.refresh_from_db()
    return record.status


def test_replaying_a_large_selection_runs_on_a_worker_of_the_service(
    processes: Processes, probe_dir: Path, admin_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("outbox.admin.BACKGROUND_THRESHOLD", 1)
    selected = [probe_dead_letter(probe_dir), probe_dead_letter(probe_dir)]
    unselected = probe_dead_letter(probe_dir)

    page = admin_client.post(
        DEAD_LETTERS,
        {"action": "replay", "_selected_action": [record.pk for record in selected]},
        follow=True,
    ).content.decode()

    assert "Replaying 2 dead letters in the background" in page
    for record in selected:
        wait_until(lambda record=record: lines(probe_dir, record.event_id, "handled") == 1)
        assert status(record) == DeadLetter.Status.REPLAYED
    assert status(unselected) == DeadLetter.Status.PENDING
    assert lines(probe_dir, unselected.event_id, "attempt") == 0
