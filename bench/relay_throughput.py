"""Relay throughput: N pending outbox rows until all are confirmed by the broker and marked.

Measured three ways on the same backlog, each in fresh processes started together:
the raw ceiling (bare py-amqp, same batches and pipelined confirms, no database), one relay,
and two relays at once. Messages go to the product publish exchange and are routed to one
durable queue standing for a receive queue, classic or quorum; the queue is checked and purged
after each run. The three are repeated in turn for each queue type (so that both types see the
same minutes of a drifting machine) and the medians kept; a ratio is the median of each run's
own ratio against the ceiling measured just before it, into a queue of the same type.
"""

import json
import statistics
import sys
from collections.abc import Sequence
from typing import Any, NamedTuple

from django.db import connection
from kombu import Connection

from bench import backlog
from bench.environment import BenchEnvironment
from outbox.core import topology

ROUTED_QUEUE = "bench-relay-q"
# (name, publisher, processes) of each measurement, in this order. The raw publisher only reads
# the backlog, so the first relay publishes the same rows; the table is refilled after a relay.
RUNS = (("raw", "raw", 1), ("relay_1", "relay", 1), ("relay_2", "relay", 2))


def measure_relay(
    environment: BenchEnvironment,
    *,
    size: int,
    batch_size: int,
    repeat: int,
    queue_types: Sequence[str],
) -> list[dict[str, Any]]:
    """Events/s of the raw ceiling, one relay and two relays for `size` events (medians), one
    result per type of the queue the events are routed to."""
    environment.reset_vhost()
    rates = {queue_type: {name: [] for name, _, _ in RUNS} for queue_type in queue_types}
    with Connection(environment.broker_url) as broker:
        channel = broker.default_channel
        exchange = topology.publish_exchange("product")
        channel.exchange_declare(exchange, "topic", durable=True, auto_delete=False)
        for _ in range(repeat):
            for queue_type in queue_types:
                routed_queue(channel, ROUTED_QUEUE, exchange, queue_type)
                for name, mode, processes in RUNS:
                    if pending_count() != size:
                        backlog.truncate_tables()
                        backlog.insert_pending(size)
                    rates[queue_type][name].append(
                        run_publishers(environment, mode, processes, batch_size, expected=size).eps
                    )
                    routed = queue_depth(channel, ROUTED_QUEUE)
                    channel.queue_purge(ROUTED_QUEUE)
                    if routed != size:
                        raise RuntimeError(
                            f"{name}, {queue_type}: {routed} of {size} messages reached the queue"
                        )
                    if mode == "relay" and (left := pending_count()):
                        raise RuntimeError(f"{name}: {left} events left pending")
    return [summary(size, batch_size, queue_type, rates[queue_type]) for queue_type in queue_types]


def summary(
    size: int, batch_size: int, queue_type: str, rates: dict[str, list[float]]
) -> dict[str, Any]:
    """Medians of one queue type's runs, and each relay's ratio to the ceiling."""
    results: dict[str, Any] = {"size": size, "queue_type": queue_type, "batch_size": batch_size}
    for name, values in rates.items():
        results[f"{name}_eps"] = statistics.median(values)
        results[f"{name}_runs"] = values
    # Each run's relay against the ceiling measured just before it: a disturbance of the shared
    # machine then weighs on both sides of a ratio, rather than on one median.
    for relays in (1, 2):
        results[f"ratio_{relays}"] = statistics.median(
            relay / raw for relay, raw in zip(rates[f"relay_{relays}"], rates["raw"], strict=True)
        )
    return results


class PublishRun(NamedTuple):
    eps: float  # events/s from the first start to the last end
    cpu_seconds: float  # spent by the publishers meanwhile, added up


def run_publishers(
    environment: BenchEnvironment,
    mode: str,
    count: int,
    batch_size: int,
    *,
    expected: int,
    **env: str,
) -> PublishRun:
    """Start `count` publishers together, with `env` added to their environment."""
    with environment.processes() as children:
        publishers = {
            name: children.start(
                name,
                [sys.executable, "-m", "bench.publish_child", mode, str(batch_size)],
                pipes=True,
                env=env,
            )
            for name in (f"publish-{mode}-{index}" for index in range(count))
        }
        for name, process in publishers.items():
            if process.stdout.readline().strip() != "ready":
                raise RuntimeError(f"{name} failed to start; see {children.log_file(name)}")
        for process in publishers.values():
            process.stdin.write("go\n")
            process.stdin.flush()
        reports = [json.loads(process.stdout.readline()) for process in publishers.values()]
    published = sum(report["published"] for report in reports)
    if published != expected:
        raise RuntimeError(f"{mode}: {published} events published, {expected} expected")
    elapsed = max(r["finished"] for r in reports) - min(r["started"] for r in reports)
    return PublishRun(published / elapsed, sum(report["cpu_seconds"] for report in reports))


def queue_depth(channel: object, queue: str) -> int:
    _, messages, _ = channel.queue_declare(queue, passive=True)
    return messages


def pending_count() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM outbox_outboxevent WHERE published_at IS NULL")
        return cursor.fetchone()[0]


def routed_queue(channel: Any, name: str, exchange: str, queue_type: str) -> None:
    """An empty durable queue of `queue_type` bound to every routing key of `exchange`: where
    the messages a relay publishes end up, with nothing consuming them."""
    channel.queue_delete(name)
    channel.queue_declare(
        name, durable=True, auto_delete=False, arguments={"x-queue-type": queue_type}
    )
    channel.queue_bind(name, exchange, "#")
