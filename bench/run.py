"""Run the benchmarks against the local PostgreSQL and RabbitMQ; print tables, write JSON.

    python -m bench.run                          # what `make bench` runs: about 15 minutes
    BENCH_SIZES=10000,100000,1000000 python -m bench.run --only relay,consumer   # growth
    python -m bench.run --smoke                  # a few hundred events: the harness works
    python -m bench.run --only relay --sizes 10000 --repeat 5
    python -m bench.run --only consumer --queue-types quorum --workers 1,2,4,8
    python -m bench.run --only telemetry --telemetry-repeat 4   # metrics and tracing, on/off
    python -m bench.run --only replication       # a PostgreSQL cluster's modes and the guard

Everything runs in a database and a vhost of its own (BENCH_DATABASE, BENCH_VHOST, default
bench_outbox): the database is created afresh for each run, and the vhost and the tables are
emptied as each measurement starts. See docs/performance.md.
"""

import argparse
import dataclasses
import importlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import baseline
from bench.environment import BenchEnvironment
from harness.project import PROJECT_DIR


@dataclasses.dataclass(frozen=True)
class Scenario:
    """A scenario in a module of its own. `measure` and `render` are "module:function" names,
    imported only when the scenario runs: `measure(environment, **options(arguments))` returns
    its rows, kept in the results under the scenario's name, and `render(rows)` their table."""

    name: str
    measure: str
    render: str
    options: Callable[[argparse.Namespace], dict[str, Any]] = lambda arguments: {}

    def run(self, environment: BenchEnvironment, arguments: argparse.Namespace) -> list[dict]:
        return function(self.measure)(environment, **self.options(arguments))


def function(name: str) -> Callable[..., Any]:
    """`bench.telemetry:measure_telemetry` -> that function."""
    module, _, attribute = name.partition(":")
    return getattr(importlib.import_module(module), attribute)


# Measured after the built-in scenarios, in this order. Adding a scenario is adding an entry here
# (its options to parse_arguments, if it takes any; its name to DEFAULT_SCENARIOS, if `make
# bench` should run it).
MODULE_SCENARIOS = (
    Scenario(
        "telemetry",
        measure="bench.telemetry:measure_telemetry",
        render="bench.report:render_telemetry",
        options=lambda arguments: {
            "relay_size": arguments.telemetry_relay_size,
            "consumer_size": arguments.telemetry_consumer_size,
            "repeat": arguments.telemetry_repeat,
        },
    ),
    Scenario(
        "peer",
        measure="bench.peer_relay:measure_peer_relay",
        render="bench.peer_relay:render",
        options=lambda arguments: {
            "size": arguments.peer_size,
            "repeat": arguments.peer_repeat,
            "queue_types": arguments.queue_types,
        },
    ),
    Scenario(
        "commits",
        measure="bench.commit_scaling:measure_commit_scaling",
        render="bench.commit_scaling:render",
        options=lambda arguments: {"seconds": arguments.pgbench_seconds},
    ),
    Scenario(
        "web",
        measure="bench.web_config:measure_web_configs",
        render="bench.web_config:render_configs",
        options=lambda arguments: {"rate": max(arguments.rates), "seconds": arguments.seconds},
    ),
    Scenario(
        "replication",
        measure="bench.replication:measure_replication",
        render="bench.replication:render",
        options=lambda arguments: {
            "relay_size": arguments.replication_relay_size,
            "rate": arguments.replication_rate,
            "seconds": arguments.replication_seconds,
            "repeat": arguments.replication_repeat,
        },
    ),
)
SCENARIOS = ("relay", "consumer", "plan", "latency", *(s.name for s in MODULE_SCENARIOS))
# `make bench`: the before-and-after and the peer in about 20 minutes. The telemetry scenario
# (6 minutes), PostgreSQL's commits with 1-64 writers (`commits`, 5 minutes), gunicorn's
# configurations (`web`, 16 of them, 5 minutes), replication modes and the standby guard on a
# cluster of their own (`replication`, 4 minutes) and the relay at 100k pending run when asked
# for.
DEFAULT_SCENARIOS = ("relay", "consumer", "plan", "latency", "peer")
RESULTS_DIR = PROJECT_DIR / "bench" / "results"
DEFAULT_SIZES = "10000"
DEFAULT_RATES = "50,100,150,200"
# A worker handles a few hundred events per second: 100k would take several minutes.
DEFAULT_CONSUMER_SIZES = "10000"


def numbers(text: str) -> list[int]:
    """`10000,1e5` -> [10000, 100000]."""
    return [int(float(item)) for item in text.split(",") if item.strip()]


def words(text: str) -> list[str]:
    """`classic,quorum` -> ["classic", "quorum"]."""
    return [item.strip() for item in text.split(",") if item.strip()]


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    """The run's options; each has an environment variable too, for `make bench`."""

    def env(name: str, default: str) -> str:
        # An empty variable is unset, as for the project's settings.
        return os.environ.get(name) or default

    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    option = parser.add_argument
    option("--smoke", action="store_true", help="a few hundred events, short phases")
    option(
        "--only",
        default=",".join(DEFAULT_SCENARIOS),
        help=f"subset of {','.join(SCENARIOS)} (default {','.join(DEFAULT_SCENARIOS)})",
    )
    option(
        "--sizes",
        type=numbers,
        default=env("BENCH_SIZES", DEFAULT_SIZES),
        help="pending outbox rows per relay run (env BENCH_SIZES)",
    )
    option(
        "--consumer-sizes",
        type=numbers,
        default=env("BENCH_CONSUMER_SIZES", env("BENCH_SIZES", DEFAULT_CONSUMER_SIZES)),
        help="queued events per consumer run (env BENCH_CONSUMER_SIZES, else BENCH_SIZES)",
    )
    option(
        "--queue-types",
        type=words,
        default=env("BENCH_QUEUE_TYPES", "classic,quorum"),
        help="queue types the relay publishes into and one worker drains (env BENCH_QUEUE_TYPES)",
    )
    option(
        "--workers",
        type=numbers,
        default=env("BENCH_WORKERS", "1,2,4"),
        help="worker processes draining the configured queue type together (env BENCH_WORKERS)",
    )
    option(
        "--repeat",
        type=int,
        default=int(env("BENCH_REPEAT", "3")),
        help="relay runs per size; the median is reported (env BENCH_REPEAT)",
    )
    option("--pgbench-seconds", type=int, default=10, help="length of each pgbench run")
    option(
        "--plan-published",
        type=int,
        default=1_000_000,
        help="published rows present when the claim query is explained",
    )
    option(
        "--rates",
        type=numbers,
        default=env("BENCH_RATES", DEFAULT_RATES),
        help="orders per second of the latency phases (env BENCH_RATES)",
    )
    option(
        "--seconds",
        type=float,
        default=float(env("BENCH_SECONDS", "20")),
        help="length of each latency phase (env BENCH_SECONDS)",
    )
    option(
        "--telemetry-relay-size",
        type=int,
        default=int(env("BENCH_TELEMETRY_RELAY_SIZE", "10000")),
        help="pending rows per relay run of the telemetry scenario",
    )
    option(
        "--telemetry-consumer-size",
        type=int,
        default=int(env("BENCH_TELEMETRY_CONSUMER_SIZE", "1500")),
        help="queued events per consumer run of the telemetry scenario",
    )
    option(
        "--telemetry-repeat",
        type=int,
        default=int(env("BENCH_TELEMETRY_REPEAT", "2")),
        help="runs of each telemetry setting, in alternating order (env BENCH_TELEMETRY_REPEAT)",
    )
    option(
        "--peer-size",
        type=int,
        default=int(env("BENCH_PEER_SIZE", "3000")),
        help="pending events drained by our relay and by django-outbox-pattern (peer scenario)",
    )
    option(
        "--peer-repeat",
        type=int,
        default=int(env("BENCH_PEER_REPEAT", "1")),
        help="drains of each relay per queue type, first one then the other going first",
    )
    option(
        "--replication-relay-size",
        type=lambda text: int(float(text)),
        default=env("BENCH_REPLICATION_RELAY_SIZE", "20000"),
        help="pending rows the relay drains in each replication mode (replication scenario)",
    )
    option(
        "--replication-rate",
        type=float,
        default=float(env("BENCH_REPLICATION_RATE", "40")),
        help="orders per second of each replication mode's latency phase",
    )
    option(
        "--replication-seconds",
        type=float,
        default=float(env("BENCH_REPLICATION_SECONDS", "30")),
        help="length of each replication mode's latency phase",
    )
    option(
        "--replication-repeat",
        type=int,
        default=int(env("BENCH_REPLICATION_REPEAT", "1")),
        help="runs of the four replication modes, every other one in reverse order",
    )
    option("--database", default=env("BENCH_DATABASE", "bench_outbox"))
    option("--vhost", default=env("BENCH_VHOST", "bench_outbox"))
    option("--output", type=Path, help="JSON file (default bench/results/<time>.json)")
    option(
        "--plots-dir",
        type=Path,
        default=Path(env("BENCH_PLOTS_DIR", PROJECT_DIR / "docs")),
        help="where the latency and consumer plots are written (env BENCH_PLOTS_DIR, docs/)",
    )
    option(
        "--baseline",
        type=Path,
        default=baseline.BASELINE_FILE,
        help="figures of the code before a change, compared with this run's (python -m"
        " bench.baseline writes it; default bench/baseline.json)",
    )
    arguments = parser.parse_args(argv)
    if arguments.smoke:
        arguments.sizes = arguments.consumer_sizes = [300]
        arguments.workers = [1, 2]
        arguments.repeat, arguments.pgbench_seconds, arguments.plan_published = 1, 2, 3_000
        arguments.rates, arguments.seconds = [20], 3.0
        arguments.telemetry_relay_size = arguments.telemetry_consumer_size = 300
        arguments.telemetry_repeat = 1
        arguments.peer_size, arguments.peer_repeat = 300, 1
        arguments.replication_relay_size, arguments.replication_repeat = 300, 1
        arguments.replication_rate, arguments.replication_seconds = 20.0, 3.0
    arguments.only = [name for name in arguments.only.split(",") if name]
    if unknown := set(arguments.only) - set(SCENARIOS):
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    if unknown := set(arguments.queue_types) - {"classic", "quorum"}:
        parser.error(f"unknown queue types: {', '.join(sorted(unknown))}")
    return arguments


def main(argv: list[str]) -> dict[str, Any]:
    """Measure the chosen scenarios; return the results, also printed and written as JSON."""
    arguments = parse_arguments(argv)
    environment = BenchEnvironment.fresh(database=arguments.database, vhost=arguments.vhost)
    from bench import machine, plots

    results = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench.run", *argv]),
        "commit": commit(),
        "load_average_at_start": os.getloadavg(),
        "machine": machine.describe(environment),
        **measure(environment, arguments),
        "load_average_at_end": os.getloadavg(),
    }
    output = arguments.output or RESULTS_DIR / f"{results['started_at'].replace(':', '')}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2, default=str))
    before = baseline.load(arguments.baseline)
    print(render(results, before))
    if before is None:
        print(f"\nNo baseline to compare with at {arguments.baseline} (python -m bench.baseline)")
    print(f"\nResults written to {output}")
    for plot in plots.write(results, arguments.plots_dir, before):
        print(f"Plot written to {plot}")
    return results


def render(results: dict[str, Any], before: dict[str, Any] | None) -> str:
    """The built-in scenarios' tables, the comparisons with the baseline, then the others'."""
    from bench import report

    sections = [report.render(results, before)]
    sections += [
        function(scenario.render)(results[scenario.name])
        for scenario in MODULE_SCENARIOS
        if results.get(scenario.name)
    ]
    return "\n\n".join(sections)


def commit() -> str:
    """The commit measured, `-dirty` if the working tree has changes."""
    described = subprocess.run(
        ["git", "describe", "--always", "--dirty"],
        cwd=PROJECT_DIR, capture_output=True, text=True, check=False,
    )  # fmt: skip
    return described.stdout.strip() or "unknown"


def measure(environment: BenchEnvironment, arguments: argparse.Namespace) -> dict[str, Any]:
    """Run the chosen scenarios in order: relay, consumer, claim plan, latency, then the
    module scenarios."""
    from django.conf import settings

    from bench.claim_plan import check_claim_plan
    from bench.consumer_throughput import measure_consumer_backlog
    from bench.latency import measure_latency
    from bench.relay_throughput import measure_relay

    batch_size, repeat = settings.OUTBOX["RELAY_BATCH_SIZE"], arguments.repeat
    results: dict[str, Any] = {
        "relay_batch_size": batch_size,
        "consumer_prefetch": settings.OUTBOX["CONSUMER_PREFETCH"],
        "queue_type": settings.OUTBOX["QUEUE_TYPE"],
    }
    if "relay" in arguments.only:
        results["relay"] = [
            progress(row)
            for size in arguments.sizes
            for row in measure_relay(
                environment,
                size=size,
                batch_size=batch_size,
                repeat=repeat,
                queue_types=arguments.queue_types,
            )
        ]
    if "consumer" in arguments.only:
        results["consumer"] = [
            progress(row)
            for size in arguments.consumer_sizes
            for row in measure_consumer_backlog(
                environment,
                size=size,
                pgbench_seconds=arguments.pgbench_seconds,
                queue_types=arguments.queue_types,
                workers=arguments.workers,
            )
        ]
    if "plan" in arguments.only:
        results["claim_plan"] = progress(
            check_claim_plan(
                published=arguments.plan_published,
                pending=min(arguments.sizes),
                batch_size=batch_size,
            )
        )
    if "latency" in arguments.only:
        phases = measure_latency(environment, rates=arguments.rates, seconds=arguments.seconds)
        results["latency"] = [progress(phase) for phase in phases]
    for scenario in MODULE_SCENARIOS:
        if scenario.name in arguments.only:
            results[scenario.name] = [progress(row) for row in scenario.run(environment, arguments)]
    return results


def progress(result: dict[str, Any]) -> dict[str, Any]:
    """Print one line per measurement as it ends, so that a long run shows it is alive."""
    shown = {
        key: round(value, 2) if isinstance(value, float) else value
        for key, value in result.items()
        if not isinstance(value, (list, str)) or key in ("indexes", "queue_type")
    }
    print("  measured:", json.dumps(shown), flush=True)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
