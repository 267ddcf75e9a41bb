"""An OTLP/HTTP receiver of traces: it keeps the spans that processes export to it, for a
test to read or a benchmark to count.

The processes export with the SDK's OTLP exporter (protobuf over HTTP, POST /v1/traces), as
they would to a collector; this decodes `ExportTraceServiceRequest`s with the
`opentelemetry-proto` package.
"""

import dataclasses
import gzip
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

TRACES_PATH = "/v1/traces"


@dataclasses.dataclass(frozen=True)
class ReceivedSpan:
    """A span as it arrived, with the service name of the process that exported it."""

    service: str
    name: str
    kind: str  # SERVER, PRODUCER, CONSUMER, ...
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, Any]
    failed: bool
    event_names: tuple[str, ...]

    def is_child_of(self, parent: "ReceivedSpan") -> bool:
        return (self.trace_id, self.parent_span_id) == (parent.trace_id, parent.span_id)


class OtlpReceiver:
    """Listens on a free local port until stopped; `endpoint` is the OTLP endpoint to give."""

    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self.exports = 0
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def received(self) -> list[ReceivedSpan]:
        with self.lock:
            return list(self.spans)

    def _keep(self, request: ExportTraceServiceRequest) -> None:
        spans = [
            _received_span(_service_name(resource_spans.resource.attributes), span)
            for resource_spans in request.resource_spans
            for scope_spans in resource_spans.scope_spans
            for span in scope_spans.spans
        ]
        with self.lock:
            self.exports += 1
            self.spans += spans

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path != TRACES_PATH:
                    self.send_error(404, f"only {TRACES_PATH} is received here")
                    return
                receiver._keep(ExportTraceServiceRequest.FromString(body))
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the test reads the spans, not the requests."""

        return Handler


Receiver = TypeVar("Receiver", bound=OtlpReceiver)


@contextmanager
def otlp_receiver(kind: type[Receiver]) -> Iterator[Receiver]:
    """A receiver of `kind`, listening while the block runs."""
    receiver = kind()
    receiver.thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


def _attributes(attributes: list[KeyValue]) -> dict[str, Any]:
    return {attribute.key: _value(attribute.value) for attribute in attributes}


def _service_name(attributes: list[KeyValue]) -> str:
    return str(_attributes(attributes).get("service.name", ""))


def _received_span(service: str, span: Span) -> ReceivedSpan:
    return ReceivedSpan(
        service=service,
        name=span.name,
        kind=Span.SpanKind.Name(span.kind).removeprefix("SPAN_KIND_"),
        trace_id=span.trace_id.hex(),
        span_id=span.span_id.hex(),
        parent_span_id=span.parent_span_id.hex(),
        attributes=_attributes(span.attributes),
        failed=span.status.code == Status.STATUS_CODE_ERROR,
        event_names=tuple(event.name for event in span.events),
    )
