"""A peer relay on the same backlog: django-outbox-pattern against the project's relay.

    python -m bench.peer_relay --database bench_peer --vhost bench_peer --size 10000

django-outbox-pattern (PyPI) keeps its outgoing messages in a table of its own (`published`)
and its producer (`manage.py publish`) sends them over STOMP. In one run, on the same database
and the same vhost, N pending outbox rows (`bench.backlog`: the product context's CloudEvents)
are published by one relay process of ours, and the same N CloudEvents, copied into the peer's
table as its own code writes rows, by one peer process; each time from start to all N
published, as `bench.relay_throughput` times a relay. Both send to the product publish
exchange, which routes to one durable queue, classic then quorum; after each run every event
must be in the queue exactly once, and none left pending in the publisher's table. The two
alternate which goes first, repeat by repeat; a ratio is the median of each repeat's own.

The peer runs from a venv of its own (.run/bench-peer-venv, made from
bench/requirements-peer.txt on first use) with `bench.peer_settings`. STOMP is RabbitMQ's
`rabbitmq_stomp` plugin: when nothing listens on the STOMP port, the plugin is enabled on the
local node for the measurement and disabled after it (the node is not restarted).
"""

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from bench.environment import BenchEnvironment, log_file
from harness.project import PROJECT_DIR

PEER_VENV = PROJECT_DIR / ".run" / "bench-peer-venv"
PEER_REQUIREMENTS = PROJECT_DIR / "bench" / "requirements-peer.txt"
PEER_SETTINGS = "bench.peer_settings"
ROUTED_QUEUE = "bench-peer-q"
STOMP_PLUGIN = "rabbitmq_stomp"
STOMP_PORT = int(os.environ.get("BENCH_STOMP_PORT", "61613"))
STOMP_START_SECONDS = 60
# The local node of scripts/services.sh, which the plugin is enabled on.
RABBITMQ_NODE = "rabbit@localhost"
FULL_CHECK_EVENTS = 1_000
# Taking the messages off the queue ends when none has come for this long.
IDLE_SECONDS = 30
QUEUE_POLL_SECONDS = 0.01
# The publishers measured, in the order of even repeats; odd repeats reverse it.
PUBLISHERS = ("ours", "peer")


def measure_peer_relay(
    environment: BenchEnvironment,
    *,
    size: int,
    repeat: int,
    batch_size: int | None = None,
    queue_types: Sequence[str] = ("classic", "quorum"),
) -> list[dict[str, Any]]:
    """Events/s and CPU per event of our relay and of the peer for the same `size` events
    (medians), and the peer's ratio to ours; one result per type of the routed queue."""
    from django.conf import settings
    from kombu import Connection

    from bench.relay_throughput import routed_queue
    from outbox.core import topology

    batch_size = batch_size or settings.OUTBOX["RELAY_BATCH_SIZE"]
    python = peer_python()
    migrate_peer(environment, python)
    environment.reset_vhost()
    runs: dict[str, dict[str, list[Run]]] = {
        queue_type: {publisher: [] for publisher in PUBLISHERS} for queue_type in queue_types
    }
    with stomp_listening(environment), Connection(environment.broker_url) as broker:
        channel = broker.default_channel
        exchange = topology.publish_exchange("product")
        channel.exchange_declare(exchange, "topic", durable=True, auto_delete=False)
        for index in range(repeat):
            order = PUBLISHERS if index % 2 == 0 else tuple(reversed(PUBLISHERS))
            for queue_type in queue_types:
                routed_queue(channel, ROUTED_QUEUE, exchange, queue_type)
                for publisher in order:
                    expected = fill_backlogs(size)
                    if publisher == "ours":
                        run = run_ours(environment, batch_size, size)
                    else:
                        run = run_peer(environment, channel, python, batch_size, size)
                    delivered = check_delivered(broker, publisher, queue_type, expected)
                    by_table = f", {run.table_eps:,.0f} by its table" if run.table_eps else ""
                    print(
                        f"  measured: {publisher}, {queue_type}, {size} events:"
                        f" {run.eps:,.0f} events/s{by_table}, {run.cpu_us_per_event:,.0f} us/event",
                        flush=True,
                    )
                    if left := pending_in(publisher):
                        raise RuntimeError(f"{publisher}: {left} events left pending")
                    runs[queue_type][publisher].append(run._replace(delivered=delivered))
    return [summary(size, batch_size, queue_type, runs[queue_type]) for queue_type in queue_types]


class Run(NamedTuple):
    """One drain: events/s, the publishing process's CPU µs per event, and how many distinct
    events reached the queue."""

    eps: float
    cpu_us_per_event: float
    delivered: int = 0
    # The peer's rate by its own table alone: rows committed as sent, the broker aside.
    table_eps: float = 0.0


def summary(
    size: int, batch_size: int, queue_type: str, runs: dict[str, list[Run]]
) -> dict[str, Any]:
    """Medians of one queue type's runs; the ratio is the median of each repeat's own."""
    results: dict[str, Any] = {"size": size, "queue_type": queue_type, "batch_size": batch_size}
    for publisher, measured in runs.items():
        results[f"{publisher}_eps"] = statistics.median(run.eps for run in measured)
        results[f"{publisher}_cpu_us_per_event"] = statistics.median(
            run.cpu_us_per_event for run in measured
        )
        results[f"{publisher}_runs"] = [run.eps for run in measured]
        results[f"{publisher}_delivered"] = min(run.delivered for run in measured)
    results["peer_table_eps"] = statistics.median(run.table_eps for run in runs["peer"])
    pairs = list(zip(runs["peer"], runs["ours"], strict=True))
    results["ratio"] = statistics.median(peer.eps / ours.eps for peer, ours in pairs)
    results["cpu_ratio"] = statistics.median(
        peer.cpu_us_per_event / ours.cpu_us_per_event for peer, ours in pairs
    )
    return results


def run_ours(environment: BenchEnvironment, batch_size: int, size: int) -> Run:
    """One relay of ours drains the outbox, as the relay benchmark runs it."""
    from bench.relay_throughput import run_publishers

    published = run_publishers(environment, "relay", 1, batch_size, expected=size)
    return Run(eps=published.eps, cpu_us_per_event=1e6 * published.cpu_seconds / size)


def run_peer(
    environment: BenchEnvironment, channel: Any, python: Path, batch_size: int, size: int
) -> Run:
    """One peer process drains its table, started on a signal as our relay is. The drain ends
    when its table says all rows were sent and the routed queue holds them all."""
    with environment.processes() as children:
        process = children.start(
            "peer-relay",
            [str(python), "-m", "bench.peer_child"],
            pipes=True,
            env={
                "DJANGO_SETTINGS_MODULE": PEER_SETTINGS,
                "BENCH_PEER_CHUNK_SIZE": str(batch_size),
                "BENCH_STOMP_PORT": str(STOMP_PORT),
            },
        )
        if process.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the peer failed to start; see {children.log_file('peer-relay')}")
        process.stdin.write("go\n")
        process.stdin.flush()
        report = json.loads(process.stdout.readline())
        queued = wait_for_queue(channel, size)
        process.stdin.write("done\n")
        process.stdin.flush()
        cpu_seconds = json.loads(process.stdout.readline())["cpu_seconds"]
    if report["published"] != size:
        raise RuntimeError(f"peer: {report['published']} events published, {size} expected")
    elapsed = max(report["finished"], queued) - report["started"]
    return Run(
        eps=size / elapsed,
        cpu_us_per_event=1e6 * cpu_seconds / size,
        table_eps=size / (report["finished"] - report["started"]),
    )


def wait_for_queue(channel: Any, size: int) -> float:
    """When the routed queue first held `size` messages (time.time()); once it holds them
    already, now. Gives up, returning, when the count has not moved for IDLE_SECONDS: the
    check that follows says what is missing."""
    last, moved = -1, time.monotonic()
    while time.monotonic() - moved < IDLE_SECONDS:
        _, queued, _ = channel.queue_declare(ROUTED_QUEUE, passive=True)
        if queued >= size:
            return time.time()
        if queued != last:
            last, moved = queued, time.monotonic()
        time.sleep(QUEUE_POLL_SECONDS)
    return time.time()


def fill_backlogs(size: int) -> set[str]:
    """`size` pending outbox rows, and the same CloudEvents pending in the peer's table as
    `Published.objects.create(destination=..., body=..., headers=...)` writes them; return
    the events' ids."""
    from django.db import connection

    from bench import backlog
    from outbox.core import topology
    from outbox.core.cloudevents import CONTENT_TYPE

    backlog.truncate_tables()
    backlog.insert_pending(size)
    with connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT service FROM outbox_outboxevent")
        exchanges = {service: topology.publish_exchange(service) for (service,) in cursor}
        cursor.execute("TRUNCATE published")
        # A STOMP destination /exchange/X/K sends to exchange X with routing key K, as our
        # relay does. The headers are the peer's defaults (`headers.generate_headers`), with
        # the two a user adds to send what our relay sends: the content type, and persistent
        # messages (STOMP's default is transient; ours are delivery mode 2).
        cursor.execute(
            """
            INSERT INTO published
                (id, version, destination, body, added, expires_at, retry, status, headers)
            SELECT message_id, NULL, destination, payload, now(), now() + interval '1 day',
                   0, 1,
                   jsonb_build_object(
                       'dop-msg-id', message_id::text,
                       'dop-msg-destination', destination,
                       'dop-msg-type', 'Published',
                       'dop-msg-sent-time', now(),
                       'dop-correlation-id', gen_random_uuid()::text,
                       'content-type', %s::text,
                       'persistent', 'true')
            FROM (
                SELECT gen_random_uuid() AS message_id,
                       '/exchange/' || (%s::jsonb ->> service) || '/' || event_type
                           AS destination,
                       payload, id
                FROM outbox_outboxevent
            ) AS events
            ORDER BY id
            """,
            [CONTENT_TYPE, json.dumps(exchanges)],
        )
        cursor.execute("ANALYZE published")
        cursor.execute("SELECT payload ->> 'id' FROM outbox_outboxevent")
        return {event_id for (event_id,) in cursor}


def pending_in(publisher: str) -> int:
    """Rows the publisher has not marked as published."""
    from django.db import connection

    query = {
        "ours": "SELECT count(*) FROM outbox_outboxevent WHERE published_at IS NULL",
        "peer": "SELECT count(*) FROM published WHERE status <> 2",
    }[publisher]
    with connection.cursor() as cursor:
        cursor.execute(query)
        return cursor.fetchone()[0]


def check_delivered(broker: Any, publisher: str, queue_type: str, expected: set[str]) -> int:
    """The routed queue must hold one message per event; return how many distinct events it
    held. Up to FULL_CHECK_EVENTS events, every message is taken off the queue and matched
    to the events' ids, and must be persistent; above, the queue is counted and purged (taking
    10k messages off one by one costs the busy machine more than the runs measured).
    Raises RuntimeError naming what is missing, duplicated or transient."""
    what = f"{publisher}, {queue_type}"
    if len(expected) > FULL_CHECK_EVENTS:
        channel = broker.default_channel
        _, queued, _ = channel.queue_declare(ROUTED_QUEUE, passive=True)
        channel.queue_purge(ROUTED_QUEUE)
        if queued != len(expected):
            raise RuntimeError(f"{what}: {queued} of {len(expected)} messages reached the queue")
        return queued
    channel = broker.channel()
    received: list[str] = []
    transient = 0

    def take(message: Any) -> None:
        nonlocal transient
        received.append(json.loads(message.body)["id"])
        transient += message.properties.get("delivery_mode") != 2

    channel.basic_consume(ROUTED_QUEUE, callback=take, no_ack=True)
    idle_since = time.monotonic()
    while len(received) < len(expected) and time.monotonic() - idle_since < IDLE_SECONDS:
        try:
            broker.drain_events(timeout=1)
            idle_since = time.monotonic()
        except TimeoutError:
            pass
    channel.close()
    _, left, _ = broker.default_channel.queue_declare(ROUTED_QUEUE, passive=True)
    if set(received) != expected or len(received) != len(expected) or left:
        missing = len(expected - set(received))
        raise RuntimeError(
            f"{what}: {len(received)} messages received ({missing} of {len(expected)} events"
            f" missing, {len(received) - len(set(received))} duplicates), {left} more queued"
        )
    if transient:
        raise RuntimeError(f"{what}: {transient} messages were not persistent")
    return len(set(received))


def peer_python() -> Path:
    """The peer venv's interpreter; the venv is made on first use and brought to the pins of
    bench/requirements-peer.txt each time (pip does nothing when they are installed)."""
    python = PEER_VENV / "bin" / "python"
    with open(log_file("peer-venv"), "ab") as log:
        if not python.exists():
            subprocess.run(
                [sys.executable, "-m", "venv", "--clear", str(PEER_VENV)],
                stdout=log, stderr=log, check=True,
            )  # fmt: skip
        installed = subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "-r", str(PEER_REQUIREMENTS)],
            stdout=log, stderr=log,
        )  # fmt: skip
    if installed.returncode:
        raise RuntimeError(f"the peer's requirements failed to install; see {log.name}")
    return python


def migrate_peer(environment: BenchEnvironment, python: Path) -> None:
    """Create the peer's tables in the run's database (its migrations, beside the project's)."""
    command = [
        str(python), "-c",
        "import django, sys; from django.core.management import call_command;"
        " django.setup(); call_command('migrate', '--noinput', '-v', '0')",
    ]  # fmt: skip
    env = environment.child_env(DJANGO_SETTINGS_MODULE=PEER_SETTINGS)
    subprocess.run(command, cwd=PROJECT_DIR, env=env, check=True)


@contextmanager
def stomp_listening(environment: BenchEnvironment) -> Iterator[None]:
    """STOMP served by the broker while the block runs: as it is, when something listens on
    the STOMP port already; else the node's plugin enabled for the block, and disabled after.

    Enabling a plugin starts it in the running node: the node, its connections and the other
    protocols' listeners carry on as they were."""
    host = urlsplit(environment.broker_url).hostname or "127.0.0.1"
    if accepts_connections(host, STOMP_PORT):
        yield
        return
    rabbitmq_plugins("enable", STOMP_PLUGIN)
    try:
        deadline = time.monotonic() + STOMP_START_SECONDS
        while not accepts_connections(host, STOMP_PORT):
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens on {host}:{STOMP_PORT} after enabling STOMP")
            time.sleep(0.2)
        yield
    finally:
        rabbitmq_plugins("disable", STOMP_PLUGIN)


def rabbitmq_plugins(*arguments: str) -> None:
    """`rabbitmq-plugins` on the local node of scripts/services.sh (its files under
    SERVICES_RUN_DIR, default .run/), as the rabbitmq user when run as root, as that script
    runs it."""
    directory = Path(os.environ.get("SERVICES_RUN_DIR") or PROJECT_DIR / ".run") / "rabbitmq"
    if not directory.is_dir() or not (tool := shutil.which("rabbitmq-plugins")):
        raise RuntimeError(
            f"STOMP is not served on port {STOMP_PORT} and there is no local RabbitMQ node"
            f" ({directory}) to enable {STOMP_PLUGIN} on: enable it on the broker"
        )
    node_env = [
        f"RABBITMQ_NODENAME={RABBITMQ_NODE}",
        f"RABBITMQ_MNESIA_BASE={directory / 'mnesia'}",
        f"RABBITMQ_LOG_BASE={directory / 'log'}",
        f"RABBITMQ_ENABLED_PLUGINS_FILE={directory / 'enabled_plugins'}",
    ]
    command = ["env", *node_env, tool, "-n", RABBITMQ_NODE, *arguments]
    if os.geteuid() == 0:
        command = ["runuser", "-u", "rabbitmq", "--", *command]
    with open(log_file("rabbitmq-plugins"), "ab") as log:
        subprocess.run(command, cwd=directory, stdout=log, stderr=log, check=True)


def accepts_connections(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def render(rows: Sequence[dict[str, Any]]) -> str:
    """The results as a table, in the style of the run's report."""
    from bench.report import table

    return table(
        "Peer: django-outbox-pattern (STOMP) against our relay, same backlog, database and"
        " vhost (events/s; ratio: median per repeat)",
        [
            ("pending", "size"),
            ("queue", "queue_type"),
            ("ours", "ours_eps"),
            ("peer", "peer_eps"),
            ("peer/ours", "ratio"),
            ("peer by its table", "peer_table_eps"),
            ("cpu us/event ours", "ours_cpu_us_per_event"),
            ("cpu us/event peer", "peer_cpu_us_per_event"),
            ("cpu peer/ours", "cpu_ratio"),
        ],
        rows,
    )


def main(argv: list[str]) -> list[dict[str, Any]]:
    """Measure on a fresh database and vhost; print the table, and write JSON if asked."""
    parser = argparse.ArgumentParser(prog="python -m bench.peer_relay", description=__doc__)
    option = parser.add_argument
    option("--database", default=os.environ.get("BENCH_DATABASE", "bench_outbox"))
    option("--vhost", default=os.environ.get("BENCH_VHOST", "bench_outbox"))
    option("--size", type=int, default=10_000, help="pending events per run")
    option("--repeat", type=int, default=3, help="runs of each; medians are reported")
    option("--queue-types", default="classic,quorum", help="types of the routed queue")
    option("--output", type=Path, help="write the results there as JSON")
    arguments = parser.parse_args(argv)
    environment = BenchEnvironment.fresh(database=arguments.database, vhost=arguments.vhost)
    rows = measure_peer_relay(
        environment,
        size=arguments.size,
        repeat=arguments.repeat,
        queue_types=[name.strip() for name in arguments.queue_types.split(",") if name.strip()],
    )
    print(render(rows))
    if arguments.output:
        arguments.output.parent.mkdir(parents=True, exist_ok=True)
        arguments.output.write_text(json.dumps(rows, indent=2))
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
