"""Commit scaling: how many order transactions PostgreSQL commits per second, by wake-up and
group-commit setting, from 1 to 64 concurrent writers.

pgbench sends a transaction shaped like `POST /orders`: an order row, an item row and the
outbox row of its `OrderCreatedEvent` (the CloudEvent the order context writes), in the real
tables of the migrated bench database, then `COMMIT`, with `synchronous_commit` on. The
settings, each measured at every client count in the same run:
- *notify in commit*: an `AFTER INSERT … FOR EACH STATEMENT` trigger on the outbox table sends
  `pg_notify` inside the transaction (the relay's wake-up until migration outbox 0007). Its
  commit takes a database-wide lock and holds it through its WAL flush;
- *no wake-up*: nothing notifies, the ceiling of this transaction;
- *notify after commit*: the writer sends `outbox.core.relay_wakeup.WAKE_RELAY_SQL` once its
  transaction has committed, as `outbox.core.store.save` does now;
- group commit: `commit_delay` (µs) with `commit_siblings` 5, set on the bench database.

Run on its own, or as the `commits` scenario of `python -m bench.run --only commits`:

    python -m bench.commit_scaling --database bench_commit --vhost bench_commit

`commit_delay` can only be set by a superuser: the harness sets it on the bench database
through BENCH_SUPERUSER_URL (default: the bench database's URL as the local server's
superuser `postgres`, with the password scripts/services.sh gives it).
"""

import argparse
import dataclasses
import json
import os
import re
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg2
from psycopg2 import sql

from bench.environment import BenchEnvironment
from harness.project import local_secret

DEFAULT_CLIENTS = (1, 4, 16, 32, 64)
DEFAULT_COMMIT_DELAYS = (10, 100, 1000)
COMMIT_SIBLINGS = 5
PGBENCH_THREADS = 2
TPS = re.compile(r"tps = ([\d.]+) \((?:without initial connection time|excluding)")
LATENCY = re.compile(r"latency average = ([\d.]+) ms")
# The trigger the harness installs for "notify in commit", as migration outbox 0004 made it.
NOTIFY_TRIGGER = "bench_notify_in_commit"
CREATE_NOTIFY_TRIGGER = f"""
CREATE FUNCTION {NOTIFY_TRIGGER}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('outbox_relay_wakeup', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER {NOTIFY_TRIGGER} AFTER INSERT ON outbox_outboxevent
FOR EACH STATEMENT EXECUTE FUNCTION {NOTIFY_TRIGGER}();
"""
DROP_NOTIFY_TRIGGER = f"""
DROP TRIGGER IF EXISTS {NOTIFY_TRIGGER} ON outbox_outboxevent;
DROP FUNCTION IF EXISTS {NOTIFY_TRIGGER}();
"""
TABLES = ("outbox_outboxevent", "orders_orderitem", "orders_order")


@dataclasses.dataclass(frozen=True)
class Setting:
    """How the writers wake the relay, and PostgreSQL's group commit."""

    wakeup: str  # "notify in commit", "no wake-up" or "notify after commit"
    commit_delay: int = 0  # µs

    @property
    def name(self) -> str:
        if not self.commit_delay:
            return self.wakeup
        return f"{self.wakeup}, commit_delay {self.commit_delay}"


CEILING = "no wake-up"


def default_settings(commit_delays: Sequence[int]) -> list[Setting]:
    """The three wake-ups without group commit, then each commit delay with the wake-up the
    relay uses and with none."""
    settings = [Setting("notify in commit"), Setting(CEILING), Setting("notify after commit")]
    for delay in commit_delays:
        settings += [Setting(CEILING, delay), Setting("notify after commit", delay)]
    return settings


def order_script(wakeup: str) -> str:
    """One pgbench transaction: an order as `POST /orders` writes it, then the wake-up."""
    from outbox.core.relay_wakeup import WAKE_RELAY_SQL

    payload = order_created_payload().replace("'", "''")
    statements = [
        "BEGIN;",
        "INSERT INTO orders_order (version, id, status, total_price, province, city, detail,"
        " created_at, rejection_reason, customer_id, change_refusal_reason,"
        " cancellation_reason)"
        " VALUES (1, gen_random_uuid(), 'CREATED', 20.00, 'Zhejiang', 'Hangzhou',"
        " 'No. 1 West Lake Road', now(), '', 1, '', '') RETURNING id AS order_id \\gset",
        "INSERT INTO orders_orderitem (product_id, count, item_price, order_id)"
        " VALUES (gen_random_uuid(), 2, 10.00, ':order_id');",
        "INSERT INTO outbox_outboxevent (event_id, event_type, service, aggregate_type,"
        " aggregate_id, aggregate_version, payload, created_at, published_at, attempts,"
        " last_error) VALUES (gen_random_uuid(), 'OrderCreatedEvent', 'order', 'Order',"
        f" replace(':order_id', '-', ''), 1, '{payload}'::jsonb, now(), NULL, 0, '');",
        "COMMIT;",
    ]
    if wakeup == "notify after commit":
        # pgbench splits commands at ';'; '\;' keeps the two statements one round trip.
        statements.append(WAKE_RELAY_SQL.replace("; ", "\\; ") + ";")
    return "\n".join(statements) + "\n"


def order_created_payload() -> str:
    """The CloudEvent of an order's `OrderCreatedEvent`, as the outbox stores it."""
    from orders.events import Address, OrderCreatedEvent, OrderLine
    from outbox.core.store import outbox_row

    event = OrderCreatedEvent(
        aggregate_id="5f0c2a5e8f8e4a7c9d4c1b2a3e4f5a6b",
        aggregate_version=1,
        customer_id=1,
        items=(OrderLine(product_id=uuid.uuid4().hex, count=2, item_price=Decimal("10.00")),),
        address=Address(province="Zhejiang", city="Hangzhou", detail="No. 1 West Lake Road"),
        total_price=Decimal("20.00"),
    )
    return json.dumps(outbox_row(event).payload)


def measure_commit_scaling(
    environment: BenchEnvironment,
    *,
    clients: Sequence[int] = DEFAULT_CLIENTS,
    settings: Sequence[Setting] | None = None,
    seconds: int = 10,
) -> list[dict[str, Any]]:
    """Transactions/s and average latency of each setting at each client count, with the
    ratio to no wake-up at the same count. Client counts run in turn, every setting at one
    count back to back, so that a drifting machine weighs on the settings alike."""
    settings = list(settings or default_settings(DEFAULT_COMMIT_DELAYS))
    runs: dict[tuple[Setting, int], tuple[float, float]] = {}
    with own_triggers_disabled(environment):
        for count in clients:
            for setting in settings:
                with applied(environment, setting):
                    runs[setting, count] = run_pgbench(
                        environment, order_script(setting.wakeup), clients=count, seconds=seconds
                    )
    rows = []
    for setting in settings:
        for count in clients:
            tps, latency_ms = runs[setting, count]
            ceiling = runs.get((Setting(CEILING, setting.commit_delay), count))
            rows.append(
                {
                    "setting": setting.name,
                    "wakeup": setting.wakeup,
                    "commit_delay_us": setting.commit_delay,
                    "commit_siblings": COMMIT_SIBLINGS,
                    "clients": count,
                    "tps": tps,
                    "latency_ms": latency_ms,
                    "ratio": tps / ceiling[0] if ceiling else None,
                    "ratio_to_no_delay": tps / runs[Setting(setting.wakeup), count][0]
                    if (Setting(setting.wakeup), count) in runs
                    else None,
                }
            )
    return rows


def run_pgbench(
    environment: BenchEnvironment, script_text: str, *, clients: int, seconds: int
) -> tuple[float, float]:
    """(transactions/s, average latency in ms) of pgbench running `script_text`."""
    truncate_and_checkpoint(environment)
    with tempfile.NamedTemporaryFile("w", suffix=".sql") as script:
        script.write(script_text)
        script.flush()
        result = subprocess.run(
            [
                "pgbench", "--no-vacuum", f"--client={clients}",
                f"--jobs={min(clients, PGBENCH_THREADS)}", f"--time={seconds}",
                f"--file={script.name}",
            ],
            env=environment.child_env(), capture_output=True, text=True, check=False,
        )  # fmt: skip
    tps, latency = TPS.search(result.stdout), LATENCY.search(result.stdout)
    if result.returncode or tps is None or latency is None:
        raise RuntimeError(f"pgbench failed:\n{result.stdout}\n{result.stderr}")
    return float(tps.group(1)), float(latency.group(1))


def superuser_url(environment: BenchEnvironment) -> str:
    """A superuser's URL to the bench database: BENCH_SUPERUSER_URL, or the local server's
    superuser `postgres` with this clone's password for it."""
    if url := os.environ.get("BENCH_SUPERUSER_URL"):
        return url
    parts = urlsplit(environment.database_url)
    host = f"{parts.hostname}:{parts.port or 5432}"
    password = quote(local_secret("postgres-superuser"), safe="")
    return urlunsplit(parts._replace(netloc=f"postgres:{password}@{host}"))


@contextmanager
def superuser(environment: BenchEnvironment) -> Iterator[Any]:
    try:
        connection = psycopg2.connect(superuser_url(environment))
    except psycopg2.OperationalError as error:
        raise RuntimeError(
            f"commit_delay needs a superuser: set BENCH_SUPERUSER_URL ({error})"
        ) from None
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            yield cursor
    finally:
        connection.close()


@contextmanager
def applied(environment: BenchEnvironment, setting: Setting) -> Iterator[None]:
    """The setting in force for new sessions of the bench database, and undone after."""
    database = sql.Identifier(environment.database)
    with superuser(environment) as cursor:
        cursor.execute(
            sql.SQL("ALTER DATABASE {} SET commit_delay = {}").format(
                database, sql.Literal(setting.commit_delay)
            )
        )
        cursor.execute(
            sql.SQL("ALTER DATABASE {} SET commit_siblings = {}").format(
                database, sql.Literal(COMMIT_SIBLINGS)
            )
        )
    if setting.wakeup == "notify in commit":
        execute(environment, CREATE_NOTIFY_TRIGGER)
    try:
        yield
    finally:
        execute(environment, DROP_NOTIFY_TRIGGER)
        with superuser(environment) as cursor:
            cursor.execute(sql.SQL("ALTER DATABASE {} RESET commit_delay").format(database))
            cursor.execute(sql.SQL("ALTER DATABASE {} RESET commit_siblings").format(database))


@contextmanager
def own_triggers_disabled(environment: BenchEnvironment) -> Iterator[None]:
    """The outbox table's own triggers (a relay wake-up, in a database migrated before
    outbox 0007) off for the run: each setting brings its wake-up."""
    execute(environment, "ALTER TABLE outbox_outboxevent DISABLE TRIGGER USER")
    try:
        yield
    finally:
        execute(environment, "ALTER TABLE outbox_outboxevent ENABLE TRIGGER USER")


def truncate_and_checkpoint(environment: BenchEnvironment) -> None:
    """Empty tables, and no checkpoint due in the middle of the next measurement."""
    execute(environment, f"TRUNCATE {', '.join(TABLES)}")
    with superuser(environment) as cursor:
        cursor.execute("CHECKPOINT")


def execute(environment: BenchEnvironment, statement: str) -> None:
    connection = psycopg2.connect(environment.database_url)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement)
    finally:
        connection.close()


COLUMNS = (
    ("setting", "setting"),
    ("clients", "clients"),
    ("txn/s", "tps"),
    ("latency avg ms", "latency_ms"),
    ("/ no wake-up", "ratio"),
    ("/ commit_delay 0", "ratio_to_no_delay"),
)


def render(rows: Sequence[dict[str, Any]]) -> str:
    """The run as a titled table, one line per setting and client count."""
    from bench.report import table

    return table(
        "Commit scaling: order transactions per second (pgbench, synchronous_commit on)",
        COLUMNS,
        rows,
    )


def main(argv: list[str]) -> list[dict[str, Any]]:
    """Recreate and migrate the bench database, measure, print the table and the JSON path."""

    env = os.environ.get
    parser = argparse.ArgumentParser(
        prog="python -m bench.commit_scaling", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--database", default=env("BENCH_DATABASE", "bench_outbox"))
    parser.add_argument(
        "--vhost",
        default=env("BENCH_VHOST", "bench_outbox"),
        help="unused (no broker takes part); taken as by the other bench modules",
    )
    parser.add_argument(
        "--clients",
        type=lambda text: [int(item) for item in text.split(",")],
        default=list(DEFAULT_CLIENTS),
        help="pgbench client counts (default 1,4,16,32,64)",
    )
    parser.add_argument(
        "--commit-delays",
        type=lambda text: [int(item) for item in text.split(",") if item],
        default=list(DEFAULT_COMMIT_DELAYS),
        help="commit_delay values in µs besides 0 (default 10,100,1000)",
    )
    parser.add_argument("--seconds", type=int, default=int(env("BENCH_COMMIT_SECONDS", "10")))
    parser.add_argument("--output", help="write the rows as JSON to this file too")
    arguments = parser.parse_args(argv)
    environment = BenchEnvironment.fresh(database=arguments.database, vhost=arguments.vhost)
    rows = measure_commit_scaling(
        environment,
        clients=arguments.clients,
        settings=default_settings(arguments.commit_delays),
        seconds=arguments.seconds,
    )
    print(render(rows))
    if arguments.output:
        with open(arguments.output, "w") as output:
            json.dump(rows, output, indent=2)
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
