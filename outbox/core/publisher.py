"""Publishing to RabbitMQ with pipelined publisher confirms.

Waiting for each confirm before sending the next message caps a publisher at the round-trip
rate. Here a whole batch is sent, then the broker's acks are awaited together: the batch is
confirmed when every delivery tag in it is acked, and fails if any is nacked or the wait times
out. Sending and awaiting are separate steps, so that a caller can do other work (the relay
writes its mark, uncommitted) while the broker stores the batch.
"""

import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import amqp
from kombu.exceptions import OperationalError

from outbox.core.failover import amqp_channel, broker_connection, connect_to_any_node

logger = logging.getLogger(__name__)

PERSISTENT = 2


@dataclasses.dataclass(frozen=True)
class OutgoingMessage:
    """A message to publish: where it goes, its body and its AMQP properties."""

    exchange: str
    routing_key: str
    body: bytes
    properties: dict[str, Any]


class PublishFailed(Exception):
    """The broker did not confirm every message of a batch; none may be taken as published."""


@dataclasses.dataclass(frozen=True)
class SentBatch:
    """The delivery tags of a batch that was sent and may not be confirmed yet."""

    first_tag: int
    last_tag: int


class ConfirmingPublisher:
    """Publishes batches on one channel in confirm mode; reconnects after a broken connection.

    `broker_url` may list several nodes (`outbox.core.failover`). After a broken connection the
    publisher reconnects starting from the node after the one it lost, so a dead node is
    tried last. A batch whose confirms were lost with the connection fails as a whole, and its
    caller publishes it again.
    """

    def __init__(self, broker_url: str, *, confirm_timeout: float = 30.0) -> None:
        self._connection = broker_connection(broker_url, heartbeat=0)
        self._confirm_timeout = confirm_timeout
        self._channel: amqp.Channel | None = None
        self._next_tag = 1
        self._settled_up_to = 0
        self._nacked: set[int] = set()
        self._settled: set[int] = set()

    def connect(self) -> None:
        """Connect now, if not connected, rather than at the first publish.

        Raises `PublishFailed` naming every node tried when none accepts.
        """
        with self._failures_closing_the_connection():
            self._confirming_channel()

    def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        """Send the messages and return once the broker has confirmed all of them."""
        self.await_confirms(self.send(messages))

    def send(self, messages: Sequence[OutgoingMessage]) -> SentBatch:
        """Send the messages without waiting, so the caller can work while the broker confirms.

        Nothing may be taken as published before `await_confirms` of the result returns.
        """
        if not messages:
            return SentBatch(self._next_tag, self._next_tag - 1)
        with self._failures_closing_the_connection():
            channel = self._confirming_channel()
            first_tag = self._next_tag
            # RabbitMQ checks that `user_id` is the connection's user: it signs each message
            # with the credential that sent it (outbox.core.senders).
            user_id = self._connection.userid
            for message in messages:
                channel.basic_publish(
                    amqp.Message(
                        message.body,
                        delivery_mode=PERSISTENT,
                        **{**message.properties, "user_id": user_id},
                    ),
                    exchange=message.exchange,
                    routing_key=message.routing_key,
                )
            self._next_tag += len(messages)
        return SentBatch(first_tag, self._next_tag - 1)

    def await_confirms(self, sent: SentBatch) -> None:
        """Return once the broker has confirmed every message of the batch.

        Raises `PublishFailed` if one is nacked, the wait times out or the connection breaks.
        """
        if sent.last_tag < sent.first_tag:
            return
        with self._failures_closing_the_connection():
            self._await_confirms(sent.first_tag, sent.last_tag)

    def close(self) -> None:
        """Drop the connection; the next publish opens a new one."""
        self._channel = None
        try:
            self._connection.close()
        except (OSError, OperationalError, amqp.exceptions.AMQPError):
            logger.debug("ignoring error while closing a broken broker connection")

    @contextlib.contextmanager
    def _failures_closing_the_connection(self) -> Iterator[None]:
        """Turn a broker error into `PublishFailed`, dropping the connection it may have broken."""
        try:
            yield
        except PublishFailed:
            self._drop_connection()
            raise
        except (OSError, OperationalError, amqp.exceptions.AMQPError) as error:
            self._drop_connection()
            raise PublishFailed(f"{type(error).__name__}: {error}") from error

    def _drop_connection(self) -> None:
        """Close a connection that failed; the next one tries the other nodes first."""
        self.close()
        self._connection.maybe_switch_next()

    def _confirming_channel(self) -> amqp.Channel:
        if self._channel is None:
            connect_to_any_node(self._connection)
            channel = amqp_channel(self._connection.channel())
            channel.confirm_select()
            # The callbacks of each method the broker sends; amqp's stubs leave it out.
            events: dict[str, set[Callable[..., None]]] = channel.events  # type: ignore[attr-defined]
            events["basic_ack"].add(self._on_ack)
            events["basic_nack"].add(self._on_nack)
            self._channel = channel
            self._next_tag, self._settled_up_to = 1, 0
            self._settled.clear()
            self._nacked.clear()
        return self._channel

    def _await_confirms(self, first_tag: int, last_tag: int) -> None:
        deadline = time.monotonic() + self._confirm_timeout
        while not self._confirmed_up_to(last_tag):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PublishFailed(f"no confirm within {self._confirm_timeout:.0f}s")
            try:
                self._connection.drain_events(timeout=remaining)
            except TimeoutError:
                continue
        nacked = {tag for tag in self._nacked if first_tag <= tag <= last_tag}
        self._nacked -= nacked
        if nacked:
            raise PublishFailed(f"broker nacked {len(nacked)} of {last_tag - first_tag + 1}")

    def _confirmed_up_to(self, tag: int) -> bool:
        while self._settled_up_to + 1 in self._settled:
            self._settled_up_to += 1
            self._settled.discard(self._settled_up_to)
        return self._settled_up_to >= tag

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        self._settle(delivery_tag, multiple)

    def _on_nack(self, delivery_tag: int, multiple: bool) -> None:
        settled = range(self._settled_up_to + 1, delivery_tag + 1) if multiple else [delivery_tag]
        self._nacked.update(settled)
        self._settle(delivery_tag, multiple)

    def _settle(self, delivery_tag: int, multiple: bool) -> None:
        if multiple:
            self._settled_up_to = max(self._settled_up_to, delivery_tag)
        else:
            self._settled.add(delivery_tag)
