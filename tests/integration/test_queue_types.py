"""Quorum queues by default, classic on request, on the test broker (real RabbitMQ)."""

import amqp
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from kombu import Connection

from conftest import TEST_RETRY_DELAYS, queue_shape_for_tests
from harness.waiting import wait_until
from outbox.core import registry, topology
from outbox.core.dead_letters import dead_letter_record
from outbox.core.registry import Service
from outbox.core.topology import CLASSIC, QUORUM, QueueShape
from outbox.models import DeadLetter
from tests.integration.scratch import SCRATCH_EVENT_TYPE, declare, event_message, source
from tests.management_api import queue_info


def test_every_queue_of_the_test_topology_has_the_configured_type(broker: Connection) -> None:
    shape = queue_shape_for_tests()
    plan = topology.plan(registry.all_services(), TEST_RETRY_DELAYS, shape)

    types = {queue.name: queue_info(queue.name)["type"] for queue in plan.queues}

    assert set(types.values()) == {shape.queue_type}


def test_quorum_queues_have_a_delivery_limit_and_dead_letter_at_least_once(
    broker: Connection, scratch_service: Service
) -> None:
    name = scratch_service.name

    declare(broker, scratch_service, QueueShape(QUORUM, delivery_limit=5))

    receive = queue_info(topology.receive_queue(name))
    assert receive["type"] == "quorum"
    assert receive["arguments"] == {
        "x-queue-type": "quorum",
        "x-dead-letter-exchange": topology.receive_dead_letter_exchange(name),
        "x-delivery-limit": 5,
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }
    retry = queue_info(topology.receive_retry_queue(name, 600))
    assert retry["type"] == "quorum"
    assert retry["arguments"] == {
        "x-queue-type": "quorum",
        "x-message-ttl": 600_000,
        "x-dead-letter-exchange": topology.receive_recover_exchange(name),
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }
    for queue in (
        topology.receive_dead_letter_queue(name),
        topology.publish_dead_letter_queue(name),
    ):
        assert queue_info(queue)["type"] == "quorum"


def test_classic_queues_when_the_setting_says_so(
    broker: Connection, scratch_service: Service
) -> None:
    plan = declare(broker, scratch_service, QueueShape(CLASSIC))

    for queue in plan.queues:
        info = queue_info(queue.name)
        assert info["type"] == "classic", queue.name
        assert "x-queue-type" not in info["arguments"]
        assert "x-delivery-limit" not in info["arguments"]


def test_a_quorum_retry_queue_sends_an_expired_message_back_to_the_receive_queue(
    broker: Connection, scratch_service: Service
) -> None:
    declare(broker, scratch_service, QueueShape(QUORUM))
    channel = broker.default_channel
    retry_queue = topology.receive_retry_queue(scratch_service.name, 0.2)

    channel.basic_publish(amqp.Message(b"try again"), exchange="", routing_key=retry_queue)

    message = wait_until(
        lambda: channel.basic_get(topology.receive_queue(scratch_service.name), no_ack=True),
        what="the message back in the receive queue after its TTL",
    )
    assert message.body == b"try again"
    assert message.headers["x-death"][0]["reason"] == "expired"


@pytest.mark.parametrize(("existing", "wanted"), [(CLASSIC, QUORUM), (QUORUM, CLASSIC)])
def test_a_queue_of_another_type_is_refused_with_its_type_and_the_command_to_run(
    broker: Connection, scratch_service: Service, existing: str, wanted: str
) -> None:
    declare(broker, scratch_service, QueueShape(existing))

    with pytest.raises(topology.QueueMismatch) as refused:
        declare(broker, scratch_service, QueueShape(wanted))

    queue = topology.publish_dead_letter_queue(scratch_service.name)
    assert refused.value.queue == queue
    assert refused.value.current_type == existing
    message = str(refused.value)
    assert f"{queue!r} is a {existing} queue" in message
    assert f"manage.py migrate_queues --to {wanted}" in message
    assert queue_info(queue)["type"] == existing


def test_another_delivery_limit_is_refused_too_naming_the_argument(
    broker: Connection, scratch_service: Service
) -> None:
    declare(broker, scratch_service, QueueShape(QUORUM, delivery_limit=5))

    with pytest.raises(topology.QueueMismatch) as refused:
        declare(broker, scratch_service, QueueShape(QUORUM, delivery_limit=6))

    assert refused.value.queue == topology.receive_queue(scratch_service.name)
    assert refused.value.current_type is None
    assert "x-delivery-limit" in str(refused.value)


def test_declare_topology_stops_with_the_mismatch_as_its_error(
    broker: Connection, scratch_service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    configured = QueueShape(settings.OUTBOX["QUEUE_TYPE"])
    other = configured.with_the_other_type().queue_type
    declare(broker, scratch_service, QueueShape(other))
    monkeypatch.setattr(registry, "all_services", lambda: [scratch_service])

    wanted = configured.queue_type
    with pytest.raises(CommandError, match=f"is a {other} queue.*migrate_queues --to {wanted}"):
        call_command("declare_topology")


@pytest.mark.django_db
def test_a_message_past_its_delivery_limit_is_recorded_with_that_reason(
    broker: Connection, scratch_service: Service
) -> None:
    name = scratch_service.name
    declare(broker, scratch_service, QueueShape(QUORUM, delivery_limit=1))
    channel = broker.default_channel
    event_id, message = event_message(scratch_service)
    channel.basic_publish(
        message, exchange=topology.publish_exchange(source(name)), routing_key=SCRATCH_EVENT_TYPE
    )
    receive_queue = topology.receive_queue(name)
    for _ in range(2):  # given back twice, as by two workers that died holding it
        delivered = wait_until(lambda: channel.basic_get(receive_queue), what="a delivery")
        channel.basic_reject(delivered.delivery_tag, requeue=True)

    dead = wait_until(
        lambda: channel.basic_get(topology.receive_dead_letter_queue(name), no_ack=True),
        what="the message in the receive dead-letter queue",
    )
    record = dead_letter_record(
        service=name,
        kind=DeadLetter.Kind.FAILED,
        body=dead.body,
        properties=dead.properties,
        routing_key=dead.delivery_info["routing_key"],
        using="default",
    )

    assert record.event_id == event_id
    assert record.event_type == SCRATCH_EVENT_TYPE
    assert record.error_type == "DeliveryLimitReached"
    assert record.error_message.startswith(f"Delivery limit reached: {receive_queue} delivered")
    assert record.status == DeadLetter.Status.PENDING
    assert record.last_failed_at is not None
