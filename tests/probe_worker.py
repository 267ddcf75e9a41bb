"""The project's Celery app with the probe service registered, for end-to-end tests."""

import tests.probe  # noqa: F401 - registers the probe service
from ecommerce.celery import app

__all__ = ["app"]
