"""WSGI entry point, used by gunicorn (and by runserver, through WSGI_APPLICATION)."""

import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

from outbox.databases import require_databases

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecommerce.settings")

application = get_wsgi_application()

# An unreachable database stops the server at its start, with a message naming it (gunicorn
# prints it and halts), rather than with the first request that needs it.
require_databases(settings.DATABASES)
