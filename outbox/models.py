"""The outbox (events waiting to be published) and the inbox (events already handled)."""

from django.db import models
from django.db.models import Q


class OutboxEvent(models.Model):
    """An event saved in its aggregate's transaction, waiting for the relay to publish it.

    The row is the CloudEvent as it will go on the wire, plus what the relay needs to route,
    order and account for it. `id` gives the publishing order.
    """

    id = models.BigAutoField(primary_key=True)
    event_id = models.UUIDField(unique=True)
    event_type = models.CharField(max_length=200)
    service = models.CharField(max_length=100, help_text="The service whose exchange gets it.")
    aggregate_type = models.CharField(max_length=100)
    aggregate_id = models.CharField(max_length=100)
    aggregate_version = models.PositiveIntegerField()
    payload = models.JSONField(help_text="The structured CloudEvent, exactly as published.")
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0, help_text="Failed publish attempts.")
    last_error = models.TextField(blank=True)

    class Meta:
        verbose_name = "outbox event"
        indexes = [
            # The relay reads only pending rows: published ones never slow it down.
            models.Index(
                fields=["id"], condition=Q(published_at__isnull=True), name="outbox_pending"
            ),
            # Finds an earlier pending event of the same aggregate, to keep per-aggregate order.
            models.Index(
                fields=["aggregate_type", "aggregate_id", "id"],
                condition=Q(published_at__isnull=True),
                name="outbox_pending_by_aggregate",
            ),
            models.Index(fields=["aggregate_type", "aggregate_id"], name="outbox_aggregate"),
            models.Index(fields=["published_at"], name="outbox_published_at"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"

    @property
    def is_pending(self) -> bool:
        return self.published_at is None


class ProcessedEvent(models.Model):
    """An event that a consumer has handled: the key that makes redelivery harmless."""

    consumer = models.CharField(max_length=100)
    event_id = models.CharField(max_length=255)
    event_type = models.CharField(max_length=200)
    processed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "processed event"
        constraints = [
            models.UniqueConstraint(fields=["consumer", "event_id"], name="processed_once")
        ]
        indexes = [models.Index(fields=["processed_at"], name="processed_at")]

    def __str__(self) -> str:
        return f"{self.consumer}: {self.event_type} {self.event_id}"


class DeadLetter(models.Model):
    """A message that could not be delivered or handled, recorded from a dead-letter queue.

    The dead-letter queues are drained into this table by the workers, so that what the admin
    shows and what replay moves are the same records. Replay publishes the stored message to
    the service's recover exchange; discarding keeps the record and the reason.
    """

    class Kind(models.TextChoices):
        FAILED = "failed", "handling failed"
        UNROUTABLE = "unroutable", "unroutable"

    class Status(models.TextChoices):
        PENDING = "pending"
        REPLAYED = "replayed"
        DISCARDED = "discarded"

    message_key = models.CharField(
        max_length=255, unique=True, help_text="Identifies one dead-lettering of one message."
    )
    service = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, choices=Kind)
    status = models.CharField(max_length=20, choices=Status, default=Status.PENDING)
    event_id = models.CharField(max_length=255, blank=True)
    event_type = models.CharField(max_length=200, blank=True)
    routing_key = models.CharField(max_length=255, blank=True)
    body = models.BinaryField()
    properties = models.JSONField(default=dict, help_text="AMQP properties and headers.")
    error_type = models.CharField(max_length=200, blank=True)
    error_message = models.TextField(blank=True)
    error_traceback = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    first_failed_at = models.DateTimeField(null=True, blank=True)
    last_failed_at = models.DateTimeField(null=True, blank=True)
    recorded_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    discard_reason = models.TextField(blank=True)

    class Meta:
        verbose_name = "dead letter"
        ordering = ["-recorded_at"]
        indexes = [
            models.Index(fields=["service", "status"], name="dead_letter_service_status"),
            models.Index(fields=["event_id"], name="dead_letter_event"),
        ]

    def __str__(self) -> str:
        return f"{self.service}: {self.event_type or 'unreadable message'} {self.event_id}"


class AuditRecord(models.Model):
    """What happened to an aggregate, written by in-process listeners after the transaction.

    A committed event is recorded after the commit, in a transaction of its own; an event whose
    transaction rolled back is recorded too, as the trace of a command that failed.
    """

    class Outcome(models.TextChoices):
        COMMITTED = "committed"
        ROLLED_BACK = "rolled back"

    event_id = models.UUIDField()
    event_type = models.CharField(max_length=200)
    aggregate_type = models.CharField(max_length=100)
    aggregate_id = models.CharField(max_length=100)
    aggregate_version = models.PositiveIntegerField()
    data = models.JSONField()
    outcome = models.CharField(max_length=20, choices=Outcome)
    occurred_at = models.DateTimeField()
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "audit record"
        ordering = ["-recorded_at"]
        indexes = [
            models.Index(fields=["aggregate_type", "aggregate_id"], name="audit_aggregate"),
            models.Index(fields=["event_id"], name="audit_event"),
            # Retention deletes by age (outbox.operations.retention).
            models.Index(fields=["recorded_at"], name="audit_recorded_at"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.outcome}"
