from django.apps import AppConfig
from django.conf import settings


class OutboxConfig(AppConfig):
    name = "outbox"
    verbose_name = "Outbox and messaging"

    def ready(self) -> None:
        import outbox.inprocess.listeners  # noqa: F401 - hears the events the store saves

        if settings.OUTBOX["AUDIT_TRAIL"]:
            import outbox.inprocess.audit  # noqa: F401 - registers the audit listeners
