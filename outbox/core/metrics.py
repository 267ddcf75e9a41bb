"""The messaging's Prometheus metrics, each defined once here.

Counters and histograms are counted where the work happens: the relay per batch it publishes
(`outbox.core.relay`), the consumer per batch it handles (`outbox.core.consumer`), the failure
router per message it retries or dead-letters (`outbox.core.failures`), the worker per dead
letter it records. Each process serves its own: the relay and the worker on a port of their own
(`serve`), the web processes on `/metrics` (`outbox.views.MetricsView`, gunicorn's workers
added up by prometheus-client's multiprocess mode). What is a query (outbox backlog, dead
letters pending, queue depths) is read only when `/metrics` is scraped
(`outbox.operations.gauges`).

With METRICS_ENABLED=false nothing is timed or counted and no port is opened.
"""

import logging
import time
from collections import Counter as Tally
from collections.abc import Iterable

from django.conf import settings
from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.exposition import start_http_server

from outbox.core.cloudevents import MalformedEvent, parse_cloudevent

logger = logging.getLogger(__name__)

# Relay batches take milliseconds when the broker is near, seconds when a confirm is slow.
BATCH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
HANDLER_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
UNKNOWN_EVENT_TYPE = "unreadable"

EVENTS_PUBLISHED = Counter(
    "outbox_events_published_total",
    "Outbox events the relay published and the broker confirmed, by publishing service.",
    ["service"],
)
EVENTS_PUBLISH_FAILED = Counter(
    "outbox_events_publish_failed_total",
    "Outbox events in batches the broker did not take (they stay pending), by service.",
    ["service"],
)
PUBLISH_BATCH_DURATION = Histogram(
    "outbox_publish_batch_duration_seconds",
    "One relay batch, from claiming its rows to their commit as published, by database.",
    ["database"],
    buckets=BATCH_BUCKETS,
)
EVENTS_HANDLED = Counter(
    "outbox_events_handled_total",
    "Received events by consumer, event type and outcome: handled (committed), duplicate "
    "(handled before, skipped) or failed (the handler or the message raised).",
    ["consumer", "event_type", "outcome"],
)
HANDLER_DURATION = Histogram(
    "outbox_handler_duration_seconds",
    "A consumer's handler running for one event that it handled, by consumer and event type.",
    ["consumer", "event_type"],
    buckets=HANDLER_BUCKETS,
)
CONSUMER_BATCH_DURATION = Histogram(
    "outbox_consumer_batch_duration_seconds",
    "One batch of received events in its transaction, commit included, by consumer.",
    ["consumer"],
    buckets=BATCH_BUCKETS,
)
EVENTS_RETRIED = Counter(
    "outbox_events_retried_total",
    "Failed events sent to a retry queue, by consumer and event type.",
    ["consumer", "event_type"],
)
EVENTS_DEAD_LETTERED = Counter(
    "outbox_events_dead_lettered_total",
    "Failed events a worker sent to the dead-letter queue, by consumer and event type.",
    ["consumer", "event_type"],
)
EVENTS_FORGED = Counter(
    "outbox_events_forged_total",
    "Events refused because their broker user is not their source's, by consumer and sender.",
    ["consumer", "sender"],
)
DEAD_LETTERS_RECORDED = Counter(
    "outbox_dead_letters_recorded_total",
    "Messages taken from a dead-letter queue into the dead-letter table, by service and kind.",
    ["service", "kind"],
)
STANDBY_WAIT_DURATION = Histogram(
    "outbox_standby_wait_seconds",
    "A batch waiting for a standby to flush its WAL before it is published (relay) or "
    "acknowledged (worker), with OUTBOX_WAIT_FOR_STANDBY on; by database and process.",
    ["database", "process"],
    buckets=BATCH_BUCKETS,
)
WAITING_FOR_STANDBY = Gauge(
    "outbox_waiting_for_standby",
    "1 while a batch has waited over a second for a standby (none connected, or all behind), "
    "by database and process.",
    ["database", "process"],
    multiprocess_mode="livemax",
)


def enabled() -> bool:
    return settings.METRICS["ENABLED"]


def serve(port: int | None, process: str) -> None:
    """Serve this process's metrics on `port` of METRICS_ADDRESS, from a thread; without a
    port, or with metrics off, nothing. A port that cannot be had stops the process."""
    if not port or not enabled():
        return
    address = settings.METRICS["ADDRESS"]
    try:
        start_http_server(port, addr=address)
    except OSError as error:
        raise SystemExit(
            f"{process} not started: no metrics on {address}:{port}: {error}"
        ) from None
    logger.info("%s metrics on http://%s:%d/metrics", process, address, port)


def count_published(database: str, services: Iterable[str], seconds: float) -> None:
    """A relay batch committed as published."""
    for service, count in Tally(services).items():
        EVENTS_PUBLISHED.labels(service).inc(count)
    PUBLISH_BATCH_DURATION.labels(database).observe(seconds)


def count_publish_failed(services: Iterable[str]) -> None:
    for service, count in Tally(services).items():
        EVENTS_PUBLISH_FAILED.labels(service).inc(count)


class HandlingTally:
    """What one consumer's batch did, counted once its transaction has committed."""

    def __init__(self, consumer: str) -> None:
        self.consumer = consumer
        self.started = time.perf_counter()
        self.outcomes: list[tuple[str, str]] = []
        self.handler_seconds: list[tuple[str, float]] = []

    def handled(self, event_type: str, seconds: float) -> None:
        self.outcomes.append((event_type, "handled"))
        self.handler_seconds.append((event_type, seconds))

    def duplicate(self, event_type: str) -> None:
        self.outcomes.append((event_type, "duplicate"))

    def failed(self, body: bytes) -> None:
        self.outcomes.append((event_type_of(body), "failed"))

    def forget_outcomes(self) -> None:
        """Drop what was noted so far: it rolled back, and the batch is handled again."""
        self.outcomes.clear()
        self.handler_seconds.clear()

    def count(self) -> None:
        """Add the batch to the metrics: call after its commit."""
        for (event_type, outcome), count in Tally(self.outcomes).items():
            EVENTS_HANDLED.labels(self.consumer, event_type, outcome).inc(count)
        histograms: dict[str, Histogram] = {}
        for event_type, seconds in self.handler_seconds:
            if event_type not in histograms:
                histograms[event_type] = HANDLER_DURATION.labels(self.consumer, event_type)
            histograms[event_type].observe(seconds)
        CONSUMER_BATCH_DURATION.labels(self.consumer).observe(time.perf_counter() - self.started)


def count_failure_routed(consumer: str, body: bytes, *, retried: bool) -> None:
    if not enabled():
        return
    counter = EVENTS_RETRIED if retried else EVENTS_DEAD_LETTERED
    counter.labels(consumer, event_type_of(body)).inc()


def count_forged(consumer: str, sender: str | None) -> None:
    if enabled():
        EVENTS_FORGED.labels(consumer, sender or "none").inc()


def count_standby_wait(database: str, process: str, seconds: float) -> None:
    if enabled():
        STANDBY_WAIT_DURATION.labels(database, process).observe(seconds)


def waiting_for_standby(database: str, process: str, waiting: bool) -> None:
    if enabled():
        WAITING_FOR_STANDBY.labels(database, process).set(1 if waiting else 0)


def count_dead_letter_recorded(service: str, kind: str) -> None:
    if enabled():
        DEAD_LETTERS_RECORDED.labels(service, kind).inc()


def event_type_of(body: bytes) -> str:
    """The event type of a message, for a label; only failures need it, so it is parsed again."""
    try:
        return parse_cloudevent(body).type
    except MalformedEvent:
        return UNKNOWN_EVENT_TYPE
