"""The aggregate root: a model that records the events its commands raise."""

import dataclasses

from django.db import models

from outbox.core.events import DomainEvent


class StateConflict(Exception):
    """The aggregate refuses a command that its current state does not allow."""


class AggregateRoot(models.Model):
    """Base of every aggregate. Commands call `raise_event`; saving publishes what they raised.

    `version` counts the events the aggregate has raised; each event carries the version it
    produced, so that a consumer can drop a state-transfer event older than one it has applied.
    """

    version = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True

    def raise_event(self, event: DomainEvent) -> None:
        """Record an event that this aggregate raised; `outbox.core.store.save` emits it."""
        self.version += 1
        stamped = dataclasses.replace(
            event, aggregate_id=self.pk.hex, aggregate_version=self.version
        )
        self.pending_events.append(stamped)

    @property
    def pending_events(self) -> list[DomainEvent]:
        """Events raised since the aggregate was last saved."""
        if not hasattr(self, "_pending_events"):
            self._pending_events: list[DomainEvent] = []
        return self._pending_events

    def collect_events(self) -> list[DomainEvent]:
        """Hand over the pending events, leaving none behind."""
        events, self._pending_events = self.pending_events, []
        return events
