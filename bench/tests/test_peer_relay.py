"""The peer relay measurement end to end, with a few hundred events, so that it does not rot.

It runs `python -m bench.peer_relay` in a database and a vhost of its own, derived from the
test run's: django-outbox-pattern from its own venv, over STOMP, against one relay of ours.
"""

import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings

from bench.peer_relay import STOMP_PORT, accepts_connections
from bench.tests.test_smoke import bench_names
from harness.project import PROJECT_DIR

pytestmark = pytest.mark.e2e

SIZE = 300
# The first run makes the peer's venv (pip install), on a machine that may be busy.
PEER_TIMEOUT_SECONDS = 900


def test_the_peer_and_our_relay_deliver_every_event_of_the_same_backlog(tmp_path: Path) -> None:
    database, vhost = (f"{name}_peer" for name in bench_names())
    output = tmp_path / "peer.json"
    broker_host = urlsplit(settings.CELERY_BROKER_URL).hostname or "127.0.0.1"
    stomp_before = accepts_connections(broker_host, STOMP_PORT)

    run = subprocess.run(
        [
            sys.executable, "-m", "bench.peer_relay", "--size", str(SIZE), "--repeat", "1",
            "--database", database, "--vhost", vhost, "--output", str(output),
        ],
        cwd=PROJECT_DIR, capture_output=True, text=True, timeout=PEER_TIMEOUT_SECONDS,
    )  # fmt: skip

    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    rows = json.loads(output.read_text())
    assert [row["queue_type"] for row in rows] == ["classic", "quorum"]
    for row in rows:
        assert row["size"] == SIZE
        # Each event reached the queue exactly once, from each publisher: the harness took
        # every message off the queue and matched it to the outbox's CloudEvent ids.
        assert row["ours_delivered"] == row["peer_delivered"] == SIZE
        assert min(row["ours_eps"], row["peer_eps"], row["ratio"]) > 0
        assert min(row["ours_cpu_us_per_event"], row["peer_cpu_us_per_event"]) > 0
    assert "Peer: django-outbox-pattern" in run.stdout
    # STOMP is served for the run only: as it was before, once the run is over.
    assert accepts_connections(broker_host, STOMP_PORT) == stomp_before
