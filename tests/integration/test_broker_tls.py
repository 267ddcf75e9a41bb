"""AMQP over TLS with the real broker: its TLS listener (port 5671, scripts/services.sh) and
the project's local CA, or certificates of another CA made here with openssl."""

import os
import ssl
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import amqp
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from kombu import Connection

from harness.waiting import wait_until
from outbox.core.failover import BrokerUnreachable, broker_connection, connect_to_any_node
from outbox.core.publisher import ConfirmingPublisher, OutgoingMessage, PublishFailed
from tests import management_api
from tests.broker_tls import (
    PROJECT_CA_FILE,
    broker_url,
    client_certificate,
    self_signed_certificate,
)

pytestmark = pytest.mark.skipif(
    not PROJECT_CA_FILE.is_file(), reason="no local CA: scripts/services.sh start makes it"
)

NO_TLS_FILES = {"CA_FILE": None, "CERT_FILE": None, "KEY_FILE": None}
PROJECT_CA = {**NO_TLS_FILES, "CA_FILE": str(PROJECT_CA_FILE)}


@pytest.fixture
def receiving_queue() -> Iterator[tuple[Connection, str]]:
    """A consumer's TLS connection, and a queue of its own that the test's messages go to."""
    with override_settings(BROKER_TLS=PROJECT_CA), broker_connection(broker_url()) as consumer:
        connect_to_any_node(consumer)
        queue = f"tls-test-{uuid.uuid4().hex}"
        consumer.default_channel.queue_declare(queue, exclusive=True)
        yield consumer, queue


def sent_over_tls(connection: Connection) -> ssl.SSLSocket:
    sock = connection.connection.transport.sock
    assert isinstance(sock, ssl.SSLSocket)
    return sock


def publish_one(publisher: ConfirmingPublisher, queue: str, body: bytes) -> None:
    publisher.publish([OutgoingMessage(exchange="", routing_key=queue, body=body, properties={})])


def received(consumer: Connection, queue: str) -> amqp.Message | None:
    return consumer.default_channel.basic_get(queue, no_ack=True)


@override_settings(BROKER_TLS=PROJECT_CA)
def test_a_publisher_confirms_over_tls_and_a_consumer_receives(
    receiving_queue: tuple[Connection, str],
) -> None:
    consumer, queue = receiving_queue
    publisher = ConfirmingPublisher(broker_url())
    try:
        publish_one(publisher, queue, b"over TLS")

        assert sent_over_tls(publisher._connection).version() in ("TLSv1.2", "TLSv1.3")
    finally:
        publisher.close()
    message = wait_until(lambda: received(consumer, queue), what="the message received")
    assert message.body == b"over TLS"
    assert sent_over_tls(consumer).getpeercert()["subjectAltName"] == (
        ("DNS", "localhost"),
        ("IP Address", "127.0.0.1"),
    )


def test_a_broker_certificate_from_another_ca_is_refused_naming_the_setting(
    tmp_path: Path,
) -> None:
    other_ca, _ = self_signed_certificate(tmp_path, "another-ca")

    with override_settings(BROKER_TLS={**NO_TLS_FILES, "CA_FILE": str(other_ca)}):
        publisher = ConfirmingPublisher(broker_url())
        with pytest.raises(PublishFailed) as refused:
            publisher.connect()

    message = str(refused.value)
    assert "CERTIFICATE_VERIFY_FAILED" in message
    assert "BROKER_TLS_CA_FILE" in message
    assert "amqps://" in message and ":**@127.0.0.1:5671" in message  # password masked


@override_settings(BROKER_TLS=PROJECT_CA)
def test_a_host_name_the_certificate_does_not_name_is_refused() -> None:
    # "127.1" reaches 127.0.0.1, but is a name the certificate does not list.
    with broker_connection(broker_url(host="127.1")) as connection:
        with pytest.raises(BrokerUnreachable, match="Hostname mismatch.*'127.1'"):
            connect_to_any_node(connection)


@override_settings(BROKER_TLS=PROJECT_CA)
def test_each_node_of_a_list_is_checked_against_its_own_host_name() -> None:
    nodes = f"{broker_url(host='127.1')};{broker_url(host='localhost')}"

    with broker_connection(nodes) as connection:
        connect_to_any_node(connection)

        assert connection.hostname == "127.0.0.1"  # kombu's name for localhost
        assert sent_over_tls(connection).server_hostname == "127.0.0.1"


@override_settings(BROKER_TLS=NO_TLS_FILES)
def test_plain_text_amqp_to_the_tls_port_fails_at_once() -> None:
    publisher = ConfirmingPublisher(broker_url(scheme="amqp"))
    started = time.monotonic()

    with pytest.raises(PublishFailed, match="could not connect to the broker"):
        publisher.connect()

    # The broker ends the connection: no wait for a timeout.
    assert time.monotonic() - started < 4


@override_settings(BROKER_TLS=PROJECT_CA)
def test_a_plain_text_url_with_the_tls_files_is_refused_before_it_sends_a_password() -> None:
    with pytest.raises(ImproperlyConfigured, match="BROKER_TLS_CA_FILE set.*not amqps://"):
        broker_connection(broker_url(scheme="amqp", port=5672))


def test_a_list_mixing_tls_and_plain_text_nodes_is_refused() -> None:
    mixed = f"{broker_url()};{broker_url(scheme='amqp', port=5672)}"

    with pytest.raises(ImproperlyConfigured, match="mixes amqp:// and amqps://"):
        broker_connection(mixed)


@override_settings(BROKER_TLS={**PROJECT_CA, "CERT_FILE": "/nonexistent/client.pem"})
def test_a_missing_certificate_file_is_named() -> None:
    with pytest.raises(ImproperlyConfigured, match="BROKER_TLS_CERT_FILE=/nonexistent/client.pem"):
        broker_connection(broker_url())


def test_a_client_certificate_from_another_ca_is_refused_by_the_broker(tmp_path: Path) -> None:
    certificate, key = self_signed_certificate(tmp_path, "stranger")

    with override_settings(
        BROKER_TLS={**PROJECT_CA, "CERT_FILE": str(certificate), "KEY_FILE": str(key)}
    ):
        publisher = ConfirmingPublisher(broker_url())
        with pytest.raises(
            PublishFailed, match="it must trust the CA that signed the client certificate"
        ):
            publisher.connect()


@pytest.mark.skipif(
    not os.access(PROJECT_CA_FILE.with_name("ca_key.pem"), os.R_OK),
    reason="the local CA's key is for the rabbitmq user only",
)
def test_a_client_certificate_from_the_project_ca_is_presented(tmp_path: Path) -> None:
    certificate, key = client_certificate(
        tmp_path, PROJECT_CA_FILE, PROJECT_CA_FILE.with_name("ca_key.pem")
    )

    with (
        override_settings(
            BROKER_TLS={**PROJECT_CA, "CERT_FILE": str(certificate), "KEY_FILE": str(key)}
        ),
        broker_connection(broker_url()) as connection,
    ):
        connect_to_any_node(connection)
        host, port = sent_over_tls(connection).getsockname()[:2]
        name = f"{host}:{port} -> 127.0.0.1:5671"

        seen = wait_until(
            lambda: next((c for c in management_api.connections() if c["name"] == name), None),
            timeout=30,
            what="the broker listing the connection",
        )
    assert seen["ssl"] is True
    assert "CN=ecommerce-client" in seen["peer_cert_subject"]
