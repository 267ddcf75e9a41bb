"""The admin's operations page: outbox lag, dead letters, queue depths and the relay's last
batch at a glance, for staff (wrapped by `admin.site.admin_view` in the URLs)."""

from typing import Any

from django.contrib import admin
from django.db import DatabaseError
from django.views.generic import TemplateView

from outbox.operations import overview


class OperationsView(TemplateView):
    template_name = "admin/outbox/operations.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        databases = []
        for database in overview.served_databases():
            try:
                databases.append(
                    {
                        "name": database,
                        "lag": overview.outbox_lag(database),
                        "last_batch": overview.last_relay_batch(database),
                        "dead_letters": overview.dead_letters_pending(database),
                    }
                )
            except DatabaseError as error:
                databases.append({"name": database, "error": str(error).strip()})
        try:
            queues, broker_error = overview.queue_depths(), ""
        except overview.QueueDepthsUnavailable as error:
            queues, broker_error = [], str(error)
        return {
            **context,
            **admin.site.each_context(self.request),
            "title": "Operations",
            "databases": databases,
            "queues": queues,
            "broker_error": broker_error,
        }
