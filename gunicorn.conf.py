"""gunicorn's settings for the project's web processes (gunicorn reads ./gunicorn.conf.py).

Metrics: gunicorn's workers are separate processes, so each writes its counts to files in one
directory they share (prometheus-client's multiprocess mode) and /metrics, whichever worker
serves it, adds them all up. The directory is PROMETHEUS_MULTIPROC_DIR, emptied at start, or
else one made for this server and removed when it stops. It must be chosen before
prometheus-client is first imported, which is why this happens here, in the master.
"""

import os
import shutil
import tempfile
from pathlib import Path

# Two processes of two threads each took the most orders with the lowest latency and CPU per
# order on two vCPUs (docs/performance.md, "Web": sync 1-4 and gthread 1-4 x 2/4/8 measured).
worker_class = "gthread"
workers = int(os.environ.get("WEB_WORKERS") or "2")
threads = int(os.environ.get("WEB_THREADS") or "2")

if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    metrics_directory, made_here = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]), False
else:
    metrics_directory, made_here = Path(tempfile.mkdtemp(prefix="ecommerce-metrics-")), True
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_directory)


def on_starting(server: object) -> None:
    """Forget the counts of a previous server that used the same directory."""
    metrics_directory.mkdir(parents=True, exist_ok=True)
    for counts in metrics_directory.glob("*.db"):
        counts.unlink()


def child_exit(server: object, worker: object) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server: object) -> None:
    if made_here:
        shutil.rmtree(metrics_directory, ignore_errors=True)
