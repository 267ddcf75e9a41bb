"""Django settings of the peer relay (django-outbox-pattern) in the relay benchmark.

The peer runs in a venv of its own (`bench/requirements-peer.txt`) and loads none of the
project: only its app, on the run's database (DATABASE_URL), publishing over STOMP to the
run's vhost on the broker of CELERY_BROKER_URL. This module must import nothing of the project.
"""

import os
from urllib.parse import unquote, urlsplit

import dj_database_url

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "bench-peer-only")
DEBUG = False
USE_TZ = True
INSTALLED_APPS = ["django_outbox_pattern"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"])}

_broker = urlsplit(os.environ["CELERY_BROKER_URL"])
DJANGO_OUTBOX_PATTERN = {
    "DEFAULT_STOMP_HOST_AND_PORTS": [
        (_broker.hostname or "127.0.0.1", int(os.environ.get("BENCH_STOMP_PORT", "61613")))
    ],
    "DEFAULT_STOMP_VHOST": unquote(_broker.path.lstrip("/")) or "/",
    "DEFAULT_STOMP_USERNAME": unquote(_broker.username or ""),
    "DEFAULT_STOMP_PASSCODE": unquote(_broker.password or ""),
    # Rows read per fetch of its cursor: the harness sets it to our relay's batch size.
    "DEFAULT_PUBLISHED_CHUNK_SIZE": int(os.environ.get("BENCH_PEER_CHUNK_SIZE", "200")),
    # The pause after each drain is its polling interval between drains (1 s by default); the
    # benchmark times one drain, which ends with that pause.
    "DEFAULT_PRODUCER_WAITING_TIME": 0,
}

# As the project's benchmark children: warnings and errors only (the peer logs each message it
# publishes at INFO).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}
