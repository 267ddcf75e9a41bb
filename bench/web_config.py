"""The web server alone: what one `POST /orders` costs it, and which gunicorn worker class and
count take the most orders on this machine.

    python -m bench.web_config --database bench_api --vhost bench_api
    python -m bench.web_config --configs sync:2,gthread:2x4 --rate 200 --seconds 20
    python -m bench.web_config --smoke        # a few orders: the harness works

First, in this process through Django's test client (a real token, the run's database): the
SQL statements of one order and the CPU each order costs the Django side, without HTTP. Then
gunicorn, one configuration at a time, taking orders at a fixed open-loop rate
(`bench.load.PacedOrders`) with no relay and no worker running: the orders only land in the
outbox, so the web server and PostgreSQL have the machine to themselves (with the load
generator). Per configuration: orders accepted per second, the API's p50 and p99 as the client
saw them, and the CPU the web server (master and workers) and PostgreSQL spent per order.
"""

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from bench.environment import BenchEnvironment
from harness.ports import free_port
from harness.project import PROJECT_DIR

RESULTS_DIR = PROJECT_DIR / "bench" / "results"
# The CPU a configuration spends per order is read over the measured phase only: each worker
# has served its first requests (imports, connections, the token cache) before it starts.
WARM_UP_ORDERS = 100
WARM_UP_RATE = 50.0
PRODUCTS = 20


class WebConfig(NamedTuple):
    """A gunicorn worker class with its worker processes and threads per worker."""

    worker_class: str
    workers: int
    threads: int = 1

    @classmethod
    def parse(cls, text: str) -> "WebConfig":
        """`sync:2` (two sync workers) or `gthread:2x4` (two workers of four threads)."""
        worker_class, _, count = text.strip().partition(":")
        workers, _, threads = count.partition("x")
        return cls(worker_class, int(workers), int(threads or 1))

    @property
    def name(self) -> str:
        if self.worker_class == "sync":
            return f"sync:{self.workers}"
        return f"{self.worker_class}:{self.workers}x{self.threads}"

    def gunicorn_options(self) -> list[str]:
        return [
            "--worker-class", self.worker_class,
            "--workers", str(self.workers),
            "--threads", str(self.threads),
        ]  # fmt: skip


DEFAULT_CONFIGS = [
    *(WebConfig("sync", workers) for workers in (1, 2, 3, 4)),
    *(WebConfig("gthread", workers, threads) for workers in (1, 2, 3, 4) for threads in (2, 4, 8)),
]


def measure_web_configs(
    environment: BenchEnvironment,
    *,
    configs: Sequence[WebConfig] = DEFAULT_CONFIGS,
    rate: float = 200.0,
    seconds: float = 15.0,
    repeat: int = 1,
) -> list[dict[str, Any]]:
    """One row per configuration: orders sent at `rate` for `seconds` to gunicorn running it,
    `repeat` times in rounds that visit the configurations forth and back (so that a slow
    spell of a shared machine falls on several of them); each figure is the median."""
    from bench.latency import api_tokens

    _, customer_token = api_tokens()
    product_ids = catalog_products()
    rounds: dict[WebConfig, list[dict[str, Any]]] = {config: [] for config in configs}
    for round_index in range(repeat):
        for config in configs if round_index % 2 == 0 else list(reversed(configs)):
            rounds[config].append(
                progress(
                    measure_config(
                        environment,
                        config,
                        token=customer_token,
                        product_ids=product_ids,
                        rate=rate,
                        seconds=seconds,
                    )  # fmt: skip
                )
            )
    return [median_row(rows) for rows in rounds.values()]


def median_row(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The first row, each of its numbers replaced by the median over the rows."""
    merged = dict(rows[0], rounds=len(rows))
    for key, value in rows[0].items():
        if isinstance(value, float) or (
            isinstance(value, int) and key not in ("workers", "threads")
        ):
            values = [row[key] for row in rows if row[key] is not None]
            merged[key] = statistics.median(values) if values else None
    return merged


def measure_config(
    environment: BenchEnvironment,
    config: WebConfig,
    *,
    token: str,
    product_ids: list[str],
    rate: float,
    seconds: float,
) -> dict[str, Any]:
    """Start gunicorn with `config`, warm it up, then send the measured orders."""
    from bench import cpu
    from bench.load import PacedOrders

    empty_orders()
    port = free_port()
    with environment.processes() as children:
        children.start_web("web", *config.gunicorn_options(), port=port)

        def paced(rate: float, count: int) -> PacedOrders:
            return PacedOrders(
                port=port, token=token, product_ids=product_ids, rate=rate, count=count
            )

        paced(WARM_UP_RATE, WARM_UP_ORDERS).run()
        before = cpu.cpu_seconds(children)
        sent = paced(rate, round(rate * seconds)).run()
        spent = cpu.spent_between(before, cpu.cpu_seconds(children))
    accepted = len(sent.order_ids)
    response_ms = sorted(sent.response_ms)
    return {
        "config": config.name,
        "worker_class": config.worker_class,
        "workers": config.workers,
        "threads": config.threads,
        "rate": rate,
        "accepted": accepted,
        "accepted_per_second": accepted / sent.elapsed_seconds,
        "errors": sent.errors,
        "not_sent": sent.not_sent,
        "api_p50_ms": statistics.median(response_ms) if response_ms else None,
        "api_p99_ms": response_ms[int(0.99 * (len(response_ms) - 1))] if response_ms else None,
        "web_cpu_ms_per_order": per_order(spent.get("web"), accepted),
        # The whole server's, other databases' sessions included: on a shared machine, noise.
        "postgresql_cpu_ms_per_order": per_order(spent.get("postgresql"), accepted),
        "load_generator_cpu_ms_per_order": per_order(spent.get("load generator"), accepted),
    }


def empty_orders() -> None:
    """Drop the orders, outbox rows and audit records of the previous configuration, keeping
    the catalog, the users and their tokens: each configuration inserts into tables of the
    same size."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE orders_order, orders_orderitem, outbox_outboxevent, outbox_auditrecord"
            " RESTART IDENTITY CASCADE"
        )


def per_order(seconds: float | None, orders: int) -> float | None:
    return 1000 * seconds / orders if seconds is not None and orders else None


def catalog_products() -> list[str]:
    """Products that orders may name, written straight into the order context's catalog
    copy: with no relay running, no ProductCreatedEvent would bring them there."""
    import uuid
    from decimal import Decimal

    from orders.models import CatalogProduct

    products = [
        CatalogProduct(
            product_id=uuid.uuid4(),
            name=f"Bench product {index}",
            price=Decimal("10"),
            product_version=1,
        )  # fmt: skip
        for index in range(PRODUCTS)
    ]
    CatalogProduct.objects.bulk_create(products)
    return [product.product_id.hex for product in products]


def profile_order_request(*, orders: int = 300) -> dict[str, Any]:
    """The statements of one `POST /orders` (its token seen before, as on a busy server), and
    the CPU the Django side spends per order without HTTP, over `orders` requests."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    from bench.latency import api_tokens

    _, customer_token = api_tokens()
    product_id = catalog_products()[0]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {customer_token}")
    body = {
        "items": [{"productId": product_id, "count": 1, "itemPrice": 10}],
        "address": {"province": "Sichuan", "city": "Chengdu", "detail": "Bench"},
    }

    def order() -> None:
        response = client.post("/orders", body, format="json")
        if response.status_code != 201:
            raise RuntimeError(f"POST /orders answered {response.status_code}: {response.content}")

    for _ in range(20):
        order()
    with CaptureQueriesContext(connection) as captured:
        order()
    # Read now: the next request empties the connection's log that `captured` reads.
    statements = [statement["sql"] for statement in captured.captured_queries]
    started = time.process_time()
    for _ in range(orders):
        order()
    return {
        "statements": len(statements),
        "sql": statements,
        "in_process_cpu_ms_per_order": 1000 * (time.process_time() - started) / orders,
    }


WEB_CONFIGS = (
    "gunicorn taking POST /orders at a fixed rate, no relay or worker running (CPU: ms of one"
    " core per accepted order, from /proc)",
    [
        ("config", "config"),
        ("orders/s sent", "rate"),
        ("accepted/s", "accepted_per_second"),
        ("API p50 ms", "api_p50_ms"),
        ("API p99 ms", "api_p99_ms"),
        ("web CPU", "web_cpu_ms_per_order"),
        ("failed", lambda row: row["errors"] + row["not_sent"]),
        ("rounds", "rounds"),
    ],
)


def render(results: dict[str, Any]) -> str:
    """The run's table of configurations, after the statements and CPU of one order."""

    profile = results.get("profile")
    lines = []
    if profile:
        lines += [
            f"POST /orders in process: {profile['statements']} SQL statements, "
            f"{profile['in_process_cpu_ms_per_order']:.2f} ms of CPU per order",
            *(f"  {sql[:110]}" for sql in profile["sql"]),
            "",
        ]
    lines.append(render_configs(results.get("web_configs", [])))
    return "\n".join(lines)


def render_configs(rows: Sequence[dict[str, Any]]) -> str:
    """The table of gunicorn configurations measured."""
    from bench.report import table

    title, columns = WEB_CONFIGS
    return table(title, columns, list(rows))


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.web_config", description=__doc__.split("\n")[0]
    )
    option = parser.add_argument
    option(
        "--configs",
        type=lambda text: [WebConfig.parse(item) for item in text.split(",") if item.strip()],
        default=DEFAULT_CONFIGS,
        help="worker class:workers[xthreads], comma-separated (default: sync 1-4, gthread"
        " 1-4 x 2/4/8)",
    )
    option("--rate", type=float, default=200.0, help="orders per second sent to each config")
    option("--seconds", type=float, default=15.0, help="length of each config's phase")
    option("--repeat", type=int, default=1, help="rounds over the configs; medians reported")
    option("--profile-orders", type=int, default=300, help="orders of the in-process profile")
    option("--smoke", action="store_true", help="two configs, a few orders each")
    option("--database", default="bench_web")
    option("--vhost", default="bench_web")
    option("--output", type=Path, help="JSON file (default bench/results/web-<time>.json)")
    arguments = parser.parse_args(argv)
    if arguments.smoke:
        arguments.configs = [WebConfig("sync", 1), WebConfig("gthread", 1, 2)]
        arguments.rate, arguments.seconds, arguments.profile_orders = 20.0, 2.0, 20
    return arguments


def main(argv: list[str]) -> dict[str, Any]:
    """Profile one order, then measure each configuration; print the table, write JSON."""
    arguments = parse_arguments(argv)
    environment = BenchEnvironment.fresh(database=arguments.database, vhost=arguments.vhost)
    environment.reset_vhost()
    from bench import machine

    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    results = {
        "started_at": started_at,
        "command": " ".join(["python -m bench.web_config", *argv]),
        "machine": machine.describe(environment),
        "profile": profile_order_request(orders=arguments.profile_orders),
        "web_configs": measure_web_configs(
            environment,
            configs=arguments.configs,
            rate=arguments.rate,
            seconds=arguments.seconds,
            repeat=arguments.repeat,
        ),
    }
    output = arguments.output or RESULTS_DIR / f"web-{started_at.replace(':', '')}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2, default=str))
    print(render(results))
    print(f"\nResults written to {output}")
    return results


def progress(row: dict[str, Any]) -> dict[str, Any]:
    shown = {
        key: round(value, 2) if isinstance(value, float) else value for key, value in row.items()
    }
    print("  measured:", json.dumps(shown), flush=True)
    return row


if __name__ == "__main__":
    main(sys.argv[1:])
