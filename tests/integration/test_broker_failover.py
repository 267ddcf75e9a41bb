"""A broker given as a list of nodes: any live node serves, and a list without one is named."""

from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import override_settings
from rest_framework.test import APIClient

from outbox.core.publisher import ConfirmingPublisher, OutgoingMessage, PublishFailed

# Nothing listens on these ports: connections are refused, as by a node that was killed.
DEAD_NODES = [
    "amqp://ecommerce:secret@127.0.0.1:1/ecommerce_test",
    "amqp://ecommerce:secret@127.0.0.1:2/ecommerce_test",
]


def broker_list(*urls: str) -> str:
    return ";".join(urls)


def test_the_publisher_passes_over_a_dead_node_to_a_live_one(broker: object) -> None:
    publisher = ConfirmingPublisher(broker_list(*DEAD_NODES, settings.CELERY_BROKER_URL))
    unroutable = OutgoingMessage(
        exchange="", routing_key="no-such-queue", body=b"{}", properties={}
    )
    try:
        publisher.publish([unroutable])  # confirmed by the broker, though routed nowhere
    finally:
        publisher.close()


def test_a_list_without_a_live_node_fails_naming_every_node_tried() -> None:
    publisher = ConfirmingPublisher(broker_list(*DEAD_NODES))

    with pytest.raises(PublishFailed) as failure:
        publisher.connect()

    message = str(failure.value)
    assert "tried 2 of 2 node(s)" in message
    assert "amqp://ecommerce:**@127.0.0.1:1/ecommerce_test" in message
    assert "amqp://ecommerce:**@127.0.0.1:2/ecommerce_test" in message
    assert "secret" not in message


@override_settings(BROKER_ADMIN_URL=broker_list(*DEAD_NODES))
def test_declaring_the_topology_without_a_live_node_exits_naming_the_nodes() -> None:
    with pytest.raises(CommandError) as failure:
        call_command("declare_topology", stdout=StringIO())

    assert "127.0.0.1:1/ecommerce_test" in str(failure.value)
    assert "127.0.0.1:2/ecommerce_test" in str(failure.value)
    assert "secret" not in str(failure.value)
    assert "BROKER_ADMIN_URL" in str(failure.value)


@pytest.mark.django_db
def test_the_health_check_reaches_a_live_node_past_a_dead_one(
    broker: object, staff_client: APIClient
) -> None:
    with override_settings(CELERY_BROKER_URL=broker_list(*DEAD_NODES, settings.CELERY_BROKER_URL)):
        response = staff_client.get("/health")

    assert response.status_code == 200
    assert response.json()["broker"]["ok"] is True
