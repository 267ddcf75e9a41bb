"""Replication: what synchronous replication and the outbox's standby guard cost the relay's
throughput and an order's latency, against asynchronous replication without the guard.

    python -m bench.replication                  # starts a cluster of its own, stops it after
    python -m bench.run --only replication       # the same, as a scenario of the runner
    python -m bench.replication --relay-size 50000 --rate 80 --seconds 60 --repeat 2

It runs on a three-member PostgreSQL cluster of its own, started for the run and stopped after
it by scripts/pg_cluster.sh (PG_CLUSTER_NAME=bench: PostgreSQL on 5463-5465, Patroni's REST API
on 8038-8040, etcd on 2409-2410), beside the local server of the other scenarios and any `make
pg-cluster`. The run's database is made afresh on the cluster through the URL that names every
member (each connection goes to the primary); the vhost is the run's. Four modes, in one run:

- asynchronous replication, guard off: the reference each ratio is taken against;
- asynchronous replication, guard on (OUTBOX_WAIT_FOR_STANDBY=true): the relay publishes a
  claimed batch once a standby has flushed WAL past the claim, and a worker acknowledges a
  handled batch once one has flushed past its commit (outbox/core/replication.py);
- synchronous replication (Patroni's synchronous_mode, strict), guard off: each commit returns
  once the synchronous standby has flushed it;
- synchronous replication, guard on.

Each mode measures
- relay: N pending outbox rows (`bench.backlog`) drained by one relay process into a queue of
  the configured type, timed as `bench.relay_throughput` times it; events/s;
- latency: orders at a fixed rate through the API, with the web, the relay and the two workers
  started afresh for the mode (`bench.latency`); order committed -> handled by inventory, p50,
  p95 and p99.

The guard is an environment variable of the processes that publish and consume, all children:
this process only writes the backlog and reads the results. That it applied is read from the
relay's own metrics (`outbox_standby_wait_seconds`): the batches it held, and their mean wait.
A latency phase whose relay was held with the guard off, or not held with it on, fails the run.

The replication mode switches with `scripts/pg_cluster.sh mode`. A drain and a short phase of
orders, not kept, come first. Each measurement starts after a CHECKPOINT on the primary and
once both standbys have flushed up to it, so that none meets a checkpoint or a replication lag
that the one before left. With --repeat, the modes run in turn, every other repeat in reverse
(ABBA), and a ratio is the median of each repeat's own, against the reference of the same
repeat.
"""

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import psycopg2
import requests
from prometheus_client.parser import text_string_to_metric_families

from bench.environment import BenchEnvironment
from harness.ports import free_port
from harness.project import PROJECT_DIR
from harness.waiting import wait_until

PG_CLUSTER = PROJECT_DIR / "scripts" / "pg_cluster.sh"
# The bench cluster's name and ports, beside `make pg-cluster`'s (5433-5435, REST 8008-8010,
# etcd 2379) and the failover tests' (5443-5445, 8018-8020, 2389), which may be running.
CLUSTER_ENV = {
    "PG_CLUSTER_NAME": "bench",
    "PG_CLUSTER_PORT_BASE": "5463",
    "PG_CLUSTER_REST_PORT_BASE": "8038",
    "PG_CLUSTER_ETCD_PORT": "2409",
}
# How this module, run by `python -m bench.run`, is given the cluster's superuser URL.
SUPERUSER_URL_VARIABLE = "BENCH_CLUSTER_SUPERUSER_URL"
PG_CLUSTER_ATTEMPTS = 3
PG_CLUSTER_RETRY_SECONDS = 2.0
STANDBYS = 2
ROUTED_QUEUE = "bench-replication-q"
# The relay's metrics are read this often: a drain of a few seconds is read several times.
SCRAPE_SECONDS = 0.25
CATCH_UP_SECONDS = 60
WAIT_METRIC = "outbox_standby_wait_seconds"

WARM_UP_SECONDS = 10.0
DEFAULT_RELAY_SIZE = 20_000
DEFAULT_RATE = 40.0
DEFAULT_SECONDS = 30.0


@dataclasses.dataclass(frozen=True)
class Mode:
    """PostgreSQL's replication, and the outbox's guard in the processes."""

    synchronous: bool
    guard: bool

    @property
    def replication(self) -> str:
        """The word `scripts/pg_cluster.sh mode` takes."""
        return "synchronous" if self.synchronous else "asynchronous"

    @property
    def name(self) -> str:
        return f"{self.replication}, guard {'on' if self.guard else 'off'}"


REFERENCE = Mode(synchronous=False, guard=False)
# In the order of even repeats; odd repeats reverse it. Either way the replication mode switches
# once within a repeat, and not between two.
MODES = (
    REFERENCE,
    Mode(synchronous=False, guard=True),
    Mode(synchronous=True, guard=False),
    Mode(synchronous=True, guard=True),
)


@dataclasses.dataclass(frozen=True)
class ClusterEnvironment(BenchEnvironment):
    """The run's database on the bench cluster (its URL names the three members), and the
    guard and relay metrics port of the processes started to work on it."""

    guard: bool = False
    relay_metrics_port: int = 0

    def child_env(self, **extra: str) -> dict[str, str]:
        return super().child_env(
            **{
                "OUTBOX_WAIT_FOR_STANDBY": "true" if self.guard else "false",
                # The check that the guard applied reads the relay's metrics.
                "METRICS_ENABLED": "true",
                "RELAY_METRICS_PORT": str(self.relay_metrics_port or ""),
                **extra,
            }
        )


def pg_cluster(*arguments: str, **env: str) -> str:
    """scripts/pg_cluster.sh run on the bench cluster, with `env` added; what it printed on
    stdout. Its messages are shown only when it fails: `start` prints the URL with its password.

    Every command of it is idempotent, and `url` and `mode` first ask Patroni's REST API with a
    timeout of two seconds, which a loaded machine can miss: a failed command is run again."""
    for attempt in range(1, PG_CLUSTER_ATTEMPTS + 1):
        done = subprocess.run(
            [str(PG_CLUSTER), *arguments],
            cwd=PROJECT_DIR, env={**os.environ, **CLUSTER_ENV, **env},
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if not done.returncode:
            return done.stdout.strip()
        if attempt < PG_CLUSTER_ATTEMPTS:
            time.sleep(PG_CLUSTER_RETRY_SECONDS)
    raise RuntimeError(
        f"scripts/pg_cluster.sh {' '.join(arguments)} failed ({done.returncode}) "
        f"{PG_CLUSTER_ATTEMPTS} times:\n{done.stderr[-3000:]}"
    )


class ClusterUrls(NamedTuple):
    app: str  # the role ecommerce, to the database ecommerce
    superuser: str  # postgres, to the database postgres: CHECKPOINT, pg_stat_replication


@contextmanager
def bench_cluster(first: Mode) -> Iterator[ClusterUrls]:
    """The bench cluster running, in the replication mode `first` measures, and its URLs.
    Stopped when the block ends, however it ends."""
    try:
        pg_cluster("start", PG_CLUSTER_SYNCHRONOUS="true" if first.synchronous else "false")
        print(f"  bench cluster started: {first.replication} replication", flush=True)
        yield ClusterUrls(pg_cluster("url"), pg_cluster("superuser-url"))
    finally:
        pg_cluster("stop")
        print("  bench cluster stopped", flush=True)


def settle(superuser_url: str) -> None:
    """A CHECKPOINT on the primary, then both standbys flushed up to the WAL after it."""
    connection = psycopg2.connect(superuser_url)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("CHECKPOINT")
            cursor.execute("SELECT pg_current_wal_lsn()::text")
            position = single_value(cursor)

            def flushed() -> bool:
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_replication WHERE flush_lsn >= %s::pg_lsn",
                    [position],
                )
                return single_value(cursor) >= STANDBYS

            wait_until(
                flushed, timeout=CATCH_UP_SECONDS, what=f"{STANDBYS} standbys flushing {position}"
            )
    finally:
        connection.close()


def single_value(cursor: Any) -> Any:
    """The one value of the one row a statement returned."""
    row = cursor.fetchone()
    assert row is not None, "the statement returns a row"
    return row[0]


@dataclasses.dataclass(frozen=True)
class StandbyWaits:
    """The relay's `outbox_standby_wait_seconds` at one reading of its metrics: how many
    batches the guard held before publishing them, and for how long in all."""

    batches: int = 0
    seconds: float = 0.0

    @property
    def mean_ms(self) -> float | None:
        return 1000 * self.seconds / self.batches if self.batches else None


def read_standby_waits(session: requests.Session, port: int) -> StandbyWaits | None:
    """The relay's waits so far, from its metrics port; None while nothing answers there."""
    try:
        answer = session.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
        answer.raise_for_status()
    except requests.RequestException:
        return None
    batches, seconds = 0.0, 0.0
    for family in text_string_to_metric_families(answer.text):
        if family.name != WAIT_METRIC:
            continue
        for sample in family.samples:
            if sample.labels.get("process") != "relay":
                continue
            if sample.name == f"{WAIT_METRIC}_count":
                batches += sample.value
            elif sample.name == f"{WAIT_METRIC}_sum":
                seconds += sample.value
    return StandbyWaits(int(batches), seconds)


class WaitsReader:
    """Reads the relay's waits every SCRAPE_SECONDS from a thread while a block runs, for a
    relay process that ends with its drain: `last` is as of the last reading, which the drain's
    last batches may come after."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.last = StandbyWaits()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        with requests.Session() as session:
            while not self.stopped.wait(SCRAPE_SECONDS):
                self.last = read_standby_waits(session, self.port) or self.last


@contextmanager
def waits_read(port: int) -> Iterator[WaitsReader]:
    reader = WaitsReader(port)
    reader.thread.start()
    try:
        yield reader
    finally:
        reader.stopped.set()
        reader.thread.join()


def measure_relay(environment: ClusterEnvironment, superuser_url: str, size: int) -> dict:
    """One relay process drains `size` pending rows into a queue of the configured type."""
    from django.conf import settings
    from kombu import Connection

    from bench import backlog
    from bench.relay_throughput import pending_count, queue_depth, routed_queue, run_publishers
    from outbox.core import topology

    environment.reset_vhost()
    backlog.truncate_tables()
    backlog.insert_pending(size)
    with Connection(environment.broker_url) as broker:
        channel: Any = broker.default_channel
        exchange = topology.publish_exchange("product")
        channel.exchange_declare(exchange, "topic", durable=True, auto_delete=False)
        routed_queue(channel, ROUTED_QUEUE, exchange, settings.OUTBOX["QUEUE_TYPE"])
        settle(superuser_url)
        with waits_read(environment.relay_metrics_port) as reader:
            run = run_publishers(
                environment, "relay", 1, settings.OUTBOX["RELAY_BATCH_SIZE"], expected=size
            )
        routed = queue_depth(channel, ROUTED_QUEUE)
        channel.queue_delete(ROUTED_QUEUE)
    left = pending_count()
    if routed != size or left:
        raise RuntimeError(f"relay: {routed} of {size} messages routed, {left} left pending")
    return {
        "relay_eps": run.eps,
        "relay_cpu_us_per_event": 1e6 * run.cpu_seconds / size,
        "relay_standby_waits": reader.last.batches,
        "relay_standby_wait_ms": reader.last.mean_ms,
    }


def measure_orders(
    environment: ClusterEnvironment, superuser_url: str, mode: Mode, rate: float, seconds: float
) -> dict:
    """Orders at `rate` for `seconds`, through the web, the relay and the two workers started
    afresh with the mode's guard as `bench.latency` starts them, measured by its `run_phase`;
    the relay's waits for a standby are read before it stops, so that all of them count."""
    from bench import backlog
    from bench.latency import run_phase, start_shop
    from bench.load import PacedOrders
    from outbox.core.broker import declare_topology

    environment.reset_vhost()
    declare_topology()
    backlog.truncate_tables()
    settle(superuser_url)
    port = free_port()
    with environment.processes() as children, requests.Session() as session:
        customer_token, product_ids = start_shop(children, port)
        load = PacedOrders(
            port=port,
            token=customer_token,
            product_ids=product_ids,
            rate=rate,
            count=round(rate * seconds),
        )
        phase = run_phase(load, children)
        waits = read_standby_waits(session, environment.relay_metrics_port)
    # The relay took a few hundred batches through: the guard held them if, and only if, on.
    if waits is None or (waits.batches > 0) != mode.guard:
        raise RuntimeError(f"{mode.name}: the relay's metrics say it was held: {waits}")
    return {
        **phase,
        "latency_standby_waits": waits.batches,
        "latency_standby_wait_ms": waits.mean_ms,
    }


def measure_mode(
    environment: ClusterEnvironment,
    superuser_url: str,
    mode: Mode,
    *,
    relay_size: int,
    rate: float,
    seconds: float,
    kept: bool = True,
) -> dict[str, Any]:
    """The relay's drain, then the orders' latency, in `mode`. Not `kept`: a warm-up, a drain
    and a phase of orders of at most WARM_UP_SECONDS in the mode measured first. On a cluster
    just started and a database just made, the first phase of orders had a p95 two to four
    times the other modes' in three runs out of three: it would weigh on the first mode alone."""
    pg_cluster("mode", mode.replication)
    guarded = dataclasses.replace(environment, guard=mode.guard, relay_metrics_port=free_port())
    relay = measure_relay(guarded, superuser_url, relay_size)
    guarded = dataclasses.replace(guarded, relay_metrics_port=free_port())
    orders = measure_orders(
        guarded, superuser_url, mode, rate, seconds if kept else min(seconds, WARM_UP_SECONDS)
    )
    run = {**relay, **orders}
    print(
        f"  {mode.name if kept else 'warm-up, not kept'}: relay {run['relay_eps']:,.0f} events/s"
        f" (held {run['relay_standby_waits']} batches); latency p50 {run['p50_ms']:.1f}"
        f" p95 {run['p95_ms']:.1f} p99 {run['p99_ms']:.1f} ms over {run['orders']} orders"
        f" (held {run['latency_standby_waits']} batches)",
        flush=True,
    )
    return run


def orders_of_modes(repeat: int) -> list[list[Mode]]:
    """The modes of each repeat: in turn, then in reverse, and so on."""
    return [list(MODES) if index % 2 == 0 else list(reversed(MODES)) for index in range(repeat)]


def measure_on_cluster(
    environment: ClusterEnvironment,
    superuser_url: str,
    *,
    relay_size: int,
    rate: float,
    seconds: float,
    repeat: int,
) -> list[dict[str, Any]]:
    """One result per mode, in a process whose Django uses the running bench cluster."""
    measure_mode(
        environment,
        superuser_url,
        orders_of_modes(repeat)[0][0],
        relay_size=relay_size,
        rate=rate,
        seconds=seconds,
        kept=False,
    )
    runs = [
        {
            mode: measure_mode(
                environment, superuser_url, mode, relay_size=relay_size, rate=rate, seconds=seconds
            )
            for mode in modes
        }
        for modes in orders_of_modes(repeat)
    ]
    return [
        {
            "mode": mode.name,
            "replication": mode.replication,
            "guard": mode.guard,
            "relay_size": relay_size,
            "rate": rate,
            "seconds": seconds,
            "repeat": repeat,
            **summary(mode, runs),
        }
        for mode in MODES
    ]


def summary(mode: Mode, runs: Sequence[dict[Mode, dict[str, Any]]]) -> dict[str, Any]:
    """Medians of a mode's runs, and of each repeat's ratios to the reference."""
    mine = [repeat[mode] for repeat in runs]

    def median(key: str) -> float | None:
        values = [run[key] for run in mine if run[key] is not None]
        return statistics.median(values) if values else None

    def ratio(key: str) -> float:
        return statistics.median(repeat[mode][key] / repeat[REFERENCE][key] for repeat in runs)

    return {
        "relay_eps": median("relay_eps"),
        "relay_eps_runs": [run["relay_eps"] for run in mine],
        "relay_ratio": ratio("relay_eps"),
        "relay_cpu_us_per_event": median("relay_cpu_us_per_event"),
        "relay_standby_waits": sum(run["relay_standby_waits"] for run in mine),
        "relay_standby_wait_ms": median("relay_standby_wait_ms"),
        "orders": sum(run["orders"] for run in mine),
        "achieved_rate": median("achieved_rate"),
        "failed": sum(run["errors"] + run["not_sent"] for run in mine),
        **{f"p{pct}_ms": median(f"p{pct}_ms") for pct in (50, 95, 99)},
        **{f"p{pct}_ratio": ratio(f"p{pct}_ms") for pct in (50, 95, 99)},
        "max_ms": median("max_ms"),
        "claimed_p50_ms": median("claimed_p50_ms"),
        "latency_standby_waits": sum(run["latency_standby_waits"] for run in mine),
        "latency_standby_wait_ms": median("latency_standby_wait_ms"),
        # Every figure of each repeat, the CPU per order by part among them.
        "runs": mine,
    }


def fresh_environment(database: str, vhost: str) -> ClusterEnvironment:
    """The run's database made afresh on the cluster DATABASE_URL names, and migrated; this
    process's Django set up against it."""
    environment = ClusterEnvironment.fresh(database=database, vhost=vhost)
    assert isinstance(environment, ClusterEnvironment)  # fresh makes one of its own class
    return environment


def measure_replication(
    environment: BenchEnvironment, *, relay_size: int, rate: float, seconds: float, repeat: int
) -> list[dict[str, Any]]:
    """`python -m bench.run`'s scenario: the bench cluster started, the modes measured by this
    module in a child process whose Django uses the cluster (this process's uses the run's
    database on the local server), and the cluster stopped."""
    with bench_cluster(MODES[0]) as urls, tempfile.TemporaryDirectory() as directory:
        output = Path(directory) / "replication.json"
        subprocess.run(
            [
                sys.executable, "-m", "bench.replication", "--cluster-running",
                "--database", environment.database, "--vhost", environment.vhost,
                "--relay-size", str(relay_size), "--rate", str(rate),
                "--seconds", str(seconds), "--repeat", str(repeat), "--output", str(output),
            ],
            cwd=PROJECT_DIR,
            env={
                **os.environ, "DATABASE_URL": urls.app, SUPERUSER_URL_VARIABLE: urls.superuser,
                "CELERY_BROKER_URL": environment.broker_url,
                "RABBITMQ_MANAGEMENT_URL": environment.management_url,
            },
            check=True,
        )  # fmt: skip
        return json.loads(output.read_text())


COLUMNS = (
    ("mode", "mode"),
    ("relay events/s", "relay_eps"),
    ("relay ratio", "relay_ratio"),
    ("relay held ms/batch", "relay_standby_wait_ms"),
    ("orders", "orders"),
    ("p50", "p50_ms"),
    ("p95", "p95_ms"),
    ("p99", "p99_ms"),
    ("p50 ratio", "p50_ratio"),
    ("p95 ratio", "p95_ratio"),
    ("p99 ratio", "p99_ratio"),
    ("held ms/batch", "latency_standby_wait_ms"),
    ("failed", "failed"),
)


def render(rows: Sequence[dict[str, Any]]) -> str:
    """The run as a titled table, one line per mode."""
    from bench.report import table

    first = rows[0]
    return table(
        f"Replication: relay draining {first['relay_size']:,} pending rows (events/s), and order"
        f" committed -> handled by inventory at {first['rate']:g}/s for {first['seconds']:g} s"
        " (ms);\nratio: to asynchronous with the guard off, median per repeat; held: the relay's"
        " mean wait for a standby per batch",
        COLUMNS,
        rows,
    )


def main(argv: list[str]) -> list[dict[str, Any]]:
    """Measure every mode on the bench cluster, started here unless it runs; print the table
    and write the JSON."""

    def env(name: str, default: str) -> str:
        return os.environ.get(name) or default

    parser = argparse.ArgumentParser(
        prog="python -m bench.replication", description=__doc__.split("\n")[0]
    )
    option = parser.add_argument
    option(
        "--relay-size",
        type=lambda text: int(float(text)),
        default=env("BENCH_REPLICATION_RELAY_SIZE", str(DEFAULT_RELAY_SIZE)),
        help="pending outbox rows the relay drains in each mode",
    )
    option(
        "--rate",
        type=float,
        default=float(env("BENCH_REPLICATION_RATE", str(DEFAULT_RATE))),
        help="orders per second of each mode's latency phase",
    )
    option(
        "--seconds",
        type=float,
        default=float(env("BENCH_REPLICATION_SECONDS", str(DEFAULT_SECONDS))),
        help="length of each mode's latency phase",
    )
    option(
        "--repeat",
        type=int,
        default=int(env("BENCH_REPLICATION_REPEAT", "1")),
        help="runs of the four modes, every other one in reverse order",
    )
    option("--database", default=env("BENCH_DATABASE", "bench_outbox"))
    option("--vhost", default=env("BENCH_VHOST", "bench_outbox"))
    option("--output", type=Path, help="write the rows as JSON to this file too")
    option(
        "--cluster-running",
        action="store_true",
        help="the bench cluster runs and DATABASE_URL names it (and"
        f" {SUPERUSER_URL_VARIABLE} as its superuser, else scripts/pg_cluster.sh superuser-url"
        " is asked): measure, write --output, print no table (as `python -m bench.run` runs"
        " this module)",
    )
    arguments = parser.parse_args(argv)
    measured = {
        "relay_size": arguments.relay_size,
        "rate": arguments.rate,
        "seconds": arguments.seconds,
        "repeat": arguments.repeat,
    }
    if arguments.cluster_running:
        superuser_url = os.environ.get(SUPERUSER_URL_VARIABLE) or pg_cluster("superuser-url")
        environment = fresh_environment(arguments.database, arguments.vhost)
        rows = measure_on_cluster(environment, superuser_url, **measured)
    else:
        with bench_cluster(MODES[0]) as urls:
            os.environ["DATABASE_URL"] = urls.app
            environment = fresh_environment(arguments.database, arguments.vhost)
            rows = measure_on_cluster(environment, urls.superuser, **measured)
        print(render(rows))
    if arguments.output:
        arguments.output.write_text(json.dumps(rows, indent=2))
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
