"""The benchmark harness end to end, with a few hundred events, so that it does not rot.

It runs `python -m bench.run --smoke` in a database and a vhost of its own, named after the
test run's, and checks what the run wrote: every scenario measured, with positive figures, the
plots drawn, and the run turned into a baseline that the next run's report compares with. The
telemetry scenario runs on its own, so that its settings can be checked one by one.
"""

import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from django.conf import settings

from bench import baseline, report
from harness.project import PROJECT_DIR

pytestmark = pytest.mark.e2e

SMOKE_TIMEOUT_SECONDS = 600
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


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
            "--plots-dir", str(output.parent / "plots"),
        ],
        cwd=PROJECT_DIR, capture_output=True, text=True, timeout=SMOKE_TIMEOUT_SECONDS,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return run


@pytest.fixture(scope="module")
def every_scenario(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The results file and the printed report of a smoke run of the built-in scenarios."""
    output = tmp_path_factory.mktemp("smoke") / "results.json"
    return output, smoke_run(output, "relay", "consumer", "plan", "latency").stdout


def test_a_smoke_run_measures_every_scenario(every_scenario: tuple[Path, str]) -> None:
    output, stdout = every_scenario

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
        assert title in stdout
    assert "worker/client" in stdout
    for plot in ("latency-vs-rate.png", "throughput-vs-workers.png"):
        path = output.parent / "plots" / plot
        assert path.read_bytes().startswith(PNG_SIGNATURE), plot
        assert f"Plot written to {path}" in stdout


def test_a_run_turned_into_the_baseline_compares_with_the_next(
    every_scenario: tuple[Path, str], tmp_path: Path
) -> None:
    output, _ = every_scenario
    baseline_file = tmp_path / "baseline.json"

    subprocess.run(
        [sys.executable, "-m", "bench.baseline", str(output), "--output", str(baseline_file)],
        cwd=PROJECT_DIR, check=True, capture_output=True,
    )  # fmt: skip

    results = json.loads(output.read_text())
    before = baseline.load(baseline_file)
    assert before["commit"] == results["commit"]
    assert before["latency"] == results["latency"] and before["consumer"] == results["consumer"]
    assert "at the start" in before["load_average"]
    # Compared with itself, every part of every rate costs the same now as before.
    comparison = report.cpu_before_and_after(before, results["latency"])
    [ratio_line] = [line for line in comparison.splitlines() if "now/before" in line]
    ratios = set(ratio_line.split()[2:])
    # A part that spent no CPU before has no ratio ("-").
    assert "1.00" in ratios and ratios <= {"1.00", "-"}
    assert "events/s before" in report.consumer_before_and_after(before, results["consumer"])


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
