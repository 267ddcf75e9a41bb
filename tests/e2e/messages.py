"""Publishing hand-made messages onto the test broker, as another service or a bad actor would."""

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings

from harness.waiting import wait_until
from outbox.core import topology
from outbox.core.cloudevents import CONTENT_TYPE
from outbox.core.publisher import ConfirmingPublisher, OutgoingMessage
from tests import probe


def cloudevent(
    event_type: str, *, source: str, data: dict[str, Any], subject: str = "", version: int = 1
) -> dict[str, Any]:
    """A structured CloudEvent like the relay publishes."""
    return {
        "specversion": "1.0",
        "id": uuid.uuid4().hex,
        "type": event_type,
        "source": f"/{source}",
        "time": datetime.now(UTC).isoformat(),
        "subject": subject or uuid.uuid4().hex,
        "aggregatetype": event_type.removesuffix("Event"),
        "aggregateversion": version,
        "data": data,
    }


def publish(exchange: str, routing_key: str, body: bytes | dict[str, Any]) -> None:
    """Publish one persistent message and wait for the broker's confirm."""
    if isinstance(body, dict):
        body = json.dumps(body).encode()
    publish_all([OutgoingMessage(exchange, routing_key, body, {"content_type": CONTENT_TYPE})])


def publish_all(messages: list[OutgoingMessage]) -> None:
    """Publish persistent messages as one batch and wait for the broker's confirms."""
    publisher = ConfirmingPublisher(settings.CELERY_BROKER_URL)
    try:
        publisher.publish(messages)
    finally:
        publisher.close()


def event_message(document: dict[str, Any]) -> OutgoingMessage:
    """An event addressed to its source's publish exchange, as the relay would send it."""
    source = document["source"].removeprefix("/")
    body = json.dumps(document).encode()
    return OutgoingMessage(
        topology.publish_exchange(source), document["type"], body, {"content_type": CONTENT_TYPE}
    )


def publish_event(document: dict[str, Any]) -> None:
    """Publish an event to its source's publish exchange, as the relay would."""
    publish_all([event_message(document)])


def publish_probe(probe_dir: Path, *, failures: int = 0, label: str = "probe") -> str:
    """Publish a probe event whose handling fails `failures` times; return its id."""
    document = cloudevent(probe.EVENT_TYPE, source=probe.SERVICE, data={"label": label})
    (probe_dir / f"{document['id']}.fail").write_text(str(failures))
    publish_event(document)
    return document["id"]


def lines(probe_dir: Path, event_id: str, kind: str) -> int:
    """How many attempts or successful handlings the probe saw for an event."""
    path = probe_dir / f"{event_id}.{kind}"
    return len(path.read_text().splitlines()) if path.exists() else 0


def wait_for_probe_queue_to_drain(probe_dir: Path) -> None:
    """Publish a probe event and wait for it: everything queued before it was handled."""
    sentinel = publish_probe(probe_dir, label="sentinel")
    wait_until(lambda: lines(probe_dir, sentinel, "handled"), what="the probe queue drained")
