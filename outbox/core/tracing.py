"""Traces across the broker: OpenTelemetry, exported with OTLP when OTEL_EXPORTER_OTLP_ENDPOINT
is set.

The trace context of whatever raises an event (a request, a consumer's handling) travels in the
event itself, as the attributes of the CloudEvents distributed tracing extension (`traceparent`,
`tracestate`): through the outbox row, the relay and the broker to every consumer. The relay's
publish span and each consumer's handling span are children of the span that raised the event,
and the events raised while handling are children of that handling, so one trace holds a
request and every hop of what follows from it, in every process.

Off (the variable unset, or OTEL_SDK_DISABLED=true) nothing is configured: the producer, the
relay and the consumers test one module variable and do nothing else.
"""

import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Protocol

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Tracer, TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from outbox.core import registry, topology
from outbox.core.cloudevents import source_of

logger = logging.getLogger(__name__)

ENDPOINT_VARIABLE = "OTEL_EXPORTER_OTLP_ENDPOINT"
SERVICE_NAME_VARIABLE = "OTEL_SERVICE_NAME"
DISABLED_VARIABLE = "OTEL_SDK_DISABLED"

# Semantic conventions of messaging and CloudEvents spans, and the outcome of a handling.
MESSAGING_SYSTEM = "messaging.system"
MESSAGING_OPERATION = "messaging.operation.type"
MESSAGING_DESTINATION = "messaging.destination.name"
MESSAGING_ROUTING_KEY = "messaging.rabbitmq.destination.routing_key"
MESSAGING_CONSUMER_GROUP = "messaging.consumer.group.name"
MESSAGING_MESSAGE_ID = "messaging.message.id"
CLOUDEVENTS_ID = "cloudevents.event_id"
CLOUDEVENTS_TYPE = "cloudevents.event_type"
CLOUDEVENTS_SOURCE = "cloudevents.event_source"
CLOUDEVENTS_SUBJECT = "cloudevents.event_subject"
OUTCOME = "outbox.outcome"
FAILED = "failed"

# The tracer of the relay's and the consumers' spans; None while tracing is off.
_tracer: Tracer | None = None
# What `publishing` and `consuming` give while tracing is off: reusable blocks that do nothing,
# rather than a generator made for every batch and every message.
_NOT_PUBLISHING: AbstractContextManager[None] = nullcontext()
_NOT_CONSUMING: AbstractContextManager[trace.Span] = nullcontext(trace.INVALID_SPAN)
_propagator = TraceContextTextMapPropagator()


def configure(process: str, *, serves_requests: bool = False) -> bool:
    """Switch tracing on for this process if OTEL_EXPORTER_OTLP_ENDPOINT is set; whether it is.

    `process` names what runs here (web, relay, worker): the service name, unless
    OTEL_SERVICE_NAME gives one, is the served services' names and it, e.g. `inventory-worker`.
    A web process also traces its requests, and takes over the trace context a caller sends.
    """
    if _tracer is not None:
        return True
    if not os.environ.get(ENDPOINT_VARIABLE):
        return False
    if os.environ.get(DISABLED_VARIABLE, "").strip().lower() == "true":
        return False
    # Imported here: a process that does not trace never loads the SDK.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({"service.name": service_name(process), "process.pid": os.getpid()})
    provider = SdkTracerProvider(resource=resource)
    # The exporter reads the endpoint and the rest of the OTEL_EXPORTER_OTLP_* variables.
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    trace_with(provider)
    if serves_requests:
        from opentelemetry.instrumentation.django import DjangoInstrumentor

        DjangoInstrumentor().instrument(tracer_provider=provider)
    logger.info("tracing on: spans of %s go to the OTLP endpoint", service_name(process))
    return True


def service_name(process: str) -> str:
    """OTEL_SERVICE_NAME, or the names of the services this process serves and the process."""
    configured = os.environ.get(SERVICE_NAME_VARIABLE)
    if configured:
        return configured
    served = "+".join(service.name for service in registry.all_services())
    return f"{served}-{process}"


def trace_with(provider: TracerProvider | None) -> None:
    """Make the relay and the consumers trace with `provider`; None switches tracing off."""
    global _tracer
    _tracer = provider.get_tracer(__name__) if provider else None


def is_on() -> bool:
    return _tracer is not None


def current_trace_context() -> dict[str, str]:
    """The CloudEvents tracing extension attributes of the current span: `traceparent`, and
    `tracestate` if there is one; nothing while tracing is off or outside any span."""
    if _tracer is None or not trace.get_current_span().get_span_context().is_valid:
        return {}
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier


class PublishedEvent(Protocol):
    """An outbox row as the relay publishes it. Read-only properties: frozen dataclasses
    satisfy it."""

    @property
    def event_id(self) -> str: ...
    @property
    def event_type(self) -> str: ...
    @property
    def service(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def traceparent(self) -> str: ...
    @property
    def tracestate(self) -> str: ...


def publishing(events: Sequence[PublishedEvent]) -> AbstractContextManager[None]:
    """A publish span per event, each a child of the span that raised it, around the publishing
    of a batch: they end when the broker has confirmed the batch, or record why it did not."""
    return _NOT_PUBLISHING if _tracer is None else _publishing(_tracer, events)


@contextmanager
def _publishing(tracer: Tracer, events: Sequence[PublishedEvent]) -> Iterator[None]:
    spans = [_publish_span(tracer, event) for event in events]
    try:
        yield
    except Exception as error:
        for span in spans:
            span.record_exception(error)
            span.set_status(trace.StatusCode.ERROR, str(error))
        raise
    finally:
        for span in spans:
            span.end()


def _publish_span(tracer: Tracer, event: PublishedEvent) -> trace.Span:
    carrier = {"traceparent": event.traceparent, "tracestate": event.tracestate}
    exchange = topology.publish_exchange(event.service)
    return tracer.start_span(
        f"publish {event.event_type}",
        context=_propagator.extract(carrier),
        kind=SpanKind.PRODUCER,
        attributes={
            MESSAGING_SYSTEM: "rabbitmq",
            MESSAGING_OPERATION: "send",
            MESSAGING_DESTINATION: exchange,
            MESSAGING_ROUTING_KEY: event.event_type,
            MESSAGING_MESSAGE_ID: event.event_id,
            CLOUDEVENTS_ID: event.event_id,
            CLOUDEVENTS_TYPE: event.event_type,
            CLOUDEVENTS_SOURCE: source_of(event.service),
            CLOUDEVENTS_SUBJECT: event.subject,
        },
    )


class HandledEvent(Protocol):
    """A received event, as far as its handling span needs it; read-only, like
    PublishedEvent."""

    @property
    def id(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def traceparent(self) -> str: ...
    @property
    def tracestate(self) -> str: ...


def consuming(consumer: str, event: HandledEvent) -> AbstractContextManager[trace.Span]:
    """The span of a consumer's handling of an event, current while it runs: a child of the span
    that raised the event, recording the exception that fails it. The caller sets its OUTCOME.
    While tracing is off, a span that records nothing."""
    return _NOT_CONSUMING if _tracer is None else _consuming(_tracer, consumer, event)


@contextmanager
def _consuming(tracer: Tracer, consumer: str, event: HandledEvent) -> Iterator[trace.Span]:
    carrier = {"traceparent": event.traceparent, "tracestate": event.tracestate}
    with tracer.start_as_current_span(
        f"{consumer} handles {event.type}",
        context=_propagator.extract(carrier),
        kind=SpanKind.CONSUMER,
        attributes={
            MESSAGING_SYSTEM: "rabbitmq",
            MESSAGING_OPERATION: "process",
            MESSAGING_DESTINATION: topology.receive_queue(consumer),
            MESSAGING_CONSUMER_GROUP: consumer,
            MESSAGING_MESSAGE_ID: event.id,
            CLOUDEVENTS_ID: event.id,
            CLOUDEVENTS_TYPE: event.type,
            CLOUDEVENTS_SOURCE: event.source,
            CLOUDEVENTS_SUBJECT: event.subject,
        },
    ) as span:
        try:
            yield span
        except BaseException:
            span.set_attribute(OUTCOME, FAILED)
            raise
