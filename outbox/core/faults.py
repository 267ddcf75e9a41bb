"""Crash points: where a process kills itself, as a real crash would, when a test arms it.

The guarantees of the outbox rest on what a crash leaves behind at the worst moments. The
end-to-end tests (tests/e2e/test_crashes.py) start a real relay, worker or web process with

    OUTBOX_CRASH_AT=<point>                 the first time the point is reached
    OUTBOX_CRASH_AT=<point>:<EventType>     the first time it is reached with that event

and the process, on reaching the point, logs which point it reached and sends itself SIGKILL:
no exception handler, no rollback but the database's own, no acknowledgement.

The points, where each process reaches them and what a crash there leaves behind:

- `relay-after-publish` (`run_relay`): the broker confirmed a batch; its mark is written but
  not committed. The rows stay pending and are published again; consumers skip the copies.
- `worker-after-commit` (Celery worker): a batch's handling committed, its messages are not
  acknowledged. They are redelivered, found in the processed-event table and skipped.
- `save-after-commit` (any process that saves aggregates; the tests arm the web process): a
  transaction that saved events committed, and nothing after it ran: no after-commit listener,
  no response. The client sees its connection drop; the events are in the outbox and relayed.

The variable is read once, at import: an unarmed point costs one comparison. A misspelt point
stops the process at start (`ValueError`), rather than arming nothing.
"""

import dataclasses
import enum
import functools
import logging
import os
import signal
from collections.abc import Iterable

from django.db import transaction

logger = logging.getLogger(__name__)

CRASH_AT_VARIABLE = "OUTBOX_CRASH_AT"


class CrashPoint(enum.StrEnum):
    RELAY_AFTER_PUBLISH = "relay-after-publish"
    WORKER_AFTER_COMMIT = "worker-after-commit"
    SAVE_AFTER_COMMIT = "save-after-commit"


@dataclasses.dataclass(frozen=True)
class Armed:
    """The crash point a process is armed with, for any event or one type of event."""

    point: CrashPoint
    event_type: str | None = None

    @classmethod
    def parse(cls, value: str) -> "Armed | None":
        """`<point>` or `<point>:<EventType>`; None for an empty value."""
        if not value:
            return None
        point, _, event_type = value.partition(":")
        try:
            return cls(CrashPoint(point), event_type or None)
        except ValueError:
            known = ", ".join(CrashPoint)
            raise ValueError(
                f"{CRASH_AT_VARIABLE}: no crash point {point!r}; known: {known}"
            ) from None

    def matches(self, event_types: Iterable[str]) -> bool:
        return self.event_type is None or self.event_type in event_types


ARMED = Armed.parse(os.environ.get(CRASH_AT_VARIABLE, ""))


def crash_at(point: CrashPoint, event_types: Iterable[str]) -> None:
    """Kill this process if it is armed at `point` for one of `event_types` (or for any)."""
    if ARMED is None or ARMED.point is not point or not ARMED.matches(event_types):
        return
    logger.critical("crash point %s reached: process %d kills itself", point, os.getpid())
    os.kill(os.getpid(), signal.SIGKILL)


def crash_after_commit(point: CrashPoint, event_types: Iterable[str], *, using: str) -> None:
    """Kill this process as soon as the current transaction on `using` commits, if armed.

    Django's commit hooks run right after the commit, before the hooks of the transaction
    phases (`outbox.inprocess.listeners`' after-commit listeners) and before control returns to the
    code that committed.
    """
    if ARMED is None or ARMED.point is not point:
        return
    transaction.on_commit(functools.partial(crash_at, point, tuple(event_types)), using=using)
