"""WSGI entry point, used by gunicorn (and by runserver, through WSGI_APPLICATION)."""

import os

import django
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler

from outbox.core import tracing
from outbox.core.databases import require_databases

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecommerce.settings")

# What get_wsgi_application does, with tracing configured in between: after the setup, which
# registers the served services that name the process, and before the handler loads the
# middleware, so that a request's span encloses all of it.
django.setup(set_prefix=False)
tracing.configure("web", serves_requests=True)
application = WSGIHandler()

# An unreachable database stops the server at its start, with a message naming it (gunicorn
# prints it and halts), rather than with the first request that needs it.
require_databases(settings.DATABASES)
