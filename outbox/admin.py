"""The operator's pages: outbox, processed events, dead letters and the audit trail, to read.

An action works on exactly the rows selected. A selection of more than BACKGROUND_THRESHOLD
rows that goes to the broker (publish, replay) is handed to a worker of each service the rows
belong to, on the service's task queue (outbox.tasks), and the page says so; a smaller one runs
at once.

The actions change the rows they act on, so each needs the change permission of its model
(`outbox.change_outboxevent` to publish, `outbox.change_deadletter` to replay or discard):
staff who may only view are neither offered an action nor allowed to post one.
"""

import json
import uuid
from collections import defaultdict

from celery import Task
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_permission_codename
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.html import format_html

from outbox import tasks
from outbox.core import registry, replication
from outbox.core.broker import confirming_publisher, relay_from_settings
from outbox.core.publisher import PublishFailed
from outbox.models import AuditRecord, DeadLetter, OutboxEvent, ProcessedEvent
from outbox.operations.replay import dead_letter_discard, dead_letter_replay

# Rows an action publishes while the operator's page waits; more go to a worker.
BACKGROUND_THRESHOLD = 100

# The index links to the operations page (outbox.operations.admin_page).
admin.site.index_template = "admin/outbox/index.html"


def pretty_json(value: object) -> str:
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, ensure_ascii=False))


def ids_by_service(queryset: QuerySet) -> dict[str, list[int]]:
    """The selected rows' ids, grouped by the service each row belongs to."""
    grouped: dict[str, list[int]] = defaultdict(list)
    for pk, service in queryset.values_list("pk", "service"):
        grouped[service].append(pk)
    return dict(grouped)


def admin_database() -> str:
    """The outbox database these pages show: the one of the services this process serves.

    A service deployed alone, and the single-database default, have exactly one. A process
    serving several contexts on several databases shows the first of them.
    """
    return registry.outbox_databases()[0]


class ViewOnlyAdmin(admin.ModelAdmin):
    """Rows that change only through commands and events, such as aggregates, the copies and
    read models built from events, and the outbox's own records: the admin shows them and never
    adds, edits or deletes one, since an edit here would raise no event and leave every copy
    of it behind."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class OutboxRecordAdmin(ViewOnlyAdmin):
    """The outbox's records, on the outbox database of this process."""

    def has_act_permission(self, request: HttpRequest) -> bool:
        """Whether the user may run this page's actions (`@admin.action(permissions=["act"])`):
        the model's change permission, though no row is ever edited by hand."""
        codename = get_permission_codename("change", self.opts)
        return request.user.has_perm(f"{self.opts.app_label}.{codename}")

    def hand_to_workers(
        self, request: HttpRequest, task: Task, selected: dict[str, list[int]], started: str
    ) -> None:
        """Send `task` the selected ids of each service, to that service's workers."""
        try:
            for service, ids in selected.items():
                task.delay(service=service, ids=ids)
        except Exception as error:  # noqa: BLE001 - whatever keeps the task from the broker
            self.message_user(request, f"The broker did not take the task: {error}", messages.ERROR)
            return
        self.message_user(request, started, messages.INFO)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).using(admin_database())


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
class OutboxEventAdmin(OutboxRecordAdmin):
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
    search_fields = ("=aggregate_id",)
    search_help_text = "An event id or an aggregate id."
    readonly_fields = ("pretty_payload",)
    exclude = ("payload",)
    actions = ["publish_now"]

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[OutboxEvent], search_term: str
    ) -> tuple[QuerySet[OutboxEvent], bool]:
        """Event ids are UUIDs, found with or without dashes."""
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        try:
            event_id = uuid.UUID(search_term.strip())
        except ValueError:
            return results, may_have_duplicates
        return results | queryset.filter(event_id=event_id), may_have_duplicates

    @admin.display(description="payload")
    def pretty_payload(self, event: OutboxEvent) -> str:
        return pretty_json(event.payload)

    @admin.action(description="Publish selected pending events now", permissions=["act"])
    def publish_now(self, request: HttpRequest, queryset: QuerySet[OutboxEvent]) -> None:
        """Publish the selected pending events, oldest first. One whose aggregate has an
        earlier pending event that is not selected stays for the relay, which keeps the order
        of each aggregate's events."""
        selected = ids_by_service(queryset.filter(published_at__isnull=True))
        count = sum(len(ids) for ids in selected.values())
        if count > BACKGROUND_THRESHOLD:
            self.hand_to_workers(
                request,
                tasks.publish_outbox_events,
                selected,
                f"Publishing {count} pending events in the background: refresh this page to "
                "follow them.",
            )
            return
        relay = relay_from_settings(admin_database())
        try:
            published = relay.publish_selected([pk for ids in selected.values() for pk in ids])
        except PublishFailed as error:
            self.message_user(request, f"The broker did not take them: {error}", messages.ERROR)
            return
        except replication.StandbyWaitAbandoned as waited:
            self.message_user(
                request,
                f"Not published: {waited}. The relay publishes them once a standby has them.",
                messages.WARNING,
            )
            return
        finally:
            relay.publisher.close()
        message = f"Published {len(published)} of {count} selected pending events."
        if len(published) < count:
            message += (
                " The others wait for earlier events of their aggregates, or another relay "
                "holds them: the relay publishes them in order."
            )
        self.message_user(request, message, messages.SUCCESS)


@admin.register(ProcessedEvent)
class ProcessedEventAdmin(OutboxRecordAdmin):
    list_display = ("event_id", "event_type", "consumer", "processed_at")
    list_filter = ("consumer", "event_type")
    search_fields = ("=event_id",)


class DiscardForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 60}))


@admin.register(DeadLetter)
class DeadLetterAdmin(OutboxRecordAdmin):
    list_display = (
        "recorded_at",
        "service",
        "kind",
        "status",
        "event_type",
        "event_id",
        "error_type",
        "attempts",
    )
    list_filter = ("status", "kind", "service", "event_type", "error_type")
    search_fields = ("=event_id", "error_message")
    fields = (
        ("service", "kind", "status"),
        ("event_type", "event_id", "routing_key"),
        ("error_type", "attempts"),
        "error_message",
        "error_traceback_pre",
        ("first_failed_at", "last_failed_at", "recorded_at", "resolved_at"),
        "discard_reason",
        "pretty_body",
        "pretty_properties",
    )
    readonly_fields = [
        name for row in fields for name in (row if isinstance(row, tuple) else (row,))
    ]
    actions = ["replay", "discard"]

    @admin.display(description="traceback")
    def error_traceback_pre(self, record: DeadLetter) -> str:
        return format_html("<pre>{}</pre>", record.error_traceback)

    @admin.display(description="payload")
    def pretty_body(self, record: DeadLetter) -> str:
        body = bytes(record.body)
        try:
            return pretty_json(json.loads(body))
        except ValueError:
            return format_html("<pre>{}</pre>", body.decode("utf-8", "backslashreplace"))

    @admin.display(description="properties and headers")
    def pretty_properties(self, record: DeadLetter) -> str:
        return pretty_json(record.properties)

    @admin.action(description="Replay selected dead letters", permissions=["act"])
    def replay(self, request: HttpRequest, queryset: QuerySet[DeadLetter]) -> None:
        pending = queryset.filter(status=DeadLetter.Status.PENDING)
        count = pending.count()
        if count > BACKGROUND_THRESHOLD:
            self.hand_to_workers(
                request,
                tasks.replay_dead_letters,
                ids_by_service(pending),
                f"Replaying {count} dead letters in the background: refresh this page to "
                "follow them (their status becomes replayed).",
            )
            return
        publisher = confirming_publisher()
        try:
            summary = dead_letter_replay(queryset, publisher)
        finally:
            publisher.close()
        level = messages.ERROR if summary.failed else messages.SUCCESS
        self.message_user(
            request,
            f"Replayed {summary.moved}, skipped {summary.skipped} (not pending), "
            f"failed {summary.failed}.",
            level,
        )

    @admin.action(description="Discard selected dead letters (with a reason)", permissions=["act"])
    def discard(self, request: HttpRequest, queryset: QuerySet[DeadLetter]) -> HttpResponse | None:
        form = DiscardForm(request.POST if "reason" in request.POST else None)
        if form.is_valid():
            discarded = dead_letter_discard(queryset, reason=form.cleaned_data["reason"])
            self.message_user(request, f"Discarded {discarded} dead letters.", messages.SUCCESS)
            return None
        return TemplateResponse(
            request,
            "admin/outbox/deadletter/discard.html",
            {
                **self.admin_site.each_context(request),
                "title": "Discard dead letters",
                "opts": self.model._meta,
                "dead_letters": queryset,
                "form": form,
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
            },
        )


@admin.register(AuditRecord)
class AuditRecordAdmin(OutboxRecordAdmin):
    list_display = (
        "recorded_at",
        "event_type",
        "aggregate_type",
        "aggregate_id",
        "aggregate_version",
        "outcome",
    )
    list_filter = ("outcome", "aggregate_type", "event_type")
    search_fields = ("=aggregate_id",)
    exclude = ("data",)
    readonly_fields = ("pretty_data",)

    @admin.display(description="data")
    def pretty_data(self, record: AuditRecord) -> str:
        return pretty_json(record.data)
