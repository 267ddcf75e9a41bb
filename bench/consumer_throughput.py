"""Consumer throughput: N events waiting in a receive queue until all are handled.

N ProductCreatedEvent messages are published to the product exchange; the copies routed to
the inventory queue are consumed by real Celery worker processes (the order copies are purged).
Each event is handled as in production: a processed-event row, the inventory the handler
creates, and the outbox row of the event it raises, in one transaction. The rate is read from
the database: processed events per second from the moment every worker is consuming to the
last one handled. Beside it, pgbench runs the same statements on the same database: the rate
PostgreSQL itself commits them at, the ceiling of a worker.
"""

import re
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

from django.db import connection
from kombu import Connection

from bench import backlog
from bench.environment import BenchEnvironment
from bench.processes import Children
from outbox import topology
from outbox.broker import declare_topology
from tests.waiting import wait_until

CONSUMER = "inventory"
PGBENCH_SCRIPT = Path(__file__).with_name("consumer_transaction.sql")
TPS = re.compile(r"tps = ([\d.]+) \((?:without initial connection time|excluding)")
# Seconds a worker may take per event before the run is abandoned (startup included).
SECONDS_PER_EVENT_LIMIT = 0.02


def measure_consumer_backlog(
    environment: BenchEnvironment, *, size: int, pgbench_seconds: int
) -> dict[str, Any]:
    """A backlog of `size` handled by one worker, then by two; beside it, pgbench's ceiling."""
    one = measure_consumer(environment, size=size, workers=1)
    two = measure_consumer(environment, size=size, workers=2)
    postgres_1 = measure_postgres_ceiling(environment, clients=1, seconds=pgbench_seconds)
    postgres_2 = measure_postgres_ceiling(environment, clients=2, seconds=pgbench_seconds)
    return {
        "size": size,
        "workers_1_eps": one,
        "workers_2_eps": two,
        "postgres_1_tps": postgres_1,
        "postgres_2_tps": postgres_2,
        "ratio_1": one / postgres_1,
        "ratio_2": two / postgres_2,
    }


def measure_consumer(environment: BenchEnvironment, *, size: int, workers: int) -> float:
    """Events per second that `workers` worker processes handle from a backlog of `size`."""
    environment.reset_vhost()
    declare_topology()
    backlog.truncate_tables()
    backlog.publish_product_created(environment.broker_url, size)
    with Connection(environment.broker_url) as broker:
        channel = broker.default_channel
        channel.queue_purge(topology.receive_queue("order"))
        queue = topology.receive_queue(CONSUMER)
        waiting = queue_state(channel, queue)[0]
        if waiting != size:
            raise RuntimeError(f"{waiting} of {size} events reached {queue}")
        with Children(environment) as children:
            for index in range(workers):
                children.start_worker(f"consumer-{index}", CONSUMER)
            wait_until(
                lambda: children.check_alive() or queue_state(channel, queue)[1] == workers,
                timeout=60,
                interval=0.02,
                what=f"{workers} workers consuming {queue}",
            )
            all_consuming = database_now()
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
    handled, last = handled_since(all_consuming)
    return handled / (last - all_consuming).total_seconds()


def measure_postgres_ceiling(environment: BenchEnvironment, *, clients: int, seconds: int) -> float:
    """Transactions per second of pgbench running one handled event's statements per transaction."""
    result = subprocess.run(
        [
            "pgbench", "--no-vacuum", f"--client={clients}", f"--jobs={clients}",
            f"--time={seconds}", f"--file={PGBENCH_SCRIPT}",
        ],
        env=environment.child_env(), capture_output=True, text=True, check=True,
    )  # fmt: skip
    match = TPS.search(result.stdout)
    if match is None:
        raise RuntimeError(f"no tps in pgbench output:\n{result.stdout}\n{result.stderr}")
    return float(match.group(1))


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


def handled_since(start: datetime) -> tuple[int, datetime]:
    """How many events were handled from `start` on, and when the last one was."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), max(processed_at) FROM outbox_processedevent"
            " WHERE consumer = %s AND processed_at >= %s",
            [CONSUMER, start],
        )
        return cursor.fetchone()
