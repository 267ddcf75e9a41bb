"""The processes a benchmark starts (relays, Celery workers, the web server), and their end."""

import socket
import subprocess
import sys
from collections.abc import Sequence
from types import TracebackType

from bench.environment import PROJECT_DIR, BenchEnvironment, log_file

STOP_SECONDS = 20


class Children:
    """Child processes on the run's database and vhost, all stopped when the block ends."""

    def __init__(self, environment: BenchEnvironment) -> None:
        self.environment = environment
        self.running: dict[str, subprocess.Popen] = {}

    def __enter__(self) -> "Children":
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop_all()

    def start(
        self, name: str, command: Sequence[str], *, pipes: bool = False, **env: str
    ) -> subprocess.Popen:
        """Start a process; with `pipes`, talk to it on stdin/stdout (stderr goes to its log)."""
        log = open(log_file(name), "ab")
        process = subprocess.Popen(
            command,
            cwd=PROJECT_DIR,
            env=self.environment.child_env(**env),
            stdin=subprocess.PIPE if pipes else subprocess.DEVNULL,
            stdout=subprocess.PIPE if pipes else log,
            stderr=log,
            text=pipes or None,
        )
        log.close()
        self.running[name] = process
        return process

    def start_worker(
        self, name: str, services: str, *, queue_type: str | None = None, **env: str
    ) -> subprocess.Popen:
        """A Celery worker process consuming the receive queues of `services`, declared with
        `queue_type` (default: OUTBOX_QUEUE_TYPE), with `env` added to its environment."""
        if queue_type:
            env["OUTBOX_QUEUE_TYPE"] = queue_type
        return self.start(
            name,
            [
                sys.executable, "-m", "celery", "-A", "ecommerce", "worker", "--pool=solo",
                "--loglevel=WARNING", f"--hostname={name}@%h",
                "--without-gossip", "--without-mingle", "--without-heartbeat",
            ],
            ECOMMERCE_SERVICES=services,
            **env,
        )  # fmt: skip

    def stop(self, name: str) -> None:
        process = self.running.pop(name)
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for stream in (process.stdin, process.stdout):
            if stream:
                stream.close()

    def stop_all(self) -> None:
        for name in list(self.running):
            self.stop(name)

    def check_alive(self) -> None:
        """Fail at once, naming the log, when a child died instead of waiting for a deadline."""
        for name, process in self.running.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}; see {log_file(name)}")


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
