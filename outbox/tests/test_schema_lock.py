"""Unit tests of the versioning rule: what a version's schema may become, and when a new
version needs its consumers' upcasters. No database, no broker."""

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from outbox.contracts.asyncapi import current_schemas
from outbox.contracts.schema_lock import (
    LOCK_FILE,
    breaking_changes,
    lock_problems,
    locked_schemas,
    render,
    wanted_lock,
)
from outbox.core.cloudevents import dataschema_of
from outbox.core.registry import FormerVersion, Service, Subscription, all_services
from outbox.core.versions import data_not_read

WEIGHED = Subscription("shipping", "ParcelWeighedEvent")
V1 = dataschema_of("shipping", "ParcelWeighedEvent", 1)
V2 = dataschema_of("shipping", "ParcelWeighedEvent", 2)


def parcel_schema(schema_id: str = V1) -> dict[str, Any]:
    return {
        "$id": schema_id,
        "type": "object",
        "properties": {
            "weight": {"type": "string", "pattern": "^[0-9]+$"},
            "labels": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"text": {"type": "string"}},
                    "required": ["text"],
                    "additionalProperties": False,
                },
            },
        },
        "required": ["weight", "labels"],
        "additionalProperties": False,
    }


def changed(edit: Any) -> dict[str, Any]:
    schema = copy.deepcopy(parcel_schema())
    edit(schema)
    return schema


def consumers(*upcasters: dict) -> list[Service]:
    return [
        Service(f"consumer{number}", {WEIGHED: lambda event: None}, upcasters=table)
        for number, table in enumerate(upcasters)
    ]


FROM_V1 = {FormerVersion(WEIGHED, 1): data_not_read}


def test_an_unchanged_or_reworded_schema_breaks_nothing() -> None:
    def reword(schema: dict) -> None:
        schema["description"] = "A parcel was weighed."
        schema["properties"]["weight"]["description"] = "in kilograms"

    assert breaking_changes(parcel_schema(), parcel_schema()) == []
    assert breaking_changes(parcel_schema(), changed(reword)) == []


def test_a_new_field_that_events_of_before_may_lack_is_additive() -> None:
    def add_optional(schema: dict) -> None:
        schema["properties"]["fragile"] = {"type": ["boolean", "null"]}

    assert breaking_changes(parcel_schema(), changed(add_optional)) == []


@pytest.mark.parametrize(
    ("edit", "change"),
    [
        (lambda s: s["properties"].pop("weight"), "data.weight is gone (removed or renamed)"),
        (
            lambda s: s["properties"].__setitem__("mass", s["properties"].pop("weight")),
            "data.weight is gone (removed or renamed)",
        ),
        (
            lambda s: s["properties"].__setitem__("weight", {"type": "number"}),
            'data.weight changed from {"pattern": "^[0-9]+$", "type": "string"} to '
            '{"type": "number"}',
        ),
        (
            lambda s: (
                s["properties"].__setitem__("fragile", {"type": "boolean"}),
                s["required"].append("fragile"),
            ),
            "data.fragile is required now: events of before may lack it",
        ),
        (lambda s: s["required"].remove("labels"), "data.labels is no longer required"),
        (
            lambda s: s["properties"]["labels"]["items"]["properties"].__setitem__(
                "text", {"type": "integer"}
            ),
            "data.labels[].text changed from",
        ),
    ],
    ids=["removed", "renamed", "type", "newly required", "no longer required", "nested"],
)
def test_what_a_reader_of_the_version_could_trip_on_is_breaking(edit: Any, change: str) -> None:
    changes = breaking_changes(parcel_schema(), changed(edit))

    assert any(found.startswith(change) for found in changes), changes


def test_a_breaking_change_within_a_version_is_refused() -> None:
    current = {V1: changed(lambda s: s["properties"].pop("weight"))}

    [problem] = lock_problems(current, {V1: parcel_schema()}, consumers({}))

    assert problem.startswith(f"{V1}: data.weight is gone")
    assert "a breaking change is a new version" in problem


def test_a_new_version_needs_an_upcaster_from_the_former_in_every_consumer() -> None:
    locked, current = {V1: parcel_schema()}, {V2: parcel_schema(V2)}

    [problem] = lock_problems(current, locked, consumers(FROM_V1, {}))
    assert problem == (
        f"{V2}: events of version 1 may still be on the wire, and these consumers register no "
        "upcaster from it: consumer1"
    )

    assert lock_problems(current, locked, consumers(FROM_V1, FROM_V1)) == []
    assert set(wanted_lock(current, locked, consumers(FROM_V1, FROM_V1))) == {V1, V2}


def test_the_former_version_leaves_the_lock_when_no_consumer_accepts_it_any_more() -> None:
    locked = {V1: parcel_schema(), V2: parcel_schema(V2)}
    current = {V2: parcel_schema(V2)}

    assert lock_problems(current, locked, consumers(FROM_V1, {})) != []
    assert lock_problems(current, locked, consumers({}, {})) == []
    assert set(wanted_lock(current, locked, consumers({}, {}))) == {V2}


def test_an_upcaster_from_a_version_never_locked_is_refused() -> None:
    [problem] = lock_problems({V2: parcel_schema(V2)}, {}, consumers(FROM_V1))

    assert problem == f"{V1}: consumer0 upcast it, but no schema of it is locked"


def test_the_lock_round_trips(tmp_path: Path) -> None:
    lock = tmp_path / "event-schemas.json"
    lock.write_text(render({V2: parcel_schema(V2), V1: parcel_schema()}), encoding="utf-8")

    assert list(locked_schemas(lock)) == [V1, V2]
    assert locked_schemas(tmp_path / "none.json") == {}


def test_the_events_keep_the_committed_lock() -> None:
    services, locked = all_services(), locked_schemas()
    current = current_schemas()

    assert lock_problems(current, locked, services) == []
    assert wanted_lock(current, locked, services) == locked, (
        f"{LOCK_FILE.name} is stale: run `make event-schemas`"
    )
    assert json.loads(render(locked)) == locked
