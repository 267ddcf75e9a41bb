"""Moving queues between classic and quorum without losing a message (real RabbitMQ)."""

from io import StringIO

import amqp
import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings
from kombu import Connection

from conftest import TEST_DELIVERY_LIMIT, TEST_RETRY_DELAYS
from harness.waiting import wait_until
from outbox.core import topology
from outbox.core.registry import Service
from outbox.core.topology import CLASSIC, QUORUM, QueueShape
from outbox.operations.queue_migration import MigrationRefused, QueueMigration, temporary
from tests.integration.scratch import (
    SCRATCH_EVENT_TYPE,
    SCRATCH_RETRY_DELAYS,
    declare,
    event_message,
    source,
)
from tests.management_api import queue_info


def migration(service: Service, queue_type: str, lines: list[str]) -> QueueMigration:
    return QueueMigration(
        settings.CELERY_BROKER_URL,
        [service],
        SCRATCH_RETRY_DELAYS,
        QueueShape(queue_type, delivery_limit=5),
        report=lines.append,
    )


def fill(service: Service) -> dict[str, set[str]]:
    """Messages waiting in the receive, retry and both dead-letter queues, each reaching its
    queue the way it would in production, confirmed; returns the event ids per queue."""
    name = service.name
    routes = {
        # Routed by event type from the source's publish exchange.
        topology.receive_queue(name): (topology.publish_exchange(source(name)), SCRATCH_EVENT_TYPE),
        # A failed message waiting for its retry.
        topology.receive_retry_queue(name, 600): ("", topology.receive_retry_queue(name, 600)),
        # Dead-lettered by a worker.
        topology.receive_dead_letter_queue(name): (topology.receive_dead_letter_exchange(name), ""),
        # Published by the service with no queue bound for it: the alternate exchange.
        topology.publish_dead_letter_queue(name): (topology.publish_exchange(name), "NoOneEvent"),
    }
    sent: dict[str, set[str]] = {}
    with Connection(settings.CELERY_BROKER_URL) as connection:
        channel = connection.channel()
        channel.confirm_select()
        for queue, (exchange, routing_key) in routes.items():
            for attempt in range(3):
                event_id, message = event_message(service, **{"x-attempts": attempt})
                channel.basic_publish(message, exchange=exchange, routing_key=routing_key)
                sent.setdefault(queue, set()).add(event_id)
    return sent


def move_by_hand(broker: Connection, source: str, destination: str, count: int) -> None:
    """Move messages as an interrupted migration would have."""
    channel = broker.default_channel
    for _ in range(count):
        message = channel.basic_get(source, no_ack=True)
        channel.basic_publish(message, exchange="", routing_key=destination)


def drain(broker: Connection, queue: str) -> list[amqp.Message]:
    """Take every message waiting in the queue."""
    channel, messages = broker.default_channel, []
    while (message := channel.basic_get(queue, no_ack=True)) is not None:
        messages.append(message)
    return messages


def event_ids(messages: list[amqp.Message]) -> set[str]:
    return {message.properties["message_id"] for message in messages}


def queue_exists(broker: Connection, queue: str) -> bool:
    return topology.exists(broker.default_channel, queue)


@pytest.mark.parametrize(("before", "after"), [(CLASSIC, QUORUM), (QUORUM, CLASSIC)])
def test_every_message_moves_to_the_queue_of_the_same_name_and_new_type(
    broker: Connection, scratch_service: Service, before: str, after: str
) -> None:
    plan = declare(broker, scratch_service, QueueShape(before, delivery_limit=5))
    sent = fill(scratch_service)
    lines: list[str] = []

    migration(scratch_service, after, lines).run()

    for queue in plan.queues:
        assert queue_info(queue.name)["type"] == after, queue.name
        assert not queue_exists(broker, temporary(queue).name)
    for queue, ids in sent.items():
        messages = drain(broker, queue)
        assert event_ids(messages) == ids, queue
        assert sorted(message.headers["x-attempts"] for message in messages) == [0, 1, 2]
    receive_queue = topology.receive_queue(scratch_service.name)
    assert f"{receive_queue}: was a {before} queue, now a {after} queue: 3 messages" in "\n".join(
        lines
    )


def test_the_migrated_receive_queue_gets_what_is_published_to_its_bindings(
    broker: Connection, scratch_service: Service
) -> None:
    declare(broker, scratch_service, QueueShape(CLASSIC))
    migration(scratch_service, QUORUM, []).run()
    name = scratch_service.name

    event_id, message = event_message(scratch_service)
    broker.default_channel.basic_publish(
        message, exchange=topology.publish_exchange(source(name)), routing_key=SCRATCH_EVENT_TYPE
    )

    received = wait_until(
        lambda: broker.default_channel.basic_get(topology.receive_queue(name), no_ack=True),
        what="the event routed to the new receive queue",
    )
    assert received.properties["message_id"] == event_id


def test_running_it_again_changes_nothing(broker: Connection, scratch_service: Service) -> None:
    plan = declare(broker, scratch_service, QueueShape(CLASSIC))
    migration(scratch_service, QUORUM, []).run()
    lines: list[str] = []

    migration(scratch_service, QUORUM, lines).run()

    assert lines == [f"{queue.name}: already a quorum queue" for queue in plan.queues]


@pytest.mark.parametrize("interrupted", ["while moving out", "after deleting the queue"])
def test_a_run_interrupted_midway_is_finished_by_the_next(
    broker: Connection, scratch_service: Service, interrupted: str
) -> None:
    """What a crash leaves: the receive queue unbound and partly moved to the temporary
    queue, or already deleted with every message in the temporary queue."""
    declare(broker, scratch_service, QueueShape(CLASSIC))
    sent = fill(scratch_service)
    queue = topology.plan([scratch_service], SCRATCH_RETRY_DELAYS, QueueShape(QUORUM, 5)).queue(
        topology.receive_queue(scratch_service.name)
    )
    interim = temporary(queue)
    channel = broker.default_channel
    topology.declare_queue(channel, interim)
    topology.bind(channel, interim.name, interim.bindings)
    topology.unbind(channel, queue.name, queue.bindings)
    move_by_hand(broker, queue.name, interim.name, 2)
    if interrupted == "after deleting the queue":
        move_by_hand(broker, queue.name, interim.name, 1)
        channel.queue_delete(queue.name)
    lines: list[str] = []

    migration(scratch_service, QUORUM, lines).run()

    assert queue_info(queue.name)["type"] == "quorum"
    assert not queue_exists(broker, interim.name)
    assert event_ids(drain(broker, queue.name)) == sent[queue.name]
    assert any(line.startswith(queue.name) and interim.name in line for line in lines)


def test_a_temporary_queue_left_by_a_migration_the_other_way_is_emptied_first(
    broker: Connection, scratch_service: Service
) -> None:
    declare(broker, scratch_service, QueueShape(CLASSIC))
    sent = fill(scratch_service)
    queue_name = topology.receive_queue(scratch_service.name)
    classic = topology.plan([scratch_service], SCRATCH_RETRY_DELAYS, QueueShape(CLASSIC))
    leftover = temporary(classic.queue(queue_name))
    channel = broker.default_channel
    topology.declare_queue(channel, leftover)
    move_by_hand(broker, queue_name, leftover.name, 1)
    lines: list[str] = []

    migration(scratch_service, QUORUM, lines).run()

    assert queue_info(queue_name)["type"] == "quorum"
    assert not queue_exists(broker, leftover.name)
    assert event_ids(drain(broker, queue_name)) == sent[queue_name]
    assert any(f"emptied {leftover.name} (a classic queue" in line for line in lines)


def test_a_queue_with_a_consumer_is_refused_before_anything_moves(
    broker: Connection, scratch_service: Service
) -> None:
    plan = declare(broker, scratch_service, QueueShape(CLASSIC))
    sent = fill(scratch_service)
    receive_queue = topology.receive_queue(scratch_service.name)
    with Connection(settings.CELERY_BROKER_URL) as worker:
        worker.default_channel.basic_qos(0, 1, False)
        worker.default_channel.basic_consume(receive_queue, callback=lambda message: None)

        with pytest.raises(MigrationRefused, match=f"{receive_queue} has 1 consumers"):
            migration(scratch_service, QUORUM, []).run()

    for queue in plan.queues:
        assert queue_info(queue.name)["type"] == "classic"
    for queue, ids in sent.items():
        assert event_ids(drain(broker, queue)) == ids


def test_a_dry_run_lists_what_would_change_and_changes_nothing(
    broker: Connection, scratch_service: Service
) -> None:
    plan = declare(broker, scratch_service, QueueShape(CLASSIC))
    fill(scratch_service)
    lines: list[str] = []

    migration(scratch_service, QUORUM, lines).dry_run()

    receive_queue = topology.receive_queue(scratch_service.name)
    assert f"{receive_queue}: a classic queue; would become a quorum queue, moving 3 messages" in (
        lines
    )
    assert len(lines) == len(plan.queues)
    for queue in plan.queues:
        assert queue_info(queue.name)["type"] == "classic"


def test_the_command_finds_the_test_topology_already_of_the_configured_type(
    broker: Connection,
) -> None:
    out = StringIO()
    as_tested = {
        **settings.OUTBOX,
        "RETRY_DELAYS_SECONDS": list(TEST_RETRY_DELAYS),
        "DELIVERY_LIMIT": TEST_DELIVERY_LIMIT,
    }

    with override_settings(OUTBOX=as_tested):
        call_command("migrate_queues", "--dry-run", stdout=out)

    lines = out.getvalue().splitlines()
    assert lines
    queue_type = settings.OUTBOX["QUEUE_TYPE"]
    assert all(line.endswith(f": already a {queue_type} queue") for line in lines), lines
