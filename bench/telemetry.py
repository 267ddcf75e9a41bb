"""What metrics and tracing cost: the same relay and consumer workloads with each switched on
and off, as ratios to the run with both off.

Five settings, in one run: both off (METRICS_ENABLED=false, no OTLP endpoint), metrics on
(the relay's and the worker's metrics ports served and scraped every second, as Prometheus
would), tracing on (spans exported to an OTLP receiver in this process, which counts and drops
them), both on, and both off again: the two off runs side by side are the noise floor that any
other ratio is read against. Each repeat runs the settings in turn, every other repeat in the
reverse order (ABBA), so that a machine drifting through the run weighs on each setting alike.

A ratio is taken per repeat, against the off run of the same repeat, and the median kept:
- relay: N pending outbox rows published by one relay process (`bench.publish_child`), events/s
  and the CPU the relay process spent per event (its threads too: the metrics server, the span
  exporter; the spans still queued are flushed within the timed part);
- consumer: a backlog of N events in the inventory receive queue drained by one worker, events/s
  and the worker's CPU per event (from /proc).
"""

import dataclasses
import statistics
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import requests
from django.conf import settings
from kombu import Connection

from bench import backlog
from bench.consumer_throughput import measure_consumer
from bench.environment import BenchEnvironment
from bench.relay_throughput import pending_count, queue_depth, run_publishers
from harness.otlp_receiver import OtlpReceiver, otlp_receiver
from harness.ports import free_port
from outbox.core import topology

ROUTED_QUEUE = "bench-telemetry-q"
SCRAPE_SECONDS = 1.0
RETRY_SECONDS = 0.05


@dataclasses.dataclass(frozen=True)
class Setting:
    name: str
    metrics: bool
    tracing: bool


BASELINE = Setting("off", metrics=False, tracing=False)
SETTINGS = (
    BASELINE,
    Setting("metrics", metrics=True, tracing=False),
    Setting("tracing", metrics=False, tracing=True),
    Setting("both", metrics=True, tracing=True),
    Setting("off again", metrics=False, tracing=False),
)


class SpanCounter(OtlpReceiver):
    """An OTLP/HTTP receiver that counts the spans it is sent and keeps none."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def _keep(self, request: Any) -> None:
        spans = sum(
            len(scope_spans.spans)
            for resource_spans in request.resource_spans
            for scope_spans in resource_spans.scope_spans
        )
        with self.lock:
            self.exports += 1
            self.count += spans


class Scraper:
    """Asks a process for its metrics every SCRAPE_SECONDS from a thread, as Prometheus does;
    counts the answers. Until the process listens, it asks every RETRY_SECONDS: a short run
    is scraped at least once once its port is open."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/metrics"
        self.scrapes = 0
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        with requests.Session() as session:
            while not self.stopped.is_set():
                try:
                    session.get(self.url, timeout=5).raise_for_status()
                    self.scrapes += 1
                except requests.RequestException:
                    pass
                self.stopped.wait(SCRAPE_SECONDS if self.scrapes else RETRY_SECONDS)


@contextmanager
def scraped(port: int | None) -> Iterator[Scraper | None]:
    """A scraper of `port` while the block runs; none without a port."""
    if port is None:
        yield None
        return
    scraper = Scraper(port)
    scraper.thread.start()
    try:
        yield scraper
    finally:
        scraper.stopped.set()
        scraper.thread.join()


def child_env(
    setting: Setting, endpoint: str, port_variable: str, port: int | None
) -> dict[str, str]:
    """The environment that switches a relay's or a worker's telemetry as `setting` says."""
    return {
        "METRICS_ENABLED": "true" if setting.metrics else "false",
        port_variable: str(port) if port else "",
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint if setting.tracing else "",
        "OTEL_SDK_DISABLED": "false",
    }


def orders(repeat: int) -> list[list[Setting]]:
    """The settings of each repeat: in turn, then in reverse, and so on."""
    return [
        list(SETTINGS) if index % 2 == 0 else list(reversed(SETTINGS)) for index in range(repeat)
    ]


@dataclasses.dataclass
class Run:
    """One measurement of one workload under one setting."""

    eps: float
    cpu_us_per_event: float
    spans: int
    scrapes: int


def measure_telemetry(
    environment: BenchEnvironment, *, relay_size: int, consumer_size: int, repeat: int
) -> list[dict[str, Any]]:
    """One result per setting: medians of its runs and of its per-repeat ratios to `off`."""
    relay_runs: list[dict[Setting, Run]] = []
    consumer_runs: list[dict[Setting, Run]] = []
    with otlp_receiver(SpanCounter) as receiver:
        for order in orders(repeat):
            relay_runs.append(
                {setting: measure_relay(environment, setting, receiver, relay_size)
                 for setting in order}
            )  # fmt: skip
        for order in orders(repeat):
            consumer_runs.append(
                {setting: measure_worker(environment, setting, receiver, consumer_size)
                 for setting in order}
            )  # fmt: skip
    return [
        {
            "setting": setting.name,
            "metrics": setting.metrics,
            "tracing": setting.tracing,
            "relay_size": relay_size,
            "consumer_size": consumer_size,
            "repeat": repeat,
            **summary("relay", setting, relay_runs),
            **summary("consumer", setting, consumer_runs),
        }
        for setting in SETTINGS
    ]


def summary(workload: str, setting: Setting, runs: Sequence[dict[Setting, Run]]) -> dict[str, Any]:
    """Medians of a setting's runs of one workload, and of each repeat's ratio to `off`."""
    mine = [repeat[setting] for repeat in runs]

    def ratios(value: Callable[[Run], float]) -> list[float]:
        return [value(repeat[setting]) / value(repeat[BASELINE]) for repeat in runs]

    return {
        f"{workload}_eps": statistics.median(run.eps for run in mine),
        f"{workload}_eps_runs": [run.eps for run in mine],
        f"{workload}_ratio": statistics.median(ratios(lambda run: run.eps)),
        f"{workload}_ratio_runs": ratios(lambda run: run.eps),
        f"{workload}_cpu_us_per_event": statistics.median(run.cpu_us_per_event for run in mine),
        f"{workload}_cpu_ratio": statistics.median(ratios(lambda run: run.cpu_us_per_event)),
        f"{workload}_spans": sum(run.spans for run in mine),
        f"{workload}_scrapes": sum(run.scrapes for run in mine),
    }


def measure_relay(
    environment: BenchEnvironment, setting: Setting, receiver: SpanCounter, size: int
) -> Run:
    """One relay process publishes `size` pending rows into a queue of the configured type."""
    environment.reset_vhost()
    backlog.truncate_tables()
    backlog.insert_pending(size)
    port = free_port() if setting.metrics else None
    spans_before = receiver.count
    with Connection(environment.broker_url) as broker:
        channel = broker.default_channel
        exchange = topology.publish_exchange("product")
        channel.exchange_declare(exchange, "topic", durable=True, auto_delete=False)
        channel.queue_declare(
            ROUTED_QUEUE, durable=True, auto_delete=False,
            arguments={"x-queue-type": settings.OUTBOX["QUEUE_TYPE"]},
        )  # fmt: skip
        channel.queue_bind(ROUTED_QUEUE, exchange, "#")
        with scraped(port) as scraper:
            run = run_publishers(
                environment,
                "relay",
                1,
                settings.OUTBOX["RELAY_BATCH_SIZE"],
                expected=size,
                **child_env(setting, receiver.endpoint, "RELAY_METRICS_PORT", port),
            )
        if (routed := queue_depth(channel, ROUTED_QUEUE)) != size or pending_count():
            raise RuntimeError(f"relay, {setting.name}: {routed} of {size} messages routed")
    return shown(
        f"relay, {setting.name}",
        Run(
            eps=run.eps,
            cpu_us_per_event=1e6 * run.cpu_seconds / size,
            spans=receiver.count - spans_before,
            scrapes=scraper.scrapes if scraper else 0,
        ),
    )


def measure_worker(
    environment: BenchEnvironment, setting: Setting, receiver: SpanCounter, size: int
) -> Run:
    """One worker drains a backlog of `size` events from a queue of the configured type."""
    port = free_port() if setting.metrics else None
    spans_before = receiver.count
    with scraped(port) as scraper:
        run = measure_consumer(
            environment,
            size=size,
            workers=1,
            queue_type=settings.OUTBOX["QUEUE_TYPE"],
            env=child_env(setting, receiver.endpoint, "WORKER_METRICS_PORT", port),
        )
    return shown(
        f"consumer, {setting.name}",
        Run(
            eps=run.eps,
            cpu_us_per_event=1e6 * run.cpu_seconds / size,
            spans=receiver.count - spans_before,
            scrapes=scraper.scrapes if scraper else 0,
        ),
    )


def shown(what: str, run: Run) -> Run:
    """Print a run as it ends, so that a long scenario shows it is alive."""
    print(
        f"  {what}: {run.eps:,.0f} events/s, {run.cpu_us_per_event:,.0f} us of CPU per event,"
        f" {run.spans} spans, {run.scrapes} scrapes",
        flush=True,
    )
    return run
