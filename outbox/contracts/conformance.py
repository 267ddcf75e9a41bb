"""Events held against their contract: a CloudEvent checked with the schema that the AsyncAPI
document gives its type and version (`dataschema`), envelope and `data` both.

Tests run it on every event their real processes saved, so a producer cannot drift from what
the document promises without a test failing and naming the event.
"""

from collections.abc import Mapping
from typing import Any

import jsonschema

from outbox.core.cloudevents import data_version_of


class EventContract:
    """The message schemas of an AsyncAPI document, by the event type and version they carry."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        schemas = document["components"]["schemas"]
        self._validators: dict[tuple[str, str, int], jsonschema.Draft7Validator] = {}
        for name, schema in schemas.items():
            attributes = schema.get("properties", {})
            if "dataschema" not in attributes or "const" not in attributes.get("source", {}):
                continue
            key = (
                attributes["source"]["const"],
                attributes["type"]["const"],
                data_version_of(attributes["dataschema"]["const"]),
            )
            root = {"$ref": f"#/components/schemas/{name}", "components": {"schemas": schemas}}
            self._validators[key] = jsonschema.Draft7Validator(
                root, format_checker=jsonschema.FormatChecker()
            )
        self.sources = {source for source, _, _ in self._validators}

    def violations(self, cloudevent: Mapping[str, Any], *, source: str | None = None) -> list[str]:
        """What in the CloudEvent breaks the contract of its type and version; none if nothing.

        `source` is who published it when known apart from the event (an outbox row's
        service), so that an event that lost its `source` is still checked. An event of a
        source that the document has no schemas of is no business of this one.
        """
        source = source or str(cloudevent.get("source"))
        if source not in self.sources:
            return []
        event_type = cloudevent.get("type")
        version = data_version_of(str(cloudevent.get("dataschema", "")))
        validator = self._validators.get((source, str(event_type), version))
        if validator is None:
            return [f"no message of {event_type!r} version {version} from {source}"]
        return [
            f"{'/'.join(map(str, error.absolute_path)) or '(event)'}: {error.message}"
            for error in sorted(validator.iter_errors(cloudevent), key=str)
        ]
