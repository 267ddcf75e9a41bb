from django.apps import AppConfig
from django.conf import settings


class OutboxConfig(AppConfig):
    name = "outbox"
    verbose_name = "Outbox and messaging"

    def ready(self) -> None:
        if settings.OUTBOX["AUDIT_TRAIL"]:
            import outbox.audit  # noqa: F401 - registers the audit listeners
