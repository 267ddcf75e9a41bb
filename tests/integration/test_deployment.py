"""A deployment is safe by default: no start without a secret key, or with a database or broker
URL that has no password or a known one, outside DEBUG; and a clean `check --deploy` with
nothing but the key, the host name and the URLs."""

import os
import secrets
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from rest_framework.test import APIClient

from ecommerce.settings import env_proxy_ssl_header
from harness.processes import relay_command, web_command, worker_command
from harness.project import PROJECT_DIR

PROCESSES = [
    [sys.executable, "manage.py", "check"],
    relay_command(),
    worker_command("ecommerce", "worker"),
    web_command("127.0.0.1:0"),
]
A_GOOD_DATABASE = "postgres://ecommerce:a-password-of-its-own@127.0.0.1:5432/ecommerce"
A_GOOD_BROKER = "amqp://ecommerce:a-password-of-its-own@127.0.0.1:5672/ecommerce"


def environment_without_django_settings(**django: str) -> dict[str, str]:
    """This environment without any DJANGO_ variable (the test session sets some), plus
    `django`."""
    kept = {name: value for name, value in os.environ.items() if not name.startswith("DJANGO_")}
    return {**kept, "DJANGO_SETTINGS_MODULE": "ecommerce.settings", **django}


def test_check_deploy_finds_nothing_with_a_key_a_host_and_the_urls() -> None:
    env = environment_without_django_settings(
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50)[:50],
        DJANGO_ALLOWED_HOSTS="shop.example.com",
        DATABASE_URL=A_GOOD_DATABASE,
        CELERY_BROKER_URL=A_GOOD_BROKER,
    )

    finished = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "no issues" in finished.stdout


@pytest.mark.parametrize("command", PROCESSES, ids=["manage.py", "relay", "worker", "web"])
def test_a_process_without_a_secret_key_refuses_to_start(command: list[str]) -> None:
    env = environment_without_django_settings(DJANGO_DEBUG="false")

    finished = subprocess.run(
        command, cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=60
    )

    assert finished.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in finished.stdout + finished.stderr


@pytest.mark.parametrize(
    ("variable", "url", "said"),
    [
        ("DATABASE_URL", None, "DATABASE_URL is not set"),
        ("DATABASE_URL", " ", "DATABASE_URL is not set"),
        ("DATABASE_URL", "postgres://ecommerce:ecommerce@db/ecommerce", "a default password"),
        ("DATABASE_URL", "postgres://shop@db/shop", "no password"),
        ("ORDERS_DATABASE_URL", "postgres://orders:orders@db/orders", "a default password"),
        ("CELERY_BROKER_URL", None, "CELERY_BROKER_URL is not set"),
        ("CELERY_BROKER_URL", "amqp://guest:guest@mq/ecommerce", "a default password"),
        (
            "CELERY_BROKER_URL",
            f"{A_GOOD_BROKER};amqp://ecommerce@mq2:5672/ecommerce",
            "no password for ecommerce@mq2",
        ),
        ("BROKER_ADMIN_URL", "amqp://admin:@mq/ecommerce", "no password"),
    ],
)
def test_a_known_or_missing_password_is_refused_naming_the_variable(
    variable: str, url: str | None, said: str
) -> None:
    finished = start_with(PROCESSES[0], variable, url)

    assert finished.returncode != 0
    assert variable in finished.stdout + finished.stderr
    assert said in finished.stdout + finished.stderr


def test_an_empty_variable_means_unset() -> None:
    """`DATABASE_URL= make migrate` takes the default URL, as with no DATABASE_URL at all,
    and so does every other setting: none reads an empty value as given."""
    env = environment_without_django_settings(
        DJANGO_DEBUG="true", DATABASE_URL="", CELERY_BROKER_URL="", OUTBOX_RELAY_BATCH_SIZE=""
    )
    read = "from django.conf import settings as s; print(s.DATABASES['default']['NAME'], "
    read += "s.CELERY_BROKER_URL, s.OUTBOX['RELAY_BATCH_SIZE'])"

    finished = subprocess.run(
        [sys.executable, "manage.py", "shell", "--verbosity=0", "-c", read],
        cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip

    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.split() == [
        "ecommerce",
        "amqp://ecommerce@127.0.0.1:5672/ecommerce",
        "1000",
    ]


@pytest.mark.parametrize("command", PROCESSES[1:], ids=["relay", "worker", "web"])
def test_every_process_refuses_a_known_password(command: list[str]) -> None:
    finished = start_with(command, "CELERY_BROKER_URL", "amqp://ecommerce:ecommerce@mq/shop")

    assert finished.returncode != 0
    assert "CELERY_BROKER_URL gives a default password" in finished.stdout + finished.stderr


def start_with(command: list[str], variable: str, url: str | None) -> subprocess.CompletedProcess:
    """Start a process outside DEBUG with good URLs but for `variable`, which is `url` (or
    unset), and return once it has exited."""
    env = environment_without_django_settings(
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DATABASE_URL=A_GOOD_DATABASE,
        CELERY_BROKER_URL=A_GOOD_BROKER,
    )
    env.pop(variable, None)
    if url is not None:
        env[variable] = url
    return subprocess.run(
        command, cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=60
    )


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
