"""Trace context in the CloudEvent, the relay's and the consumers' spans, and the log fields:
the SDK's in-memory exporter, no database, no broker."""

import json
import logging
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from outbox.core import log_context, tracing
from outbox.core.cloudevents import parse_cloudevent, to_cloudevent
from outbox.core.relay import ClaimedEvent
from outbox.core.topology import publish_exchange, receive_queue
from outbox.tests.test_cloudevents import weighed


@pytest.fixture
def provider() -> TracerProvider:
    """A tracer provider whose spans the test's `exported` collects."""
    return TracerProvider()


@pytest.fixture
def tracer(provider: TracerProvider) -> trace.Tracer:
    """A tracer of the same provider, for the spans that raise events (a request's)."""
    return provider.get_tracer("test")


@pytest.fixture
def exported(provider: TracerProvider) -> Iterator[InMemorySpanExporter]:
    """Tracing on, into memory, for the test."""
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.trace_with(provider)
    try:
        yield exporter
    finally:
        tracing.trace_with(None)


def claimed(body: str, service: str = "shipping") -> ClaimedEvent:
    """An outbox row as the relay's claim query reads it, trace context included."""
    document = json.loads(body)
    return ClaimedEvent(
        id=0,
        event_id=document["id"],
        event_type=document["type"],
        service=service,
        payload=body,
        subject=document["subject"],
        traceparent=document.get("traceparent", ""),
        tracestate=document.get("tracestate", ""),
    )


def raised_in_a_request(tracer: trace.Tracer) -> tuple[trace.Span, str]:
    """A CloudEvent raised inside a span; the span and the CloudEvent's JSON."""
    with tracer.start_as_current_span("POST /parcels") as request:
        body = json.dumps(to_cloudevent(weighed(), trace_context=tracing.current_trace_context()))
    return request, body


def parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent else None


def test_off_nothing_is_configured_and_no_trace_context_is_written(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(tracing.ENDPOINT_VARIABLE, raising=False)
    request_tracer = TracerProvider().get_tracer("test")

    assert tracing.configure("web", serves_requests=True) is False
    assert not tracing.is_on()
    event = parse_cloudevent(json.dumps(to_cloudevent(weighed())))
    with request_tracer.start_as_current_span("POST /parcels") as request:
        assert tracing.current_trace_context() == {}
        with tracing.consuming("shipping", event) as handling:
            assert handling is trace.INVALID_SPAN, "a span that records nothing"
            assert trace.get_current_span() is request, "and none started"


def test_disabled_sdk_stays_off_even_with_an_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(tracing.ENDPOINT_VARIABLE, "http://127.0.0.1:1")
    monkeypatch.setenv(tracing.DISABLED_VARIABLE, "true")

    assert tracing.configure("relay") is False
    assert not tracing.is_on()


def test_an_event_raised_in_a_span_carries_its_traceparent_and_reads_back(
    exported: InMemorySpanExporter, tracer: trace.Tracer
) -> None:
    request, body = raised_in_a_request(tracer)

    document = json.loads(body)
    context = request.get_span_context()
    trace_id, span_id = context.trace_id, context.span_id
    assert document["traceparent"] == (
        f"00-{trace.format_trace_id(trace_id)}-{trace.format_span_id(span_id)}"
        f"-{context.trace_flags:02x}"
    )
    assert parse_cloudevent(body).traceparent == document["traceparent"]


def test_an_event_raised_outside_any_span_has_no_traceparent(
    exported: InMemorySpanExporter,
) -> None:
    document = to_cloudevent(weighed(), trace_context=tracing.current_trace_context())

    assert "traceparent" not in document
    assert parse_cloudevent(json.dumps(document)).traceparent == ""


def test_publish_and_handling_spans_are_children_of_the_span_that_raised_the_event(
    exported: InMemorySpanExporter, tracer: trace.Tracer
) -> None:
    request, body = raised_in_a_request(tracer)
    event = parse_cloudevent(body)

    with tracing.publishing([claimed(body)]):
        pass
    with tracing.consuming("billing", event) as handling:
        handling.set_attribute(tracing.OUTCOME, "handled")
        raised_while_handling = tracing.current_trace_context()

    spans = {span.name: span for span in exported.get_finished_spans()}
    publish, handled = (
        spans["publish ParcelWeighedEvent"],
        spans["billing handles ParcelWeighedEvent"],
    )
    assert parent_of(publish) == parent_of(handled) == request.get_span_context().span_id
    assert {publish.context.trace_id, handled.context.trace_id} == {
        request.get_span_context().trace_id
    }
    assert (publish.kind, handled.kind) == (trace.SpanKind.PRODUCER, trace.SpanKind.CONSUMER)
    assert publish.attributes is not None and handled.attributes is not None
    assert publish.attributes[tracing.MESSAGING_DESTINATION] == publish_exchange("shipping")
    assert publish.attributes[tracing.CLOUDEVENTS_ID] == event.id
    assert handled.attributes[tracing.MESSAGING_SYSTEM] == "rabbitmq"
    assert handled.attributes[tracing.MESSAGING_DESTINATION] == receive_queue("billing")
    assert handled.attributes[tracing.MESSAGING_CONSUMER_GROUP] == "billing"
    assert handled.attributes[tracing.CLOUDEVENTS_TYPE] == "ParcelWeighedEvent"
    assert handled.attributes[tracing.OUTCOME] == "handled"
    span_id = trace.format_span_id(handled.context.span_id)
    assert raised_while_handling["traceparent"].split("-")[2] == span_id


def test_a_failed_handling_records_its_exception(exported: InMemorySpanExporter) -> None:
    event = parse_cloudevent(json.dumps(to_cloudevent(weighed())))

    with pytest.raises(KeyError), tracing.consuming("billing", event):
        raise KeyError("no such parcel")

    [failed] = exported.get_finished_spans()
    assert failed.parent is None, "an event raised outside any trace starts one"
    assert failed.attributes is not None and failed.attributes[tracing.OUTCOME] == "failed"
    assert failed.status.status_code == trace.StatusCode.ERROR
    assert [(e.attributes or {}).get("exception.type") for e in failed.events] == ["KeyError"]


def test_a_publish_that_fails_marks_every_span_of_the_batch(
    exported: InMemorySpanExporter, tracer: trace.Tracer
) -> None:
    _, first = raised_in_a_request(tracer)
    _, second = raised_in_a_request(tracer)
    rows = [claimed(body) for body in (first, second)]

    with pytest.raises(ConnectionError), tracing.publishing(rows):
        raise ConnectionError("no confirm")

    publishes = [s for s in exported.get_finished_spans() if s.kind == trace.SpanKind.PRODUCER]
    assert len(publishes) == 2
    assert {s.status.status_code for s in publishes} == {trace.StatusCode.ERROR}


def logged(message: str) -> logging.LogRecord:
    record = logging.LogRecord("outbox.core.consumer", logging.INFO, __file__, 1, message, (), None)
    log_context.EventLogFilter().filter(record)
    return record


def test_records_logged_while_handling_name_the_event_the_consumer_and_the_span(
    exported: InMemorySpanExporter,
) -> None:
    event = parse_cloudevent(json.dumps(to_cloudevent(weighed())))

    with log_context.Handling("billing", event), tracing.consuming("billing", event) as span:
        inside = logged("handling")
    outside = logged("idle")

    # Attributes the filter adds to the record, which LogRecord does not declare.
    added = vars(inside)
    assert (added["event_id"], added["event_type"], added["consumer"]) == (
        event.id,
        "ParcelWeighedEvent",
        "billing",
    )
    assert added["trace_id"] == trace.format_trace_id(span.get_span_context().trace_id)
    assert added["span_id"] == trace.format_span_id(span.get_span_context().span_id)
    assert not any(hasattr(outside, field) for field in ("event_id", "consumer", "trace_id"))
