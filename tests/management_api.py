"""What RabbitMQ's management HTTP API says about a queue of the test vhost.

AMQP cannot tell a queue's type or arguments; the management API (port 15672, the broker
user's credentials) can. RABBITMQ_MANAGEMENT_URL points elsewhere, as for the benchmarks.
"""

import os
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import requests
from django.conf import settings

MANAGEMENT_URL = os.environ.get("RABBITMQ_MANAGEMENT_URL", "http://127.0.0.1:15672")


def queue_info(name: str) -> dict[str, Any]:
    """The management API's description of a queue: `type`, `arguments`, `messages`, ..."""
    broker = urlsplit(settings.CELERY_BROKER_URL)
    vhost = unquote(broker.path.lstrip("/")) or "/"
    response = requests.get(
        f"{MANAGEMENT_URL}/api/queues/{quote(vhost, safe='')}/{quote(name, safe='')}",
        auth=(unquote(broker.username or "guest"), unquote(broker.password or "guest")),
        timeout=10,
    )
    response.raise_for_status()
    return response.json()
