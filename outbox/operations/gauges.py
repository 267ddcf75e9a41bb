"""The metrics that are a query, read only when `/metrics` is scraped: outbox backlog, dead
letters pending, queue depths, the last relay batch (`MessagingStateCollector`). Nothing polls
them between scrapes. The web's `/metrics` (`web_exposition`) serves them beside the counters
of `outbox.core.metrics`.
"""

import dataclasses
import logging
import os
from collections.abc import Iterable, Iterator

from django.db import DatabaseError
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from outbox.core import replication
from outbox.operations import overview

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class StateGauge:
    """A gauge that `MessagingStateCollector` reads at scrape time."""

    name: str
    documentation: str
    labels: tuple[str, ...] = ()

    def family(self) -> GaugeMetricFamily:
        return GaugeMetricFamily(self.name, self.documentation, labels=list(self.labels))


DATABASE_UP = StateGauge(
    "outbox_database_up", "1 if the outbox database answered this scrape.", ("database",)
)
PENDING_EVENTS = StateGauge(
    "outbox_pending_events", "Outbox events not yet published.", ("database",)
)
OLDEST_PENDING_AGE = StateGauge(
    "outbox_oldest_pending_event_age_seconds",
    "Age of the oldest unpublished outbox event; 0 when none is pending.",
    ("database",),
)
LAST_BATCH_TIME = StateGauge(
    "outbox_last_publish_batch_timestamp_seconds",
    "When the last relay batch was claimed (the published_at of its rows), in Unix time.",
    ("database",),
)
LAST_BATCH_EVENTS = StateGauge(
    "outbox_last_publish_batch_events", "Events in the last relay batch.", ("database",)
)
DEAD_LETTERS_PENDING = StateGauge(
    "outbox_dead_letters_pending",
    "Dead letters recorded and neither replayed nor discarded, by service and kind.",
    ("service", "kind"),
)
BROKER_UP = StateGauge("outbox_broker_up", "1 if the broker answered this scrape.")
QUEUE_MESSAGES = StateGauge(
    "outbox_queue_messages",
    "Messages ready in a receive or dead-letter queue of a served service.",
    ("queue", "service", "role"),
)
QUEUE_CONSUMERS = StateGauge(
    "outbox_queue_consumers",
    "Consumers of a receive or dead-letter queue of a served service.",
    ("queue", "service", "role"),
)
STANDBYS = StateGauge(
    "outbox_standbys",
    "Standbys streaming from the database's primary and reporting what they flushed; read with "
    "OUTBOX_WAIT_FOR_STANDBY on, when the relay and the workers wait for one of them.",
    ("database",),
)
STATE_GAUGES = (
    DATABASE_UP,
    STANDBYS,
    PENDING_EVENTS,
    OLDEST_PENDING_AGE,
    LAST_BATCH_TIME,
    LAST_BATCH_EVENTS,
    DEAD_LETTERS_PENDING,
    BROKER_UP,
    QUEUE_MESSAGES,
    QUEUE_CONSUMERS,
)


class MessagingStateCollector(Collector):
    """The state gauges, read from this process's databases and the broker when scraped."""

    def collect(self) -> Iterator[Metric]:
        families = {gauge: gauge.family() for gauge in STATE_GAUGES}
        for database in overview.served_databases():
            try:
                lag = overview.outbox_lag(database)
                batch = overview.last_relay_batch(database)
                letters = overview.dead_letters_pending(database)
                standbys = (
                    replication.connected_standbys(database) if replication.enabled() else None
                )
            except DatabaseError as error:
                logger.warning("metrics: database %s unreachable: %s", database, error)
                families[DATABASE_UP].add_metric([database], 0)
                continue
            families[DATABASE_UP].add_metric([database], 1)
            families[PENDING_EVENTS].add_metric([database], lag.pending)
            families[OLDEST_PENDING_AGE].add_metric([database], lag.oldest_age_seconds or 0)
            if batch is not None:
                families[LAST_BATCH_TIME].add_metric([database], batch.published_at.timestamp())
                families[LAST_BATCH_EVENTS].add_metric([database], batch.size)
            for row in letters:
                families[DEAD_LETTERS_PENDING].add_metric([row.service, row.kind], row.pending)
            if standbys is not None:
                families[STANDBYS].add_metric([database], standbys)
        try:
            depths = overview.queue_depths()
        except overview.QueueDepthsUnavailable as error:
            logger.warning("metrics: no queue depths from the broker: %s", error)
            depths = None
        families[BROKER_UP].add_metric([], 0 if depths is None else 1)
        for depth in depths or []:
            labels = [depth.queue, depth.service, depth.role]
            families[QUEUE_MESSAGES].add_metric(labels, depth.messages)
            families[QUEUE_CONSUMERS].add_metric(labels, depth.consumers)
        yield from families.values()


class ThisProcess(Collector):
    """This process's own metrics, as a collector of another registry."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


def web_exposition() -> bytes:
    """What the web's /metrics answers: the counts of every gunicorn worker (multiprocess
    mode, when PROMETHEUS_MULTIPROC_DIR is set; else this process's), and the state gauges
    read now."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(ThisProcess())
    registry.register(MessagingStateCollector())
    return generate_latest(registry)
