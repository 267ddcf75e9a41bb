"""The benchmark harness end to end, with a few hundred events, so that it does not rot.

It runs `python -m bench.run --smoke` in a database and a vhost of its own, named after the
test run's, and checks what the run wrote: every scenario measured, with positive figures. The
telemetry scenario runs on its own, so that its settings can be checked one by one.
"""

import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from django.conf import settings

pytestmark = pytest.mark.e2e

PROJECT_DIR = Path(__file__).resolve().parents[2]
SMOKE_TIMEOUT_SECONDS = 600


def bench_names() -> tuple[str, str]:
    """A database and a vhost for the harness, derived from this test run's own."""
    database = settings.DATABASES["default"]
    test_database = database.get("TEST", {}).get("NAME") or f"test_{database['NAME']}"
    vhost = unquote(urlsplit(settings.CELERY_BROKER_URL).path.lstrip("/")) or "default"
    return f"bench_{test_database}", f"bench_{vhost}"


def smoke_run(output: Path, *scenarios: str) -> subprocess.CompletedProcess:
    database, vhost = bench_names()
    run = subprocess.run(
        [
            sys.executable, "-m", "bench.run", "--smoke", "--only", ",".join(scenarios),
            "--database", database, "--vhost", vhost, "--output", str(output),
        ],
        cwd=PROJECT_DIR, capture_output=True, text=True, timeout=SMOKE_TIMEOUT_SECONDS,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return run


def test_a_smoke_run_measures_every_scenario(tmp_path: Path) -> None:
    output = tmp_path / "results.json"

    run = smoke_run(output, "relay", "consumer", "plan", "latency")

    results = json.loads(output.read_text())
    assert results["machine"]["cpus"] >= 1
    assert results["machine"]["postgresql"]["synchronous_commit"]
    relays = results["relay"]
    assert [relay["queue_type"] for relay in relays] == ["classic", "quorum"]
    for relay in relays:
        assert relay["size"] == 300
        assert min(relay["raw_eps"], relay["relay_1_eps"], relay["relay_2_eps"]) > 0
    consumers = results["consumer"]
    runs = [(consumer["queue_type"], consumer["workers"]) for consumer in consumers]
    configured = settings.OUTBOX["QUEUE_TYPE"]
    assert runs == [("classic", 1), ("quorum", 1), (configured, 2)]
    for consumer in consumers:
        assert consumer["size"] == 300
        assert min(consumer["eps"], consumer["postgres_eps"], consumer["ratio"]) > 0
        assert 1 <= consumer["events_per_transaction"] <= consumer["batch_size"]
    plan = results["claim_plan"]
    assert plan["published_rows"] == 3_000
    assert plan["pages_touched"] > 0
    [phase] = results["latency"]
    assert phase["orders"] > 0
    assert 0 < phase["p50_ms"] <= phase["p95_ms"] <= phase["p99_ms"] <= phase["max_ms"]
    assert phase["cpu_ms_per_order"]["web"] > 0
    for title in ("Relay:", "Consumer:", "Relay claim query", "Latency:", "CPU per order"):
        assert title in run.stdout


def test_a_smoke_run_measures_telemetry_on_against_off(tmp_path: Path) -> None:
    output = tmp_path / "results.json"

    run = smoke_run(output, "telemetry")

    rows = {row["setting"]: row for row in json.loads(output.read_text())["telemetry"]}
    assert list(rows) == ["off", "metrics", "tracing", "both", "off again"]
    for name, row in rows.items():
        assert (row["relay_size"], row["consumer_size"]) == (300, 300)
        for workload in ("relay", "consumer"):
            assert min(row[f"{workload}_eps"], row[f"{workload}_cpu_us_per_event"]) > 0
            assert row[f"{workload}_ratio"] > 0 and row[f"{workload}_cpu_ratio"] > 0
            # Tracing on, every event's span reached the receiver; off, none did.
            assert row[f"{workload}_spans"] == (300 if row["tracing"] else 0), name
        # Only a setting with metrics on serves a port to scrape; the worker's runs long enough.
        assert (row["consumer_scrapes"] > 0) == row["metrics"], name
        assert row["relay_scrapes"] == 0 or row["metrics"], name
    assert rows["off"]["relay_ratio"] == rows["off"]["consumer_ratio"] == 1.0
    assert "Telemetry:" in run.stdout and "off again" in run.stdout
