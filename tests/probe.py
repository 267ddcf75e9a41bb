"""A `probe` service for end-to-end tests: its handler fails as often as a test asks.

The probe's state lives in files under $PROBE_DIR, outside any database transaction, so a
test can see every attempt, including the ones whose transaction rolled back:

    <event id>.fail     how many more attempts must fail (the test writes it)
    <event id>.crash    present: every attempt kills the worker process (the test writes it)
    <event id>.exit     present: every attempt calls sys.exit(), as a broken handler might
    <event id>.attempt  one line per attempt
    <event id>.handled  one line per successful handling

The probe service also has an asynchronous listener, registered here so that the test process
and the test worker both know it by name.
"""

import dataclasses
import os
import sys
from pathlib import Path
from typing import ClassVar

from outbox.core.cloudevents import ReceivedEvent
from outbox.core.events import DomainEvent
from outbox.core.registry import Subscription, register_service
from outbox.inprocess import listeners

SERVICE = "probe"
EVENT_TYPE = "ProbeEvent"
CRASH_EXIT_CODE = 70
HANDLER_EXIT_CODE = 3


class ProbeFailure(Exception):
    """The failure a test asked for."""


def probe_dir() -> Path:
    return Path(os.environ["PROBE_DIR"])


def handle_probe(event: ReceivedEvent) -> None:
    """Kill the process or fail while the event asks for it, then count a success."""
    event.field("label", str)
    directory = probe_dir()
    with open(directory / f"{event.id}.attempt", "a") as attempts:
        attempts.write("attempt\n")
    if (directory / f"{event.id}.crash").exists():
        # No exception handler, no cleanup, no acknowledgement: as a segfault or a kill would.
        os._exit(CRASH_EXIT_CODE)
    if (directory / f"{event.id}.exit").exists():
        sys.exit(HANDLER_EXIT_CODE)
    budget = directory / f"{event.id}.fail"
    remaining = int(budget.read_text()) if budget.exists() else 0
    if remaining > 0:
        budget.write_text(str(remaining - 1))
        raise ProbeFailure(f"asked to fail {remaining} more times")
    with open(directory / f"{event.id}.handled", "a") as handled:
        handled.write("handled\n")


register_service(SERVICE, {Subscription(SERVICE, EVENT_TYPE): handle_probe})


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProbeNoted(DomainEvent):
    """An event of the probe service that only its asynchronous listener hears."""

    # Asynchronous listeners run in a worker of the event's service: the test worker's.
    service: ClassVar[str] = SERVICE
    aggregate_type: ClassVar[str] = "Note"

    title: str


@listeners.listen(ProbeNoted, asynchronous=True)
def record_in_worker(event: ReceivedEvent) -> None:
    """Note what the worker received, and whether the publishing transaction had committed."""
    # The worker imports this module before Django's apps are ready: the model comes later.
    from outbox.models import ProcessedEvent

    caller_committed = ProcessedEvent.objects.filter(consumer="caller", event_id=event.id).exists()
    ProcessedEvent.objects.create(
        consumer="worker",
        event_id=event.id,
        event_type=f"{type(event).__name__} {event.type} {event.field('title', str)!r} "
        f"caller committed: {caller_committed}",
    )
