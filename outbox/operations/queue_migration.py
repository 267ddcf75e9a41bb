"""Moving the topology's queues to another type (classic or quorum) without losing a message.

RabbitMQ cannot change a queue's type or arguments in place. Each queue that differs from the
topology is rebuilt through a temporary queue of the new shape, `<queue>.migrating`:

1. declare the temporary queue and bind it like the queue, then unbind the queue: what is
   published meanwhile lands in the temporary queue;
2. move the queue's messages there;
3. delete the emptied queue, declare it with the new shape and bind it, unbind the temporary;
4. move the messages back and delete the temporary queue.

A message is moved by getting it, publishing a copy with a confirm and only then acknowledging
it, a batch at a time. A crash loses nothing: at worst a message exists twice, which the
processed-event table (or a dead letter's record key) absorbs. Each step starts from what
exists, so running again after a crash finishes the job, leftover temporary queue included.
The workers must be stopped: a queue with consumers is refused. Relays may run: their
messages go through the exchanges to whichever queue is bound at that moment.
"""

import dataclasses
from collections.abc import Callable, Iterable, Sequence

import amqp

from outbox.core import topology
from outbox.core.failover import amqp_channel, broker_connection, connect_to_any_node
from outbox.core.publisher import ConfirmingPublisher, OutgoingMessage
from outbox.core.registry import Service
from outbox.core.topology import QueueDeclaration, QueueShape

TEMPORARY_SUFFIX = ".migrating"
MOVE_BATCH_SIZE = 500


class MigrationRefused(Exception):
    """The queues cannot be migrated now (a worker still consumes one)."""


@dataclasses.dataclass(frozen=True)
class QueueState:
    """A queue as it exists on the broker, compared with its declaration."""

    exists: bool
    matches: bool = False
    # When it differs: the other type if it has exactly that type's declaration, else None.
    current_type: str | None = None
    messages: int = 0
    consumers: int = 0
    reason: str = ""

    def describe(self) -> str:
        if self.current_type:
            return f"a {self.current_type} queue"
        return f"a queue with other arguments ({self.reason})"


def temporary(queue: QueueDeclaration) -> QueueDeclaration:
    """The temporary queue of a migration: the new shape and bindings, under another name."""
    return dataclasses.replace(queue, name=queue.name + TEMPORARY_SUFFIX)


class QueueMigration:
    """Brings every queue of some services to a shape (type and arguments)."""

    def __init__(
        self,
        broker_url: str,
        services: Iterable[Service],
        retry_delays: Sequence[float],
        shape: QueueShape,
        *,
        report: Callable[[str], None],
    ) -> None:
        services = list(services)
        self.broker_url = broker_url
        self.shape = shape
        self.wanted = topology.plan(services, retry_delays, shape)
        self.other_type = shape.with_the_other_type().queue_type
        self.other = topology.plan(services, retry_delays, shape.with_the_other_type())
        self.report = report

    def dry_run(self) -> None:
        """Report what `run` would do, changing nothing."""
        with broker_connection(self.broker_url) as connection:
            connect_to_any_node(connection)
            channel = amqp_channel(connection.channel())
            for queue in self.wanted.queues:
                leftover = self._inspect(channel, temporary(queue), queue.name)
                if leftover.exists:
                    self.report(
                        f"{temporary(queue).name}: left by an interrupted migration "
                        f"({leftover.messages} messages); would be emptied into {queue.name}"
                        + _consumers_note(leftover)
                    )
                state = self._inspect(channel, queue, queue.name)
                if not state.exists:
                    self.report(f"{queue.name}: missing; would be declared as a {self._wanted}")
                elif state.matches:
                    self.report(f"{queue.name}: already a {self._wanted}" + _consumers_note(state))
                else:
                    self.report(
                        f"{queue.name}: {state.describe()}; would become a {self._wanted}, "
                        f"moving {state.messages} messages" + _consumers_note(state)
                    )

    def run(self) -> None:
        """Migrate every queue that differs; refuse before touching any if one has consumers."""
        with broker_connection(self.broker_url) as connection:
            connect_to_any_node(connection)
            channel = amqp_channel(connection.channel())
            # Bodies are moved as the bytes they are, whatever their content encoding says.
            channel.auto_decode = False
            self._refuse_consumed_queues(channel)
            topology.declare_exchanges(channel, self.wanted.exchanges)
            publisher = ConfirmingPublisher(self.broker_url)
            try:
                for queue in self.wanted.queues:
                    self._migrate(channel, publisher, queue)
            finally:
                publisher.close()

    @property
    def _wanted(self) -> str:
        return f"{self.shape.queue_type} queue"

    def _refuse_consumed_queues(self, channel: amqp.Channel) -> None:
        for queue in self.wanted.queues:
            for name in (queue.name, temporary(queue).name):
                try:
                    _, consumers = topology.queue_counts(channel, name)
                except amqp.exceptions.NotFound:
                    continue
                if consumers:
                    raise MigrationRefused(
                        f"{name} has {consumers} consumers: stop every worker first"
                    )

    def _migrate(
        self, channel: amqp.Channel, publisher: ConfirmingPublisher, queue: QueueDeclaration
    ) -> None:
        """Bring one queue to its declaration; report what was done."""
        interim = temporary(queue)
        done = []
        leftover = self._inspect(channel, interim, queue.name)
        if leftover.exists and not leftover.matches:
            # Left by an interrupted migration to another shape: its messages go home first,
            # then the queue migrates like any other.
            if not topology.exists(channel, queue.name):
                topology.declare_queue(channel, queue)
            topology.bind(channel, queue.name, queue.bindings)
            topology.unbind(channel, interim.name, interim.bindings)
            moved = self._empty_into(channel, publisher, interim.name, queue.name)
            channel.queue_delete(interim.name)
            done.append(
                f"emptied {interim.name} ({leftover.describe()} left by an interrupted "
                f"migration) into it: {moved} messages"
            )

        state = self._inspect(channel, queue, queue.name)
        moved_out = None
        if not state.exists:
            topology.declare_queue(channel, queue)
            done.append(f"was missing, declared as a {self._wanted}")
        elif not state.matches:
            topology.declare_queue(channel, interim)
            topology.bind(channel, interim.name, interim.bindings)
            topology.unbind(channel, queue.name, queue.bindings)
            moved_out = self._empty_into(channel, publisher, queue.name, interim.name)
            channel.queue_delete(queue.name)
            topology.declare_queue(channel, queue)
        # Bound in every case: a run interrupted right after declaring it may not have.
        topology.bind(channel, queue.name, queue.bindings)

        if topology.exists(channel, interim.name):
            topology.unbind(channel, interim.name, interim.bindings)
            moved_back = self._empty_into(channel, publisher, interim.name, queue.name)
            channel.queue_delete(interim.name)
            if moved_out is None:
                done.append(
                    f"finished an interrupted migration: {moved_back} messages moved back "
                    f"from {interim.name}"
                )
            else:
                done.append(
                    f"was {state.describe()}, now a {self._wanted}: {moved_out} messages "
                    f"moved out to {interim.name} and {moved_back} back"
                )
        self.report(f"{queue.name}: " + ("; ".join(done) or f"already a {self._wanted}"))

    def _inspect(
        self, channel: amqp.Channel, queue: QueueDeclaration, original_name: str
    ) -> QueueState:
        try:
            messages, consumers = topology.queue_counts(channel, queue.name)
        except amqp.exceptions.NotFound:
            return QueueState(exists=False)
        try:
            topology.declare_queue(channel, queue)
        except amqp.exceptions.PreconditionFailed as error:
            other = dataclasses.replace(self.other.queue(original_name), name=queue.name)
            current = self.other_type if topology.matches(channel, other) else None
            return QueueState(
                exists=True,
                current_type=current,
                messages=messages,
                consumers=consumers,
                reason=topology.reason(error),
            )
        return QueueState(exists=True, matches=True, messages=messages, consumers=consumers)

    def _empty_into(
        self,
        channel: amqp.Channel,
        publisher: ConfirmingPublisher,
        source: str,
        destination: str,
    ) -> int:
        """Move every message of an unbound source queue; return how many were moved.

        The source is checked empty and unconsumed right before it is deleted. Quorum queues
        cannot be deleted "if empty", so that check is this one, made when nothing routes to
        the source any more.
        """
        moved = 0
        while True:
            moved += _move(channel, publisher, source, destination)
            messages, consumers = topology.queue_counts(channel, source)
            if consumers:
                raise MigrationRefused(f"{source} got {consumers} consumers: stop every worker")
            if not messages:
                return moved


def _move(
    channel: amqp.Channel, publisher: ConfirmingPublisher, source: str, destination: str
) -> int:
    """Move what the source holds now, a confirmed batch at a time; return how many."""
    moved = 0
    while True:
        batch: list[amqp.Message] = []
        while len(batch) < MOVE_BATCH_SIZE:
            message = channel.basic_get(source, no_ack=False)
            if message is None:
                break
            batch.append(message)
        if not batch:
            return moved
        publisher.publish([_copy(message, destination) for message in batch])
        last_tag = batch[-1].delivery_tag
        assert last_tag is not None, "a message from basic_get has its delivery tag"
        channel.basic_ack(last_tag, multiple=True)
        moved += len(batch)


def _copy(message: amqp.Message, queue: str) -> OutgoingMessage:
    """The message, headers and properties unchanged, addressed straight to a queue."""
    properties = dict(message.properties)
    # The publisher makes every message persistent.
    properties.pop("delivery_mode", None)
    assert isinstance(message.body, bytes), "the migration's channel does not decode bodies"
    return OutgoingMessage(exchange="", routing_key=queue, body=message.body, properties=properties)


def _consumers_note(state: QueueState) -> str:
    return f" ({state.consumers} consumers: stop every worker first)" if state.consumers else ""
