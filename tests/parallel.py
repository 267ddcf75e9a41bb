"""What keeps pytest-xdist's workers apart, so that the suite runs in parallel.

Each worker has a test database of its own: pytest-django appends the worker's id to its name.
Each also has a RabbitMQ vhost of its own, the configured one with the worker's id appended
(`ecommerce_test_gw0`), made when the session starts and deleted when it ends: the relays and
workers a test starts there never meet another worker's events. The vhost's URL replaces the
configured one in the settings and in the environment that started processes inherit.
"""

import os

from django.conf import settings
from kombu import Connection

BROKER_URL_SETTINGS = ("CELERY_BROKER_URL", "BROKER_ADMIN_URL")


def use_worker_vhost() -> str | None:
    """Point the broker settings, and the environment, at this worker's own vhost; return its
    name, or None outside pytest-xdist (the configured vhost is used as it is)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None:
        return None
    vhost = f"{Connection(settings.CELERY_BROKER_URL).virtual_host}_{worker}"
    for name in BROKER_URL_SETTINGS:
        url = Connection(getattr(settings, name)).clone(virtual_host=vhost)
        url = url.as_uri(include_password=True)
        setattr(settings, name, url)
        os.environ[name] = url
    return vhost
