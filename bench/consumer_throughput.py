"""Consumer throughput: N events waiting in a receive queue until all are handled.

N ProductCreatedEvent messages are published to the product exchange; the copies routed to
the inventory queue are consumed by real Celery worker processes (the order copies are purged).
Each event is handled as in production: a processed-event row, the inventory the handler
creates, and the outbox row of the event it raises, in one transaction. The rate is read from
the database: processed events per second from the moment every worker is consuming to the
last one handled. Beside it, pgbench runs the same statements on the same database, with as
many clients as there are workers: the rate PostgreSQL itself handles them at, the ceiling of
the workers. The worker commits a batch of events per transaction (setting OUTBOX
CONSUMER_BATCH_SIZE), so the ceiling is pgbench sending batches of that size; pgbench sending
each event in a transaction of its own is shown too, the ceiling of any consumer that commits
event by event.

One worker drains the backlog from a queue of each type (classic, quorum); the configured
type is also drained by more workers at once.
"""

import re
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection
from kombu import Connection

from bench import backlog
from bench.consumer_statements import pgbench_script
from bench.cpu import cpu_seconds
from bench.environment import BenchEnvironment
from harness.waiting import wait_until
from outbox.core import registry, topology
from outbox.core.broker import queue_shape

CONSUMER = "inventory"
TPS = re.compile(r"tps = ([\d.]+) \((?:without initial connection time|excluding)")
# Seconds a worker may take per event before the run is abandoned (startup included).
SECONDS_PER_EVENT_LIMIT = 0.02


def measure_consumer_backlog(
    environment: BenchEnvironment,
    *,
    size: int,
    pgbench_seconds: int,
    queue_types: Sequence[str],
    workers: Sequence[int],
) -> list[dict[str, Any]]:
    """A backlog of `size` handled by one worker from a queue of each type, then by each
    number of `workers` from the configured type; beside each, pgbench's ceiling."""
    batch = settings.OUTBOX["CONSUMER_BATCH_SIZE"]
    configured = settings.OUTBOX["QUEUE_TYPE"]
    runs = [(queue_type, 1) for queue_type in queue_types]
    runs += [(configured, count) for count in workers if (configured, count) not in runs]
    measured = {
        (queue_type, count): measure_consumer(
            environment, size=size, workers=count, queue_type=queue_type
        )
        for queue_type, count in runs
    }
    ceiling = {
        (clients, batch_size): measure_postgres_ceiling(
            environment, clients=clients, batch_size=batch_size, seconds=pgbench_seconds
        )
        for clients in sorted({count for _, count in runs})
        for batch_size in (1, batch)
    }
    return [
        {
            "size": size,
            "queue_type": queue_type,
            "workers": count,
            "batch_size": batch,
            "eps": eps,
            "events_per_transaction": events_per_transaction,
            "postgres_eps": ceiling[count, batch],
            "postgres_eps_unbatched": ceiling[count, 1],
            "ratio": eps / ceiling[count, batch],
        }
        for (queue_type, count), (eps, events_per_transaction, _) in measured.items()
    ]


class ConsumerRun(NamedTuple):
    eps: float
    events_per_transaction: float  # on average
    cpu_seconds: float  # spent by the workers from all consuming to the last event handled


def measure_consumer(
    environment: BenchEnvironment,
    *,
    size: int,
    workers: int,
    queue_type: str,
    env: Mapping[str, str] | None = None,
) -> ConsumerRun:
    """How fast `workers` worker processes, with `env` added to their environment, handle a
    backlog of `size` in a queue of `queue_type`."""
    environment.reset_vhost()
    with Connection(environment.broker_url) as broker:
        topology.declare(
            broker.default_channel,
            registry.all_services(),
            settings.OUTBOX["RETRY_DELAYS_SECONDS"],
            queue_shape(queue_type),
        )
    backlog.truncate_tables()
    backlog.publish_product_created(environment.broker_url, size)
    with Connection(environment.broker_url) as broker:
        channel = broker.default_channel
        channel.queue_purge(topology.receive_queue("order"))
        queue = topology.receive_queue(CONSUMER)
        waiting = queue_state(channel, queue)[0]
        if waiting != size:
            raise RuntimeError(f"{waiting} of {size} events reached {queue}")
        with environment.processes() as children:
            names = [f"consumer-{index}" for index in range(workers)]
            # Started together, then waited for: each is ready once all of them consume.
            for name in names:
                children.start_worker(
                    name,
                    wait=False,
                    loglevel="WARNING",
                    env={
                        "ECOMMERCE_SERVICES": CONSUMER,
                        "OUTBOX_QUEUE_TYPE": queue_type,
                        **(env or {}),
                    },
                )
            for name in names:
                children.wait_for_consumers(name, queues=[queue], consumers=workers)
            all_consuming = database_now()
            cpu_before = cpu_seconds(children)
            # The queue empties first (cheap to ask); then the last prefetched events are handled.
            wait_until(
                lambda: children.check_alive() or queue_state(channel, queue)[0] == 0,
                timeout=60 + size * SECONDS_PER_EVENT_LIMIT,
                interval=0.5,
                what=f"{queue} emptied",
            )
            wait_until(
                lambda: children.check_alive() or processed_count() >= size,
                timeout=60,
                interval=0.05,
                what=f"{size} events handled",
            )
            cpu_after = cpu_seconds(children)
    handled, last, transactions = handled_since(all_consuming)
    return ConsumerRun(
        eps=handled / (last - all_consuming).total_seconds(),
        events_per_transaction=handled / transactions,
        cpu_seconds=sum(cpu_after[name] - cpu_before[name] for name in names),
    )


def measure_postgres_ceiling(
    environment: BenchEnvironment, *, clients: int, batch_size: int, seconds: int
) -> float:
    """Events per second of pgbench sending a worker's statements in batches of `batch_size`."""
    with tempfile.NamedTemporaryFile("w", suffix=".sql") as script:
        script.write(pgbench_script(batch_size))
        script.flush()
        result = subprocess.run(
            [
                "pgbench", "--no-vacuum", f"--client={clients}", f"--jobs={clients}",
                f"--time={seconds}", f"--file={script.name}",
            ],
            env=environment.child_env(), capture_output=True, text=True, check=True,
        )  # fmt: skip
    match = TPS.search(result.stdout)
    if match is None:
        raise RuntimeError(f"no tps in pgbench output:\n{result.stdout}\n{result.stderr}")
    return float(match.group(1)) * batch_size


def queue_state(channel: object, queue: str) -> tuple[int, int]:
    """(messages ready, consumers) of a queue."""
    _, messages, consumers = channel.queue_declare(queue, passive=True)
    return messages, consumers


def database_now() -> datetime:
    with connection.cursor() as cursor:
        cursor.execute("SELECT clock_timestamp()")
        return cursor.fetchone()[0]


def processed_count() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM outbox_processedevent WHERE consumer = %s", [CONSUMER])
        return cursor.fetchone()[0]


def handled_since(start: datetime) -> tuple[int, datetime, int]:
    """How many events were handled from `start` on, when the last one was, and in how many
    transactions (`processed_at` is the start of the handling transaction: one per batch)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), max(processed_at), count(DISTINCT processed_at)"
            " FROM outbox_processedevent WHERE consumer = %s AND processed_at >= %s",
            [CONSUMER, start],
        )
        return cursor.fetchone()
