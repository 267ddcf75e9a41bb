from collections.abc import Iterator

import pytest
from kombu import Connection

from outbox.registry import Service
from tests.event_contract import saved_events_keep_their_contract  # noqa: F401 - autouse
from tests.integration import scratch


@pytest.fixture
def scratch_service(broker: Connection) -> Iterator[Service]:
    """A service of its own on the test broker, deleted after the test whatever its type."""
    service = scratch.scratch_service()
    yield service
    scratch.delete(broker, service)
