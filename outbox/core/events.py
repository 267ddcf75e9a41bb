"""Domain events: immutable facts that an aggregate raises, and their wire names."""

import dataclasses
import functools
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar


@dataclasses.dataclass(frozen=True, kw_only=True)
class DomainEvent:
    """Something that happened to an aggregate.

    A context declares one base class per aggregate that sets `service` (who publishes it) and
    `aggregate_type`; each event is a subclass named in the past tense whose own fields are the
    data consumers need. The envelope fields are filled in when the aggregate raises the event.
    """

    service: ClassVar[str]
    aggregate_type: ClassVar[str]
    # The version of the shape of `data`: raised by a breaking change, kept by an additive one
    # (docs/architecture.md, "Event versions").
    data_version: ClassVar[int] = 1

    event_id: uuid.UUID = dataclasses.field(default_factory=uuid.uuid4)
    occurred_at: datetime = dataclasses.field(default_factory=lambda: datetime.now(UTC))
    aggregate_id: str = ""
    aggregate_version: int = 0

    @classmethod
    def event_type(cls) -> str:
        """The event's name on the wire: its class name."""
        return cls.__name__

    def data(self) -> dict[str, Any]:
        """The event's own fields as JSON-ready values with camelCase keys."""
        return {
            to_camel_case(field.name): to_json_value(getattr(self, field.name))
            for field in dataclasses.fields(self)
            if field.name not in ENVELOPE_FIELDS
        }


ENVELOPE_FIELDS = frozenset(field.name for field in dataclasses.fields(DomainEvent))


@functools.lru_cache(maxsize=1024)
def to_camel_case(name: str) -> str:
    """`old_name` -> `oldName`."""
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def to_json_value(value: Any) -> Any:
    """Decimals travel as strings so that no consumer loses precision to a float."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, uuid.UUID):
        return value.hex
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [to_json_value(item) for item in value]
    if isinstance(value, dict):
        return {to_camel_case(key): to_json_value(item) for key, item in value.items()}
    if dataclasses.is_dataclass(value):
        # Field by field: `dataclasses.asdict` deep-copies every value first.
        return {
            to_camel_case(field.name): to_json_value(getattr(value, field.name))
            for field in dataclasses.fields(value)
        }
    return value
