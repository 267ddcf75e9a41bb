"""What a log record says about the event being handled, so that logs and traces join.

While a consumer handles an event, its id, its type and the consumer are known here; the
`EventLogFilter` adds them to every record logged meanwhile, with the ids of the current trace
and span when tracing is on. The JSON log format (LOG_FORMAT=json) writes them as fields.
"""

import contextvars
import logging

from opentelemetry import trace

from outbox.core.cloudevents import ReceivedEvent

# The fields of a record logged while an event is handled, in the order `Handling` keeps them.
FIELDS = ("consumer", "event_id", "event_type")

_current: contextvars.ContextVar[tuple[str, str, str] | None] = contextvars.ContextVar(
    "outbox_handled_event", default=None
)


class Handling:
    """A block in which a consumer handles an event: records logged in it name both.

    A class and a tuple rather than a generator and a dataclass: it is entered for every
    message, logged or not, and should cost next to nothing.
    """

    __slots__ = ("fields", "_token")

    def __init__(self, consumer: str, event: ReceivedEvent) -> None:
        self.fields = (consumer, event.id, event.type)

    def __enter__(self) -> None:
        self._token = _current.set(self.fields)

    def __exit__(self, *exception: object) -> None:
        _current.reset(self._token)


class EventLogFilter(logging.Filter):
    """Adds `event_id`, `event_type` and `consumer` while an event is handled, and `trace_id`
    and `span_id` inside a traced span; a field given by the caller (`extra`) is kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        current = _current.get()
        if current is not None:
            for name, value in zip(FIELDS, current, strict=True):
                if not hasattr(record, name):
                    setattr(record, name, value)
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid and not hasattr(record, "trace_id"):
            record.trace_id = trace.format_trace_id(span_context.trace_id)
            record.span_id = trace.format_span_id(span_context.span_id)
        return True
