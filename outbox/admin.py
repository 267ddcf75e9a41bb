import json

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from outbox.models import OutboxEvent, ProcessedEvent


class ReadOnlyAdmin(admin.ModelAdmin):
    """Nobody edits an event: these pages are for reading."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class OutboxStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        return [("pending", "Pending"), ("failing", "Failing"), ("published", "Published")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "pending":
            return queryset.filter(published_at__isnull=True)
        if self.value() == "failing":
            return queryset.filter(published_at__isnull=True, attempts__gt=0)
        if self.value() == "published":
            return queryset.filter(published_at__isnull=False)
        return queryset


@admin.register(OutboxEvent)
class OutboxEventAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "event_type",
        "aggregate_type",
        "aggregate_id",
        "aggregate_version",
        "created_at",
        "published_at",
        "attempts",
    )
    list_filter = (OutboxStateFilter, "service", "event_type", "aggregate_type")
    search_fields = ("=event_id", "=aggregate_id")
    readonly_fields = ("pretty_payload",)
    exclude = ("payload",)

    @admin.display(description="payload")
    def pretty_payload(self, event: OutboxEvent) -> str:
        return format_html("<pre>{}</pre>", json.dumps(event.payload, indent=2, ensure_ascii=False))


@admin.register(ProcessedEvent)
class ProcessedEventAdmin(ReadOnlyAdmin):
    list_display = ("event_id", "event_type", "consumer", "processed_at")
    list_filter = ("consumer", "event_type")
    search_fields = ("=event_id",)
