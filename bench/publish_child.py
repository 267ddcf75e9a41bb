"""A publishing process of the relay benchmark: the real relay, or the raw AMQP ceiling.

    python -m bench.publish_child relay|raw BATCH_SIZE

It sets itself up (Django, and for `raw` the messages read from the pending outbox rows),
prints `ready`, waits for `go` on stdin so that several processes start together, publishes,
and prints one JSON line: how many events it published, when it started and finished, and the
CPU seconds this process spent meanwhile (all its threads: a metrics server, a span exporter).
With BENCH_PROFILE_DIR set, the timed part runs under cProfile and its stats go there.
"""

import contextlib
import cProfile
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from urllib.parse import unquote, urlsplit

import amqp
import django

from outbox.core.publisher import OutgoingMessage

PERSISTENT = 2


def main(mode: str, batch_size: int) -> None:
    django.setup()
    publish = relay_publisher(batch_size) if mode == "relay" else raw_publisher(batch_size)
    print("ready", flush=True)
    sys.stdin.readline()
    started, cpu_started = time.time(), time.process_time()
    with profiled(mode):
        published = publish()
    finished, cpu_seconds = time.time(), time.process_time() - cpu_started
    report = {"published": published, "started": started, "finished": finished}
    print(json.dumps({**report, "cpu_seconds": cpu_seconds}))


@contextlib.contextmanager
def profiled(mode: str) -> Iterator[None]:
    """Run the block under cProfile when BENCH_PROFILE_DIR names where the stats go."""
    directory = os.environ.get("BENCH_PROFILE_DIR")
    if not directory:
        yield
        return
    profiler = cProfile.Profile()
    with profiler:
        yield
    profiler.dump_stats(Path(directory) / f"{mode}-{os.getpid()}.prof")


def relay_publisher(batch_size: int) -> Callable[[], int]:
    """The project's relay, exactly as `run_relay` builds it, with the given batch size:
    tracing and the metrics port too, when the environment asks for them.

    Like the raw publisher, it connects to the broker in the timed part; its database
    connection is open before, as a running relay's is.
    """
    from django.conf import settings
    from django.db import connection
    from opentelemetry import trace

    from outbox.core import metrics, tracing
    from outbox.core.broker import relay_from_settings

    tracing.configure("relay")
    metrics.serve(settings.METRICS["RELAY_PORT"], "relay")
    relay = relay_from_settings("default")
    relay.batch_size = batch_size
    connection.ensure_connection()

    def publish() -> int:
        try:
            return relay.publish_pending()
        finally:
            relay.publisher.close()
            if tracing.is_on():
                # The spans' export is work the relay owes for these events: it is timed.
                trace.get_tracer_provider().force_flush()

    return publish


def raw_publisher(batch_size: int) -> Callable[[], int]:
    """Bare py-amqp with the relay's batching: the pending rows' messages, no database work."""
    from django.conf import settings
    from django.db import connection

    from outbox.core.relay import ClaimedEvent

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, replace(event_id::text, '-', ''), event_type, service, payload::text"
            " FROM outbox_outboxevent WHERE published_at IS NULL ORDER BY id"
        )
        messages = [ClaimedEvent(*row).to_message() for row in cursor.fetchall()]
    connection.close()

    def publish() -> int:
        channel = RawConfirmingChannel(settings.CELERY_BROKER_URL)
        for start in range(0, len(messages), batch_size):
            channel.publish_confirmed(messages[start : start + batch_size])
        channel.close()
        return len(messages)

    return publish


class RawConfirmingChannel:
    """One py-amqp channel in confirm mode: publish a batch, then wait for all its acks."""

    def __init__(self, broker_url: str) -> None:
        url = urlsplit(broker_url)
        self.connection = amqp.Connection(
            host=f"{url.hostname}:{url.port or 5672}",
            userid=unquote(url.username or "guest"),
            password=unquote(url.password or "guest"),
            virtual_host=unquote(url.path.lstrip("/")) or "/",
        )
        self.connection.connect()
        self.channel = self.connection.channel()
        self.channel.confirm_select()
        self.channel.events["basic_ack"].add(self.on_ack)
        self.channel.events["basic_nack"].add(self.on_nack)
        self.sent = 0
        self.acked_up_to = 0
        self.acked: set[int] = set()

    def publish_confirmed(self, messages: Sequence[OutgoingMessage]) -> None:
        """Send the messages, then wait until the broker has acked every one."""
        for message in messages:
            self.channel.basic_publish(
                amqp.Message(message.body, delivery_mode=PERSISTENT, **message.properties),
                exchange=message.exchange,
                routing_key=message.routing_key,
            )
        self.sent += len(messages)
        while self.acked_up_to < self.sent:
            self.connection.drain_events(timeout=30)

    def on_ack(self, delivery_tag: int, multiple: bool) -> None:
        if multiple:
            self.acked_up_to = max(self.acked_up_to, delivery_tag)
        else:
            self.acked.add(delivery_tag)
        while self.acked_up_to + 1 in self.acked:
            self.acked_up_to += 1
            self.acked.discard(self.acked_up_to)

    def on_nack(self, delivery_tag: int, multiple: bool) -> None:
        raise RuntimeError(f"the broker nacked message {delivery_tag}")

    def close(self) -> None:
        self.connection.close()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
