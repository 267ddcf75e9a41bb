"""Run the benchmarks against the local PostgreSQL and RabbitMQ; print tables, write JSON.

    python -m bench.run                       # sizes 10k and 100k, latency at 50 and 200/s
    BENCH_SIZES=10000,100000,1000000 python -m bench.run
    python -m bench.run --smoke               # a few hundred events: checks the harness works
    python -m bench.run --only relay --sizes 10000

Everything runs in a database and a vhost of its own (BENCH_DATABASE, BENCH_VHOST), which
are emptied as each measurement starts. See docs/performance.md.
"""
import argparse
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import django

from bench.environment import PROJECT_DIR, BenchEnvironment

SCENARIOS = ("relay", "consumer", "plan", "latency")
RESULTS_DIR = PROJECT_DIR / "bench" / "results"


def numbers(text: str) -> list[int]:
    return [int(float(item)) for item in text.split(",") if item.strip()]


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, to check the harness")
    parser.add_argument("--sizes", type=numbers, default=os.environ.get("BENCH_SIZES", "10000,100000"),
                        help="backlog sizes for relay and consumer (env BENCH_SIZES)")
    parser.add_argument("--only", default=",".join(SCENARIOS),
                        help=f"comma-separated subset of {', '.join(SCENARIOS)}")
    parser.add_argument("--rates", type=numbers, default=os.environ.get("BENCH_RATES", "50,200"),
                        help="orders per second of the latency phases (env BENCH_RATES)")
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("BENCH_SECONDS", "20")),
                        help="duration of each latency phase")
    parser.add_argument("--pgbench-seconds", type=int, default=10)
    parser.add_argument("--plan-published", type=int, default=1_000_000,
                        help="published rows present when the claim query is explained")
    parser.add_argument("--database", default=os.environ.get("BENCH_DATABASE", "bench_outbox"))
    parser.add_argument("--vhost", default=os.environ.get("BENCH_VHOST", "bench_outbox"))
    parser.add_argument("--output", type=Path, help="JSON file (default bench/results/<time>.json)")
    arguments = parser.parse_args(argv)
    if isinstance(arguments.sizes, str):
        arguments.sizes = numbers(arguments.sizes)
    if isinstance(arguments.rates, str):
        arguments.rates = numbers(arguments.rates)
    if arguments.smoke:
        arguments.sizes, arguments.rates, arguments.seconds = [300], [20], 3.0
        arguments.pgbench_seconds, arguments.plan_published = 2, 3_000
    arguments.only = [name for name in arguments.only.split(",") if name]
    unknown = set(arguments.only) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    return arguments


def main(argv: list[str]) -> dict[str, Any]:
    arguments = parse_arguments(argv)
    environment = BenchEnvironment.from_environment(database=arguments.database, vhost=arguments.vhost)
    environment.create_database()
    environment.migrate()
    environment.use_in_this_process()
    django.setup()

    from django.conf import settings

    from bench import machine, report
    from bench.claim_plan import check_claim_plan
    from bench.consumer_throughput import measure_consumer, measure_postgres_ceiling
    from bench.latency import measure_latency
    from bench.relay_throughput import measure_relay

    batch_size = settings.OUTBOX["RELAY_BATCH_SIZE"]
    results: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench.run", *argv]),
        "machine": machine.describe(environment),
        "relay_batch_size": batch_size,
        "consumer_prefetch": settings.OUTBOX["CONSUMER_PREFETCH"],
    }
    if "relay" in arguments.only:
        results["relay"] = []
        for size in arguments.sizes:
            results["relay"].append(measure_relay(environment, size=size, batch_size=batch_size))
            progress(results["relay"][-1])
    if "consumer" in arguments.only:
        results["consumer"] = []
        for size in arguments.sizes:
            one = measure_consumer(environment, size=size, workers=1)
            two = measure_consumer(environment, size=size, workers=2)
            postgres_1 = measure_postgres_ceiling(environment, clients=1, seconds=arguments.pgbench_seconds)
            postgres_2 = measure_postgres_ceiling(environment, clients=2, seconds=arguments.pgbench_seconds)
            results["consumer"].append(
                {
                    "size": size,
                    "workers_1_eps": one["eps"],
                    "workers_2_eps": two["eps"],
                    "postgres_1_tps": postgres_1,
                    "postgres_2_tps": postgres_2,
                    "ratio_1": one["eps"] / postgres_1,
                    "ratio_2": two["eps"] / postgres_2,
                }
            )
            progress(results["consumer"][-1])
    if "plan" in arguments.only:
        results["claim_plan"] = check_claim_plan(
            published=arguments.plan_published, pending=min(arguments.sizes), batch_size=batch_size
        )
    if "latency" in arguments.only:
        results["latency"] = measure_latency(environment, rates=arguments.rates, seconds=arguments.seconds)

    output = arguments.output or RESULTS_DIR / f"{results['started_at'].replace(':', '')}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2, default=str))
    print(report.render(results))
    print(f"\nResults written to {output}")
    return results


def progress(result: dict[str, Any]) -> None:
    """One line per measurement while the run goes on: a long run shows it is alive."""
    rounded = {key: round(value, 2) if isinstance(value, float) else value for key, value in result.items()}
    print("  measured:", json.dumps(rounded), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
