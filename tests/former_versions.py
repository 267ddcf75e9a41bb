"""Events as the previous release wrote them, before a breaking change gave them a version."""

from typing import Any

from outbox.core.cloudevents import dataschema_of

ITEM_COUNT_CHANGE_REQUESTED = "OrderItemCountChangeRequestedEvent"


def item_count_change_as_version_1(cloudevent: dict[str, Any]) -> dict[str, Any]:
    """An OrderItemCountChangeRequestedEvent of version 2 as version 1 carried it: the new
    count named `count`, and a `dataschema` without a version."""
    data = dict(cloudevent["data"])
    data["count"] = data.pop("newCount")
    return {
        **cloudevent,
        "dataschema": dataschema_of("order", ITEM_COUNT_CHANGE_REQUESTED),
        "data": data,
    }
