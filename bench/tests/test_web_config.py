"""The web harness end to end with a few orders (`python -m bench.web_config --smoke`), so that
it does not rot: the statements of one order, and a row per gunicorn configuration."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.tests.test_smoke import SMOKE_TIMEOUT_SECONDS, bench_names
from harness.project import PROJECT_DIR

pytestmark = pytest.mark.e2e


def test_a_smoke_run_measures_each_web_config(tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    database, vhost = bench_names()

    run = subprocess.run(
        [
            sys.executable, "-m", "bench.web_config", "--smoke",
            "--database", database, "--vhost", vhost, "--output", str(output),
        ],
        cwd=PROJECT_DIR, capture_output=True, text=True, timeout=SMOKE_TIMEOUT_SECONDS,
    )  # fmt: skip

    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = json.loads(output.read_text())
    profile = results["profile"]
    assert not any("knox_authtoken" in sql for sql in profile["sql"])
    assert sum(sql.startswith('INSERT INTO "orders_order"') for sql in profile["sql"]) == 1
    assert profile["in_process_cpu_ms_per_order"] > 0
    rows = results["web_configs"]
    assert [row["config"] for row in rows] == ["sync:1", "gthread:1x2"]
    for row in rows:
        assert row["accepted"] > 0
        assert 0 < row["api_p50_ms"] <= row["api_p99_ms"]
        assert row["web_cpu_ms_per_order"] > 0
    assert "gunicorn taking POST /orders" in run.stdout
