"""Arming a crash point from the environment's value."""

import pytest

from outbox.core.faults import Armed, CrashPoint


def test_nothing_is_armed_without_a_value() -> None:
    assert Armed.parse("") is None


def test_a_point_alone_is_armed_for_every_event() -> None:
    armed = Armed.parse("relay-after-publish")

    assert armed == Armed(CrashPoint.RELAY_AFTER_PUBLISH)
    assert armed.matches(["ProductCreatedEvent"])
    assert armed.matches([])


def test_a_point_with_an_event_type_is_armed_for_that_type_only() -> None:
    armed = Armed.parse("worker-after-commit:OrderCreatedEvent")

    assert armed == Armed(CrashPoint.WORKER_AFTER_COMMIT, "OrderCreatedEvent")
    assert armed.matches(iter(["ProductCreatedEvent", "OrderCreatedEvent"]))
    assert not armed.matches(["OrderPaidEvent"])


def test_a_misspelt_point_is_refused() -> None:
    with pytest.raises(ValueError, match="relay-after-publsh"):
        Armed.parse("relay-after-publsh")
