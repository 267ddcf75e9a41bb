"""The peer's publishing process in the relay benchmark: django-outbox-pattern's producer.

    DJANGO_SETTINGS_MODULE=bench.peer_settings .run/bench-peer-venv/bin/python -m bench.peer_child

Runs in the peer's venv, with the peer's settings. Like `bench.publish_child` it sets itself up
(Django, its producer as `manage.py publish` builds it, the database connection open), prints
`ready`, waits for `go` on stdin, drains, and prints a JSON line: how many rows its table says
were published, when it started and finished. It then waits, connected, for a line on stdin,
and prints the CPU seconds it spent since it started (its STOMP receiver thread too).
The drain is one pass of the loop of `manage.py publish`: `publish_message_from_database`,
which connects, sends every scheduled row, marks each, commits and disconnects.
With BENCH_PROFILE_DIR set, the timed part runs under cProfile and its stats go there.
"""

import cProfile
import json
import os
import sys
import time
from pathlib import Path

import django


def main() -> None:
    django.setup()
    from django.db import connection
    from django_outbox_pattern.choices import StatusChoice
    from django_outbox_pattern.factories import factory_producer
    from django_outbox_pattern.models import Published

    producer = factory_producer()
    connection.ensure_connection()
    print("ready", flush=True)
    sys.stdin.readline()
    profiler = cProfile.Profile() if os.environ.get("BENCH_PROFILE_DIR") else None
    started, cpu_started = time.time(), time.process_time()
    if profiler:
        profiler.enable()
    producer.publish_message_from_database()
    if profiler:
        profiler.disable()
    finished = time.time()
    published = Published.objects.filter(status=StatusChoice.SUCCEEDED).count()
    print(json.dumps({"published": published, "started": started, "finished": finished}))
    sys.stdout.flush()
    # Its table says the rows were sent once they are written to the STOMP socket; the broker
    # reads them after. The process lives on, as `manage.py publish` does, until the harness has
    # seen them all in the queue: a process that ends now loses those still in the sockets.
    sys.stdin.readline()
    cpu_seconds = time.process_time() - cpu_started
    if profiler:
        profiler.dump_stats(Path(os.environ["BENCH_PROFILE_DIR"]) / f"peer-{os.getpid()}.prof")
    print(json.dumps({"cpu_seconds": cpu_seconds}), flush=True)


if __name__ == "__main__":
    main()
