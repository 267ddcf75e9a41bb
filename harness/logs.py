"""Where started processes log: a file each, `.run/log/<run>/<name>.log`.

A run is what the processes were started for (`test`, `bench`, ...) and the pytest-xdist
worker that started them (`test-gw0`; `main` outside pytest-xdist): workers that run at the
same time never write to one file. A log is appended to, by each start of its process.
"""

import os
from pathlib import Path

from harness.project import PROJECT_DIR

LOG_ROOT = PROJECT_DIR / ".run" / "log"
TAIL_LINES = 40
# Enough for TAIL_LINES of a traceback; a log kept over many sessions is not read whole.
TAIL_BYTES = 64 * 1024


def log_file(purpose: str, name: str) -> Path:
    """The log of the process `name` started for `purpose`, its directory made if missing."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    directory = LOG_ROOT / f"{purpose}-{worker}"
    directory.mkdir(parents=True, exist_ok=True)
    return directory / f"{name}.log"


def tail(log: Path) -> str:
    """The last TAIL_LINES lines of a log."""
    if not log.exists():
        return "(nothing logged)"
    with log.open("rb") as file:
        file.seek(max(0, log.stat().st_size - TAIL_BYTES))
        text = file.read().decode(errors="replace")
    return "\n".join(text.splitlines()[-TAIL_LINES:])
