"""The committed schemas of the event versions on the wire, and the rule that guards them.

`docs/event-schemas.json` holds the JSON Schema of the `data` of every event version that is
published now or still accepted by a consumer, by `$id` (the CloudEvent's `dataschema`). A
version's schema may grow additively and nothing else: a change that a reader of the version
could trip on (a field removed or renamed, a type changed, a field newly required, or no
longer always there) is a new version, which every consumer accepts beside the former one
through an upcaster until the former version is gone from the wire.
"""

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from django.conf import settings

from outbox.core.cloudevents import data_version_of, dataschema_of
from outbox.core.registry import FormerVersion, Service, Subscription
from outbox.core.versions import accepted_former_versions

LOCK_FILE = Path(settings.BASE_DIR) / "docs" / "event-schemas.json"
Schemas = Mapping[str, Mapping[str, Any]]
# Words that change nothing a reader relies on.
ANNOTATIONS = frozenset({"description", "deprecated", "$id", "title"})


def locked_schemas(path: Path = LOCK_FILE) -> dict[str, dict[str, Any]]:
    """The committed schemas by `$id`; none when there is no lock yet."""
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def render(schemas: Schemas) -> str:
    """The lock's text: schemas by `$id`, in `$id` order."""
    ordered = {schema_id: schemas[schema_id] for schema_id in sorted(schemas)}
    return json.dumps(ordered, indent=2, ensure_ascii=False) + "\n"


def subscription_of(schema_id: str) -> tuple[Subscription, int]:
    """The event and version that a `dataschema` of `dataschema_of` names."""
    _, _, source, event_type, *_ = schema_id.split(":")
    return Subscription(source, event_type), data_version_of(schema_id)


def former_versions(services: Iterable[Service]) -> dict[str, list[str]]:
    """The `$id` of every former version some service still accepts, and which services."""
    return {
        _schema_id(former): accepting
        for former, accepting in accepted_former_versions(services).items()
    }


def wanted_lock(current: Schemas, locked: Schemas, services: Iterable[Service]) -> dict[str, Any]:
    """What the lock should hold: the current versions, and the former ones still accepted."""
    wanted = {schema_id: dict(schema) for schema_id, schema in current.items()}
    for schema_id in former_versions(services):
        if schema_id in locked and schema_id not in wanted:
            wanted[schema_id] = dict(locked[schema_id])
    return wanted


def lock_problems(current: Schemas, locked: Schemas, services: Iterable[Service]) -> list[str]:
    """Why the current schemas may not replace the locked ones; none when they may."""
    services = list(services)
    problems = []
    for schema_id, schema in sorted(current.items()):
        if schema_id in locked:
            problems += [
                f"{schema_id}: {change}: a breaking change is a new version (raise the event's "
                "data_version and register an upcaster from this one in each consumer)"
                for change in breaking_changes(locked[schema_id], schema)
            ]
        problems += _unaccepted_former_versions(schema_id, schema_id in locked, locked, services)
    for schema_id, accepting in sorted(former_versions(services).items()):
        if schema_id not in locked and schema_id not in current:
            problems.append(
                f"{schema_id}: {', '.join(accepting)} upcast it, but no schema of it is locked"
            )
    return problems


def _unaccepted_former_versions(
    schema_id: str, already_locked: bool, locked: Schemas, services: list[Service]
) -> list[str]:
    """Consumers that would refuse a locked former version of the event.

    Each consumer accepts each former version until all of them stop at once: then the lock
    drops the version, as no event of it is left to drain. A new version must be accepted
    beside its predecessor by every consumer from the start.
    """
    subscription, current_version = subscription_of(schema_id)
    consumers = [
        service
        for service in services
        if service.handler_for(subscription.source, subscription.event_type)
    ]
    problems = []
    for version in range(1, current_version):
        former = FormerVersion(subscription, version)
        if _schema_id(former) not in locked:
            continue
        refusing = [service.name for service in consumers if former not in service.upcasters]
        if refusing and (not already_locked or len(refusing) < len(consumers)):
            problems.append(
                f"{schema_id}: events of version {version} may still be on the wire, and these "
                f"consumers register no upcaster from it: {', '.join(refusing)}"
            )
    return problems


def breaking_changes(
    old: Mapping[str, Any], new: Mapping[str, Any], where: str = "data"
) -> list[str]:
    """What a reader of `old` could trip on in data that matches `new`."""
    if "properties" in old and "properties" in new and old.get("type") == new.get("type"):
        return _object_changes(old, new, where)
    if old.get("type") == new.get("type") == "array" and "items" in old and "items" in new:
        changes = breaking_changes(old["items"], new["items"], f"{where}[]")
        if _shape(old, "items") != _shape(new, "items"):
            changes.append(f"{where} changed from {_shape(old, 'items')} to {_shape(new, 'items')}")
        return changes
    if _shape(old) != _shape(new):
        return [f"{where} changed from {_shape(old)} to {_shape(new)}"]
    return []


def _object_changes(old: Mapping[str, Any], new: Mapping[str, Any], where: str) -> list[str]:
    changes = []
    for name, schema in old["properties"].items():
        if name not in new["properties"]:
            changes.append(f"{where}.{name} is gone (removed or renamed)")
        else:
            changes += breaking_changes(schema, new["properties"][name], f"{where}.{name}")
    old_required, new_required = set(old.get("required", ())), set(new.get("required", ()))
    changes += [
        f"{where}.{name} is required now: events of before may lack it"
        for name in sorted(new_required - old_required)
    ]
    changes += [
        f"{where}.{name} is no longer required: readers rely on it"
        for name in sorted(old_required - new_required)
        if name in new["properties"]
    ]
    return changes


def _shape(schema: Mapping[str, Any], *leave_out: str) -> str:
    """The schema without its annotations (and `leave_out`), as canonical JSON."""

    def bare(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: bare(v) for k, v in value.items() if k not in ANNOTATIONS}
        if isinstance(value, list):
            return [bare(item) for item in value]
        return value

    kept = {key: value for key, value in schema.items() if key not in leave_out}
    return json.dumps(bare(kept), sort_keys=True, ensure_ascii=False)


def _schema_id(former: FormerVersion) -> str:
    subscription = former.subscription
    return dataschema_of(subscription.source, subscription.event_type, former.version)
