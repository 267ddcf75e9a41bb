"""The test broker over TLS: its amqps:// URL, the project's local CA, and certificates that
are not the project's, made with openssl for a test."""

import secrets
import subprocess
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings

# Made by scripts/services.sh, which also points the node's TLS listener at it.
PROJECT_CA_FILE = settings.BASE_DIR / ".run" / "rabbitmq" / "tls" / "ca_certificate.pem"
TLS_PORT = 5671


def broker_url(*, scheme: str = "amqps", host: str = "127.0.0.1", port: int = TLS_PORT) -> str:
    """The test broker's URL (credentials and vhost) with another scheme, host or port."""
    broker = urlsplit(settings.CELERY_BROKER_URL)
    credentials = broker.netloc.rpartition("@")[0]
    return urlunsplit((scheme, f"{credentials}@{host}:{port}", broker.path, "", ""))


def self_signed_certificate(directory: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate (a CA of its own) and its key, in `directory`."""
    certificate, key = directory / f"{name}.pem", directory / f"{name}_key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", f"/CN={name}", "-keyout", key, "-out", certificate],
        check=True, capture_output=True,
    )  # fmt: skip
    return certificate, key


def client_certificate(directory: Path, ca_file: Path, ca_key: Path) -> tuple[Path, Path]:
    """A client certificate signed by the CA of `ca_file`, and its key, in `directory`."""
    certificate, key, request = (directory / f"client{end}" for end in (".pem", "_key.pem", ".csr"))
    extensions = directory / "client.ext"
    extensions.write_text("extendedKeyUsage=clientAuth\n")
    subprocess.run(
        ["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=ecommerce-client",
         "-keyout", key, "-out", request],
        check=True, capture_output=True,
    )  # fmt: skip
    subprocess.run(
        ["openssl", "x509", "-req", "-in", request, "-CA", ca_file, "-CAkey", ca_key,
         "-set_serial", str(secrets.randbits(63)), "-days", "1", "-extfile", extensions,
         "-out", certificate],
        check=True, capture_output=True,
    )  # fmt: skip
    return certificate, key
