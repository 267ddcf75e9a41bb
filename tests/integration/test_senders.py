"""Who may send what: the sender check on real PostgreSQL, and each service broker user's
permissions on the real test broker."""

import json
import secrets
from collections.abc import Iterator
from decimal import Decimal

import amqp
import pytest
from django.conf import settings
from django.test import override_settings
from kombu import Connection

from inventory.models import Inventory
from outbox.core import broker as outbox_broker
from outbox.core import metrics, topology
from outbox.core.consumer import Outcome, handle_batch
from outbox.core.publisher import ConfirmingPublisher, OutgoingMessage, PublishFailed
from outbox.core.registry import get_service
from outbox.core.senders import SENDER_HEADER, Forged, sender_of
from outbox.models import DeadLetter, OutboxEvent, ProcessedEvent
from outbox.operations.replay import replay_message
from products.services import product_create
from tests.management_api import MANAGEMENT_URL, broker_user, permissions_of

SPLIT_USERS = {"product": "product", "inventory": "inventory", "order": "order"}


def product_created_body() -> bytes:
    product = product_create(name="Apple", description="", price=Decimal("10"))
    return json.dumps(OutboxEvent.objects.get(aggregate_id=product.id.hex).payload).encode()


@pytest.mark.django_db(transaction=True)
@override_settings(OUTBOX={**settings.OUTBOX, "BROKER_USERS": SPLIT_USERS})
def test_an_event_sent_by_its_sources_user_is_handled() -> None:
    [outcome] = handle_batch(
        get_service("inventory"), [product_created_body()], senders=["product"]
    )

    assert outcome is Outcome.HANDLED
    assert Inventory.objects.count() == 1


@pytest.mark.django_db(transaction=True)
@override_settings(OUTBOX={**settings.OUTBOX, "BROKER_USERS": SPLIT_USERS})
@pytest.mark.parametrize(
    "sender", ["order", "intruder", None], ids=["other-service", "stranger", "unsigned"]
)
def test_an_event_sent_by_another_user_is_forged_and_changes_nothing(sender: str | None) -> None:
    before = metrics.EVENTS_FORGED.labels("inventory", sender or "none")._value.get()

    [outcome] = handle_batch(get_service("inventory"), [product_created_body()], senders=[sender])

    assert isinstance(outcome, Forged)
    assert f"'{sender or 'no user'}'" in str(outcome) and "'product'" in str(outcome)
    assert not Inventory.objects.exists()
    assert not ProcessedEvent.objects.filter(consumer="inventory").exists()
    assert metrics.EVENTS_FORGED.labels("inventory", sender or "none")._value.get() == before + 1


@override_settings(OUTBOX={**settings.OUTBOX, "BROKER_USERS": SPLIT_USERS})
def test_a_copy_the_consumer_sent_itself_names_the_first_sender() -> None:
    retried = {"user_id": "inventory"}

    assert sender_of(retried, {SENDER_HEADER: "product"}, "inventory") == "product"
    assert sender_of(retried, None, "inventory") == "inventory"
    # Only the consumer's own user may name another sender.
    assert sender_of({"user_id": "order"}, {SENDER_HEADER: "product"}, "inventory") == "order"
    assert sender_of({}, {SENDER_HEADER: "product"}, "inventory") is None
    # A copy of a message no one signed says so, and stays unsigned.
    assert sender_of(retried, {SENDER_HEADER: ""}, "inventory") is None


@override_settings(OUTBOX={**settings.OUTBOX, "BROKER_USERS": SPLIT_USERS})
@pytest.mark.parametrize(
    ("properties", "first_sender"),
    [
        # Moved by the broker itself (a delivery limit): signed by its sender.
        ({"user_id": "product", "application_headers": {}}, "product"),
        # Dead-lettered by the consumer: signed by it, naming the sender.
        ({"user_id": "inventory", "application_headers": {SENDER_HEADER: "product"}}, "product"),
        # Refused as unsigned: stays unsigned.
        ({"user_id": "inventory", "application_headers": {SENDER_HEADER: ""}}, None),
        # Recorded before messages were signed: the replaying process vouches for it.
        ({"application_headers": {}}, "inventory"),
    ],
    ids=["moved-by-the-broker", "routed-by-the-consumer", "unsigned", "recorded-before-signing"],
)
def test_a_replayed_dead_letter_names_its_first_sender(
    properties: dict, first_sender: str | None
) -> None:
    record = DeadLetter(
        service="inventory",
        kind=DeadLetter.Kind.FAILED,
        routing_key="ProductCreatedEvent",
        body=b"{}",
        properties=properties,
    )

    replay = replay_message(record)

    # The replaying process signs it as the inventory's own user.
    assert (
        sender_of({"user_id": "inventory"}, replay.properties["application_headers"], "inventory")
        == first_sender
    )


@pytest.fixture
def product_user(broker: Connection) -> Iterator[str]:
    """A broker user standing for the product service, granted by `grant_broker_users` as
    declare_topology grants it; its URL."""
    name = f"test-product-{secrets.token_hex(4)}"
    # The administrator's own rights are left as they are: only the new user is granted.
    admin = Connection(settings.CELERY_BROKER_URL).userid
    users = {"product": name, "inventory": admin, "order": admin}
    with broker_user(name) as url:
        with override_settings(
            OUTBOX={**settings.OUTBOX, "BROKER_USERS": users},
            BROKER_MANAGEMENT_URL=MANAGEMENT_URL,
        ):
            granted = outbox_broker.grant_broker_users()
        assert permissions_of(name) == granted[name]
        yield url


def publish_as(url: str, exchange: str, routing_key: str) -> None:
    publisher = ConfirmingPublisher(url)
    try:
        publisher.publish([OutgoingMessage(exchange, routing_key, b"{}", {})])
    finally:
        publisher.close()


def test_a_service_user_publishes_to_its_own_exchange_only(product_user: str) -> None:
    publish_as(product_user, topology.publish_exchange("product"), "ProductCreatedEvent")
    publish_as(product_user, topology.receive_retry_exchange("product"), "any-retry-queue")
    publish_as(product_user, topology.receive_dead_letter_exchange("product"), "")

    for exchange, routing_key in (
        (topology.publish_exchange("order"), "OrderCreatedEvent"),
        ("", topology.receive_queue("inventory")),
        (topology.receive_recover_exchange("inventory"), ""),
    ):
        with pytest.raises(PublishFailed, match="ACCESS_REFUSED"):
            publish_as(product_user, exchange, routing_key)


def test_a_service_user_reads_its_own_queues_only(product_user: str) -> None:
    with Connection(product_user) as connection:
        channel = connection.default_channel
        channel.basic_get(topology.receive_queue("product"))
        with pytest.raises(amqp.exceptions.AccessRefused):
            connection.default_channel.basic_get(topology.receive_queue("inventory"))
