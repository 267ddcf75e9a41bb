"""The project's processes as `make up` runs them: web (gunicorn, with the project's
gunicorn.conf.py), relay (`manage.py run_relay`), Celery worker and beat.

`Processes` starts them with one environment, each logging to a file of its own
(`harness.logs`), waits until each is ready, and stops them (SIGTERM, then SIGKILL after
STOP_SECONDS) or kills them (SIGKILL). Ready means:

- web: GET /api/docs answers 200. The page needs no sign-in, no database and no broker, and
  leaves nothing behind; /health would ask the database and the broker, and keep its answer
  for a while (HEALTH_CACHE_SECONDS), which a test of an outage would read next.
- worker: each of the receive queues it serves has a consumer (or as many as asked for, when
  several workers share them).
- relay: it wrote the line `run_relay` writes once its start checks passed and its threads run.
- beat: it printed its banner, which it does once the settings are loaded (its own log lines
  are warnings only: settings.LOGGING).

While a wait goes on, a process of the set that died fails it at once; a wait that times out
fails too. Either way the error names the log of the process and shows its last lines.
"""

import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import cast

import amqp
import requests
from kombu import Connection

from harness.logs import log_file, tail
from harness.ports import free_port
from harness.project import PROJECT_DIR
from harness.waiting import wait_until

GUNICORN_CONFIG = PROJECT_DIR / "gunicorn.conf.py"
WEB_READY_PATH = "/api/docs"
# What outbox/management/commands/run_relay.py and Celery's beat write as they start (beat's
# banner begins "celery beat v5.7.0 (collider) is starting.").
RELAY_RUNNING = "Relay running for databases"
BEAT_STARTING = "celery beat v"
# Generous: several processes start at once on a small machine, under pytest-xdist several
# sets of them; the deadline only costs time when something is wrong.
READY_SECONDS = 120.0
STOP_SECONDS = 20.0


class ProcessFailed(Exception):
    """A started process died, or was not ready in time: the message names its log and shows
    the log's last lines."""


def web_command(bind: str, *options: str) -> list[str]:
    """gunicorn serving the project on `bind` (host:port), `options` after the project's
    settings."""
    return [
        sys.executable, "-m", "gunicorn", "ecommerce.wsgi:application",
        "--config", str(GUNICORN_CONFIG), "--bind", bind,
        # Its default path is one for the whole machine: other web processes would share it.
        "--no-control-socket",
        *options,
    ]  # fmt: skip


def relay_command() -> list[str]:
    return [sys.executable, "manage.py", "run_relay"]


def worker_command(app: str, name: str, *, loglevel: str = "INFO") -> list[str]:
    """A Celery worker of `app`, named `name`, as the Procfile runs it: one process, and no
    mingle, gossip or heartbeats."""
    return [
        sys.executable, "-m", "celery", "-A", app, "worker",
        "--pool=solo", f"--loglevel={loglevel}", f"--hostname={name}@%h",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip


def beat_command(app: str) -> list[str]:
    """Celery beat of `app`, with its schedule in the database, as the Procfile runs it."""
    return [
        sys.executable, "-m", "celery", "-A", app, "beat", "--loglevel=INFO",
        "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler",
    ]  # fmt: skip


def answers(url: str) -> bool:
    """Whether GET `url` answers 200. Not listening yet, or too slow to answer (the first
    requests of a process on a busy machine), is not answering."""
    try:
        return requests.get(url, timeout=5, allow_redirects=False).status_code == 200
    except (requests.ConnectionError, requests.Timeout):
        return False


def consumer_count(broker: Connection, queue: str) -> int:
    channel = cast(amqp.Channel, broker.default_channel)  # kombu's pyamqp transport
    declared = channel.queue_declare(queue, passive=True)
    assert declared is not None, "a passive declare answers or raises"
    _, _, consumers = declared
    return consumers


class Processes:
    """Processes started in the project's directory with the environment `env`, and logged
    for `purpose` (harness.logs). `stop_all`, or the end of a `with` block, stops those still
    running.

    Workers and beat run the Celery app `celery_app`; a worker is ready once it consumes
    `worker_queues`, unless it is started with queues of its own.
    """

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        purpose: str,
        celery_app: str = "ecommerce",
        worker_queues: Sequence[str] = (),
    ) -> None:
        self.env = dict(env)
        self.purpose = purpose
        self.celery_app = celery_app
        self.worker_queues = list(worker_queues)
        self.running: dict[str, subprocess.Popen] = {}
        # Where each process's log stood when it last started: what it wrote since is after.
        self._log_starts: dict[str, int] = {}

    def __enter__(self) -> "Processes":
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop_all()

    def log_file(self, name: str) -> Path:
        return log_file(self.purpose, name)

    def start(
        self,
        name: str,
        command: Sequence[str],
        *,
        pipes: bool = False,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.Popen:
        """Start `command` as `name`, with `env` added to the environment. Its output goes to
        its log; with `pipes`, this process talks to it through its stdin and stdout instead,
        and only its stderr goes to the log."""
        log = log_file(self.purpose, name)
        self._log_starts[name] = log.stat().st_size if log.exists() else 0
        with log.open("ab") as output:
            process = subprocess.Popen(
                command,
                cwd=PROJECT_DIR,
                # Each line reaches the log as it is written, the relay's start line included.
                env={"PYTHONUNBUFFERED": "1", **self.env, **(env or {})},
                stdin=subprocess.PIPE if pipes else subprocess.DEVNULL,
                stdout=subprocess.PIPE if pipes else output,
                stderr=output if pipes else subprocess.STDOUT,
                text=pipes,
            )
        self.running[name] = process
        return process

    def start_web(self, name: str, *options: str, port: int | None = None) -> str:
        """gunicorn on `port` (default: a free one), with `options` on its command line; its
        URL, once it is ready."""
        url = f"http://127.0.0.1:{port or free_port()}"
        self.start(name, web_command(url.removeprefix("http://"), *options))
        self.wait_for_web(name, url)
        return url

    def start_relay(self, name: str = "relay", *, wait: bool = True) -> subprocess.Popen:
        """A relay, returned once it is ready, or at once without `wait` (a relay that may
        die before it could say so)."""
        process = self.start(name, relay_command())
        if wait:
            self._wait_for_line(name, RELAY_RUNNING)
        return process

    def start_worker(
        self,
        name: str = "worker",
        *,
        queues: Sequence[str] | None = None,
        wait: bool = True,
        loglevel: str = "INFO",
        env: Mapping[str, str] | None = None,
    ) -> subprocess.Popen:
        """A worker, with `env` added to its environment, returned once it consumes each of
        `queues` (default: `worker_queues`), or at once without `wait` (a worker that may die
        before it could be seen consuming)."""
        process = self.start(
            name, worker_command(self.celery_app, name, loglevel=loglevel), env=env
        )
        if wait:
            self.wait_for_consumers(name, queues=queues)
        return process

    def start_beat(self, name: str = "beat") -> subprocess.Popen:
        """Beat, returned once it is ready."""
        process = self.start(name, beat_command(self.celery_app))
        self._wait_for_line(name, BEAT_STARTING)
        return process

    def wait_for(
        self,
        name: str,
        ready: Callable[[], object],
        *,
        what: str,
        timeout: float = READY_SECONDS,
    ) -> None:
        """Return once `ready()` is true. Fail at once if a process of the set died, or after
        `timeout`, showing the log of `name`."""

        def alive_and_ready() -> object:
            self.check_alive()
            return ready()

        try:
            wait_until(alive_and_ready, timeout=timeout, what=what)
        except AssertionError as late:
            raise ProcessFailed(f"{late}\n{self._log_report(name)}") from None

    def wait_for_web(self, name: str, url: str) -> None:
        """Return once the web process `name` answers at `url`."""
        self.wait_for(
            name, lambda: answers(f"{url}{WEB_READY_PATH}"), what=f"{name} answering at {url}"
        )

    def wait_for_consumers(
        self,
        name: str = "worker",
        *,
        queues: Sequence[str] | None = None,
        consumers: int = 1,
        broker_url: str | None = None,
    ) -> None:
        """Return once each of `queues` (default: `worker_queues`) has `consumers` consumers or
        more, asking the broker at `broker_url` (default: the environment's); `name` is the
        worker waited for."""
        with Connection(broker_url or self.env["CELERY_BROKER_URL"]) as broker:
            for queue in self.worker_queues if queues is None else queues:

                def consumed(queue: str = queue) -> bool:
                    return consumer_count(broker, queue) >= consumers

                what = f"{name} consuming {queue} ({consumers} consumer(s) or more)"
                self.wait_for(name, consumed, what=what)

    def _wait_for_line(self, name: str, line: str) -> None:
        """Return once `name` has written `line` since it started."""
        self.wait_for(
            name, lambda: line in self.written_since_start(name), what=f"{name} writing {line!r}"
        )

    def written_since_start(self, name: str) -> str:
        with log_file(self.purpose, name).open("rb") as log:
            log.seek(self._log_starts[name])
            return log.read().decode(errors="replace")

    def check_alive(self) -> None:
        """Fail at once when a process of the set has died, naming it and showing its log."""
        for name, process in self.running.items():
            if process.poll() is not None:
                raise ProcessFailed(
                    f"{name} exited with {process.returncode}\n{self._log_report(name)}"
                )

    def _log_report(self, name: str) -> str:
        log = log_file(self.purpose, name)
        return f"The last lines of its log, {log}:\n{tail(log)}"

    def kill(self, name: str) -> None:
        """SIGKILL a process: no shutdown, no acknowledgements, no goodbyes."""
        process = self.running.pop(name)
        process.kill()
        wait_or_kill(process)

    def stop(self, name: str) -> None:
        process = self.running.pop(name)
        process.terminate()
        wait_or_kill(process)

    def stop_all(self) -> None:
        """Ask every process to stop at once, then wait for each: their shutdowns overlap."""
        for process in self.running.values():
            process.terminate()
        for name in list(self.running):
            wait_or_kill(self.running.pop(name))


def wait_or_kill(process: subprocess.Popen) -> None:
    """Wait for a process that was asked to stop, killing it after STOP_SECONDS; close the
    pipes this process kept to it."""
    try:
        process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    for pipe in (process.stdin, process.stdout):
        if pipe:
            pipe.close()
