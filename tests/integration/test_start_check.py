"""A process whose database is unreachable refuses to start, naming it (outbox.core.databases)."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PASSWORD = "not-to-be-printed"


def closed_port() -> int:
    """A local port that nothing listens on: connecting to it is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def unreachable_inventory() -> dict[str, str]:
    """The environment of an inventory service whose database URL points nowhere."""
    return {
        **os.environ,
        "ECOMMERCE_SERVICES": "inventory",
        "INVENTORY_DATABASE_URL": (
            f"postgres://inventory_role:{PASSWORD}@127.0.0.1:{closed_port()}/inventory_db"
        ),
    }


@pytest.mark.parametrize(
    "command",
    [
        [str(BIN / "python"), "manage.py", "run_relay"],
        [str(BIN / "celery"), "-A", "ecommerce", "worker", "--pool=solo", "--without-mingle"],
        [str(BIN / "gunicorn"), "ecommerce.wsgi:application", "--bind", "127.0.0.1:0"],
    ],
    ids=["relay", "worker", "web"],
)
def test_a_process_without_its_database_stops_at_once_naming_it(
    command: list[str], unreachable_inventory: dict[str, str]
) -> None:
    finished = subprocess.run(
        command,
        cwd=PROJECT_DIR,
        env=unreachable_inventory,
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = finished.stdout + finished.stderr

    assert finished.returncode != 0, output
    assert "database 'inventory'" in output
    assert "INVENTORY_DATABASE_URL=postgres://inventory_role:***@127.0.0.1:" in output
    assert "/inventory_db" in output
    assert "Connection refused" in output
    assert PASSWORD not in output
