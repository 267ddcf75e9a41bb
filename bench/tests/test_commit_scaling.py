"""The commit-scaling harness end to end, with one-second pgbench runs, so that it does not rot."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.tests.test_smoke import bench_names
from harness.project import PROJECT_DIR

pytestmark = pytest.mark.e2e

TIMEOUT_SECONDS = 600


def test_every_setting_is_measured_at_every_client_count(tmp_path: Path) -> None:
    database, vhost = bench_names()
    output = tmp_path / "commit_scaling.json"
    run = subprocess.run(
        [
            sys.executable, "-m", "bench.commit_scaling", "--database", f"{database}_commit",
            "--vhost", vhost, "--clients", "1,4", "--commit-delays", "100", "--seconds", "1",
            "--output", str(output),
        ],
        cwd=PROJECT_DIR, capture_output=True, text=True, timeout=TIMEOUT_SECONDS,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    rows = json.loads(output.read_text())

    measured = {(row["setting"], row["clients"]) for row in rows}
    settings = {
        "notify in commit",
        "no wake-up",
        "notify after commit",
        "no wake-up, commit_delay 100",
        "notify after commit, commit_delay 100",
    }
    assert measured == {(setting, clients) for setting in settings for clients in (1, 4)}
    assert all(row["tps"] > 0 and row["latency_ms"] > 0 for row in rows)
    assert all(row["ratio"] == 1 for row in rows if row["wakeup"] == "no wake-up")
    assert "notify in commit" in run.stdout
