"""Connecting to any live node of a broker given as a list of nodes, in plain text or TLS.

`CELERY_BROKER_URL` may name several nodes of a RabbitMQ cluster in kombu's failover syntax,
`amqp://u:p@host1:5672/vhost;amqp://u:p@host2:5672/vhost;...`. A kombu connection made from
such a list moves to the next node (round-robin) after a failed attempt. `connect_to_any_node`
tries every node once: a dead node is passed over at once, and a list with no live node fails
at once, naming every node it tried (passwords masked).

`amqps://` URLs connect over TLS (`broker_tls_options`): the broker's certificate must be
signed by `BROKER_TLS_CA_FILE`'s CA (or, without it, by one the system trusts) and name the
host of the URL. Every connection of the project, Celery's included, takes its options from
there.
"""

import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import amqp
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from kombu import Connection
from kombu.exceptions import OperationalError
from kombu.transport.base import StdChannel

TLS_SCHEME = "amqps"
# The environment variable of each key of the BROKER_TLS setting, to name it in errors.
TLS_VARIABLES = {
    "CA_FILE": "BROKER_TLS_CA_FILE",
    "CERT_FILE": "BROKER_TLS_CERT_FILE",
    "KEY_FILE": "BROKER_TLS_KEY_FILE",
}


class BrokerUnreachable(OperationalError):
    """No node of the broker list accepted a connection."""


class FailoverConnection(Connection):
    """A kombu connection that checks each node's certificate against that node's host name.

    kombu writes the host of the first node it connects to into the TLS options, in place,
    and would check every later node of the list against that name.
    """

    # kombu passes these by keyword only, so the whole of them may be taken as **params.
    def _init_params(self, **params: Any) -> None:  # type: ignore[override]
        options = params.get("ssl")
        if isinstance(options, dict) and "server_hostname" in options:
            params["ssl"] = {**options, "server_hostname": None}
        super()._init_params(**params)


def broker_tls_options(url: str, tls: Mapping[str, str | None]) -> dict[str, Any] | bool:
    """kombu's `ssl` option for the broker `url`, given the BROKER_TLS setting.

    False for `amqp://` nodes. For `amqps://` nodes: the certificate must be valid, signed by
    the CA of `CA_FILE` (the system's CAs without it) and name the node's host; `CERT_FILE`
    and `KEY_FILE` present a client certificate. Raises `ImproperlyConfigured` for a list that
    mixes both schemes, for TLS files given with a plain-text URL (the password would travel
    in clear), and for a file that is not there.
    """
    schemes = {node.split("://", 1)[0] for node in url.split(";") if "://" in node}
    files = {key: path for key, path in tls.items() if path}
    if TLS_SCHEME not in schemes:
        if files:
            raise ImproperlyConfigured(
                f"{', '.join(TLS_VARIABLES[key] for key in files)} set, but the broker URL is "
                f"not {TLS_SCHEME}://: it would send its password in clear"
            )
        return False
    if len(schemes) > 1:
        raise ImproperlyConfigured(
            f"the broker URL mixes {' and '.join(sorted(s + '://' for s in schemes))} nodes: "
            f"use {TLS_SCHEME}:// for every node"
        )
    for key, path in files.items():
        if not Path(path).is_file():
            raise ImproperlyConfigured(f"{TLS_VARIABLES[key]}={path}: no such file")
    if "KEY_FILE" in files and "CERT_FILE" not in files:
        raise ImproperlyConfigured("BROKER_TLS_KEY_FILE set without BROKER_TLS_CERT_FILE")
    # server_hostname None: kombu puts the URL's host there, which turns the check of the
    # host name on; CERT_REQUIRED refuses a broker without a valid certificate.
    options: dict[str, Any] = {"cert_reqs": ssl.CERT_REQUIRED, "server_hostname": None}
    if "CA_FILE" in files:
        options["ca_certs"] = files["CA_FILE"]
    if "CERT_FILE" in files:
        options["certfile"] = files["CERT_FILE"]
        options["keyfile"] = files.get("KEY_FILE")
    return options


def broker_connection(url: str, **options: Any) -> Connection:
    """A connection to the broker `url`, which may list several nodes separated by `;`."""
    return FailoverConnection(
        url,
        failover_strategy="round-robin",
        ssl=broker_tls_options(url, settings.BROKER_TLS),
        **options,
    )


def amqp_channel(channel: StdChannel) -> amqp.Channel:
    """A kombu channel as the py-amqp channel it is: the broker is RabbitMQ, which kombu
    reaches through py-amqp for every `amqp://` and `amqps://` URL."""
    assert isinstance(channel, amqp.Channel), f"not a py-amqp channel: {channel!r}"
    return channel


def connect_to_any_node(connection: Connection) -> None:
    """Connect to the first node of the list, from the current one on, that accepts.

    Raises `BrokerUnreachable` naming each node tried and why it failed.
    """
    tried: list[str] = []
    hints: dict[str, None] = {}  # in order, once each

    sends_certificate = isinstance(connection.ssl, dict) and "certfile" in connection.ssl

    def record_failure(error: BaseException, interval: float) -> None:
        if hint := tls_hint(error, sends_certificate):
            hints[hint] = None
        # Called before kombu moves on, so `as_uri` still names the node that failed.
        tried.append(f"{connection.as_uri()} ({type(error).__name__}: {error})")

    node_count = max(len(connection.alt), 1)
    try:
        connection.ensure_connection(errback=record_failure, max_retries=node_count - 1)
    except (OperationalError, amqp.exceptions.AMQPError, OSError) as error:
        # kombu wraps the last attempt's error; name the original, as for the others.
        record_failure(error.__cause__ or error, 0)
        raise BrokerUnreachable(
            f"could not connect to the broker; tried {len(tried)} of {node_count} "
            f"node(s): {', '.join(tried)}{''.join(f'; {hint}' for hint in hints)}"
        ) from error


def tls_hint(error: BaseException, sends_certificate: bool) -> str | None:
    """What to check when a TLS handshake failed, or None."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return (
            "the broker's TLS certificate was refused: it must be signed by the CA of "
            "BROKER_TLS_CA_FILE and name the host of the URL"
        )
    if not isinstance(error, ssl.SSLError):
        return None
    # The broker refuses a client certificate with an alert, or (TLS 1.3) may just hang up.
    if sends_certificate:
        return (
            "the broker ended the TLS handshake: it must trust the CA that signed the client "
            "certificate of BROKER_TLS_CERT_FILE"
        )
    if "CERTIFICATE_REQUIRED" in (error.reason or ""):
        return "the broker requires a client certificate: set BROKER_TLS_CERT_FILE"
    return None
