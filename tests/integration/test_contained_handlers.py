"""A handler's SystemExit, or any BaseException it raises, fails its event and nothing else
(the probe service's handler, called directly, on real PostgreSQL)."""

import json
from pathlib import Path

import pytest

from outbox.core.consumer import Outcome
from outbox.core.containment import HandlerAborted
from outbox.core.registry import get_service
from outbox.models import ProcessedEvent
from tests import probe
from tests.consuming import deliver
from tests.e2e.messages import cloudevent, lines

pytestmark = pytest.mark.django_db(transaction=True)


def probe_message(label: str) -> tuple[str, bytes]:
    document = cloudevent(probe.EVENT_TYPE, source=probe.SERVICE, data={"label": label})
    return document["id"], json.dumps(document).encode()


def test_a_handler_calling_sys_exit_raises_handler_aborted_and_leaves_no_record(
    probe_dir: Path,
) -> None:
    event_id, body = probe_message("exits")
    (probe_dir / f"{event_id}.exit").touch()

    [outcome] = deliver(get_service(probe.SERVICE), [body])

    assert isinstance(outcome, HandlerAborted)
    assert "handle_probe raised SystemExit(3)" in str(outcome)
    assert isinstance(outcome.__cause__, SystemExit)
    assert lines(probe_dir, event_id, "attempt") == 1
    assert not ProcessedEvent.objects.filter(event_id=event_id).exists()


def test_in_a_batch_the_exiting_handler_fails_alone_and_the_others_commit(
    probe_dir: Path,
) -> None:
    (first_id, first), (exiting_id, exiting), (last_id, last) = (
        probe_message(label) for label in ("first", "exits", "last")
    )
    (probe_dir / f"{exiting_id}.exit").touch()

    outcomes = deliver(get_service(probe.SERVICE), [first, exiting, last])

    assert outcomes[0] is Outcome.HANDLED and outcomes[2] is Outcome.HANDLED
    assert isinstance(outcomes[1], HandlerAborted)
    assert set(ProcessedEvent.objects.values_list("event_id", flat=True)) == {first_id, last_id}
    assert lines(probe_dir, exiting_id, "attempt") == 1
