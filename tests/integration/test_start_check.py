"""A process whose database is unreachable refuses to start, naming it (outbox.core.databases)."""

import os
import subprocess

import pytest

from harness.ports import free_port
from harness.processes import relay_command, web_command, worker_command
from harness.project import PROJECT_DIR

PASSWORD = "not-to-be-printed"


@pytest.fixture
def unreachable_inventory() -> dict[str, str]:
    """The environment of an inventory service whose database URL points nowhere."""
    return {
        **os.environ,
        "ECOMMERCE_SERVICES": "inventory",
        "INVENTORY_DATABASE_URL": (
            f"postgres://inventory_role:{PASSWORD}@127.0.0.1:{free_port()}/inventory_db"
        ),
    }


@pytest.mark.parametrize(
    "command",
    [
        relay_command(),
        worker_command("ecommerce", "worker"),
        web_command("127.0.0.1:0"),
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
