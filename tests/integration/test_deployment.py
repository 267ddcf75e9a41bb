"""A deployment is safe by default: no start without a secret key outside DEBUG, and a clean
`check --deploy` with nothing but the key and the host name."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from rest_framework.test import APIClient

from ecommerce.settings import env_proxy_ssl_header

PROJECT_DIR = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def environment_without_django_settings(**django: str) -> dict[str, str]:
    """This environment without any DJANGO_ variable (the test session sets some), plus
    `django`."""
    kept = {name: value for name, value in os.environ.items() if not name.startswith("DJANGO_")}
    return {**kept, "DJANGO_SETTINGS_MODULE": "ecommerce.settings", **django}


def test_check_deploy_finds_nothing_with_a_key_and_a_host() -> None:
    env = environment_without_django_settings(
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50)[:50],
        DJANGO_ALLOWED_HOSTS="shop.example.com",
    )

    finished = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "no issues" in finished.stdout


@pytest.mark.parametrize(
    "command",
    [
        [str(BIN / "python"), "manage.py", "check"],
        [str(BIN / "python"), "manage.py", "run_relay"],
        [str(BIN / "celery"), "-A", "ecommerce", "worker", "--pool=solo", "--without-mingle"],
        [str(BIN / "gunicorn"), "ecommerce.wsgi:application", "--bind", "127.0.0.1:0"],
    ],
    ids=["manage.py", "relay", "worker", "web"],
)
def test_a_process_without_a_secret_key_refuses_to_start(command: list[str]) -> None:
    env = environment_without_django_settings(DJANGO_DEBUG="false")

    finished = subprocess.run(
        command, cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=60
    )

    assert finished.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in finished.stdout + finished.stderr


@pytest.mark.django_db
@override_settings(SECURE_SSL_REDIRECT=True)
def test_with_https_on_plain_http_is_redirected_but_the_health_probe() -> None:
    client = APIClient()

    redirected = client.get("/products")
    probed = client.get("/health")

    assert redirected.status_code == 301
    assert redirected["Location"] == "https://testserver/products"
    assert probed.status_code in (200, 503)


def test_the_proxy_header_is_read_as_django_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJANGO_SECURE_PROXY_SSL_HEADER", "X-Forwarded-Proto=https")

    assert env_proxy_ssl_header("DJANGO_SECURE_PROXY_SSL_HEADER") == (
        "HTTP_X_FORWARDED_PROTO",
        "https",
    )


def test_a_proxy_header_without_its_value_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJANGO_SECURE_PROXY_SSL_HEADER", "X-Forwarded-Proto")

    with pytest.raises(ImproperlyConfigured, match="expected Header-Name=value"):
        env_proxy_ssl_header("DJANGO_SECURE_PROXY_SSL_HEADER")
