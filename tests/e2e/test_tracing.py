"""One order's trace across real processes: the web server (gunicorn), the relay and the worker
export their spans with OTLP to a receiver inside the test, and their JSON logs join them.

The session's relay and worker stand aside while these run: every event has to go through the
traced ones.
"""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from django.contrib.auth.models import AbstractUser
from knox.models import AuthToken
from rest_framework.test import APIClient

from conftest import Processes
from harness.otlp_receiver import OtlpReceiver, ReceivedSpan, otlp_receiver
from harness.waiting import wait_until
from orders.models import Order
from outbox.core.tracing import CLOUDEVENTS_ID, MESSAGING_CONSUMER_GROUP, OUTCOME
from outbox.models import OutboxEvent
from tests import probe
from tests.e2e.messages import lines, publish_probe
from tests.e2e.shop import ADDRESS, orderable_product

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Spans leave a process a tenth of a second after they end, instead of five seconds.
EXPORT_DELAY_MILLISECONDS = "100"
# A caller's trace context, sent with a request to a web process that does not trace.
CALLERS_TRACEPARENT = f"00-{'4b' * 16}-{'00f0' * 4}-01"


@contextmanager
def stack(shared: Processes, name: str, env: dict[str, str]) -> Iterator[str]:
    """A relay, a worker and a web server with `env` in place of the session's relay and worker
    (which the next test that asks for them starts again); the web server's URL."""
    shared.stop_all()
    running = Processes({**shared.env, **env})
    try:
        running.start_relay(f"{name}-relay")
        running.start_worker(f"{name}-worker")
        yield running.start_web(f"{name}-web", "--workers", "1")
    finally:
        running.stop_all()


@pytest.fixture(scope="module")
def otlp() -> Iterator[OtlpReceiver]:
    with otlp_receiver(OtlpReceiver) as receiver:
        yield receiver


@pytest.fixture
def traced(shared_processes: Processes, otlp: OtlpReceiver) -> Iterator[str]:
    """Processes that trace, exporting to `otlp`, and log in JSON; the web server's URL."""
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": EXPORT_DELAY_MILLISECONDS,
        "LOG_FORMAT": "json",
    }
    with stack(shared_processes, "traced", env) as url:
        yield url


@pytest.fixture
def customer(django_user_model: type[AbstractUser]) -> requests.Session:
    """HTTP requests signed in as a customer."""
    user = django_user_model.objects.create_user(username="traced-customer")
    session = requests.Session()
    session.headers["Authorization"] = f"Token {AuthToken.objects.create(user=user)[1]}"
    return session


def placed_order(customer: requests.Session, url: str, product_id: str, **headers: str) -> str:
    """An order placed through HTTP and confirmed by the stock reservation; its id."""
    body = {"items": [{"productId": product_id, "count": 2, "itemPrice": 10}], "address": ADDRESS}
    response = customer.post(f"{url}/orders", json=body, headers=headers, timeout=30)
    assert response.status_code == 201, response.text
    order_id = response.json()["id"]
    wait_until(
        lambda: Order.objects.get(pk=order_id).status == "CONFIRMED",
        what="the order confirmed once the stock is reserved",
    )
    return order_id


def outbox_event(aggregate_id: str, event_type: str) -> OutboxEvent:
    return OutboxEvent.objects.get(aggregate_id=aggregate_id, event_type=event_type)


def test_without_an_endpoint_no_traceparent_is_written_and_nothing_is_exported(
    shared_processes: Processes, staff_client: APIClient, customer: requests.Session
) -> None:
    with otlp_receiver(OtlpReceiver) as receiver:
        # Every OTLP setting but the one that switches tracing on.
        env = {
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"{receiver.endpoint}/v1/traces",
            "OTEL_BSP_SCHEDULE_DELAY": EXPORT_DELAY_MILLISECONDS,
        }
        with stack(shared_processes, "untraced", env) as url:
            product_id = orderable_product(staff_client, 10)
            order_id = placed_order(customer, url, product_id, traceparent=CALLERS_TRACEPARENT)
        # The processes have exited: a tracer provider would have exported on the way out.

        assert receiver.exports == 0
    written = {row.event_type: row.payload for row in OutboxEvent.objects.all()}
    assert {"OrderCreatedEvent", "StockReservedEvent", "OrderConfirmedEvent"} <= set(written)
    assert [t for t, payload in written.items() if "traceparent" in payload] == []
    assert Order.objects.get(pk=order_id).status == "CONFIRMED"


def handling(spans: list[ReceivedSpan], consumer: str, event: OutboxEvent) -> ReceivedSpan | None:
    return next(
        (
            span
            for span in spans
            if span.kind == "CONSUMER"
            and span.attributes.get(MESSAGING_CONSUMER_GROUP) == consumer
            and span.attributes.get(CLOUDEVENTS_ID) == event.event_id.hex
        ),
        None,
    )


def publishing(spans: list[ReceivedSpan], event: OutboxEvent) -> ReceivedSpan | None:
    return next(
        (
            span
            for span in spans
            if span.kind == "PRODUCER" and span.attributes.get(CLOUDEVENTS_ID) == event.event_id.hex
        ),
        None,
    )


def span_with_id(spans: list[ReceivedSpan], span_id: str) -> ReceivedSpan | None:
    return next((span for span in spans if span.span_id == span_id), None)


def test_one_orders_trace_holds_the_request_the_publishes_and_each_consumers_handling(
    traced: str, otlp: OtlpReceiver, staff_client: APIClient, customer: requests.Session
) -> None:
    product_id = orderable_product(staff_client, 10)

    order_id = placed_order(customer, traced, product_id)

    created = outbox_event(order_id, "OrderCreatedEvent")
    reserved = outbox_event(order_id, "StockReservedEvent")
    _, trace_id, request_span_id, _ = created.payload["traceparent"].split("-")

    def the_orders_spans() -> dict[str, ReceivedSpan] | None:
        spans = otlp.received()
        found = {
            "request": span_with_id(spans, request_span_id),
            "publish created": publishing(spans, created),
            "inventory handles created": handling(spans, "inventory", created),
            "order handles created": handling(spans, "order", created),
            "publish reserved": publishing(spans, reserved),
            "order handles reserved": handling(spans, "order", reserved),
        }
        return found if all(found.values()) else None

    spans = wait_until(the_orders_spans, what="the order's spans exported by every process")
    request, reservation = spans["request"], spans["inventory handles created"]
    assert (request.kind, request.name, request.trace_id) == ("SERVER", "POST orders", trace_id)
    assert spans["publish created"].is_child_of(request)
    assert reservation.is_child_of(request)
    assert spans["order handles created"].is_child_of(request)
    assert spans["publish reserved"].is_child_of(reservation)
    assert spans["order handles reserved"].is_child_of(reservation)
    assert reserved.payload["traceparent"].split("-")[1:3] == [trace_id, reservation.span_id]
    assert {spans[name].attributes[OUTCOME] for name in spans if "handles" in name} == {"handled"}
    # Three processes, each named by what it serves and what it is.
    assert request.service.endswith("-web")
    assert spans["publish created"].service.endswith("-relay")
    assert reservation.service.endswith("-worker")
    assert spans["order handles reserved"].service == reservation.service


def worker_log_records(processes: Processes) -> list[dict]:
    """What the traced worker logged: its log's lines that are JSON objects, every line of its
    logging (the others are Celery's banner)."""
    log_lines = processes.log_file("traced-worker").read_text().splitlines()
    return [json.loads(line) for line in log_lines if line.startswith("{")]


def test_a_failed_handlings_json_log_line_names_the_event_and_the_consumer_and_joins_its_span(
    shared_processes: Processes, traced: str, otlp: OtlpReceiver, probe_dir: Path
) -> None:
    event_id = publish_probe(probe_dir, failures=1)

    wait_until(lambda: lines(probe_dir, event_id, "handled"), what="handled on its retry")

    [failure] = [
        record
        for record in worker_log_records(shared_processes)
        if record.get("event_id") == event_id
    ]
    assert failure["level"] == "WARNING"
    assert "probe failed to handle ProbeEvent" in failure["message"]
    assert (failure["consumer"], failure["event_type"]) == (probe.SERVICE, probe.EVENT_TYPE)
    failed = wait_until(
        lambda: span_with_id(otlp.received(), failure["span_id"]),
        what="the failed handling's span, named in its log line",
    )
    assert failed.trace_id == failure["trace_id"]
    assert failed.name == "probe handles ProbeEvent"
    assert (failed.attributes[OUTCOME], failed.failed, failed.event_names) == (
        "failed",
        True,
        ("exception",),
    )
    handled = wait_until(
        lambda: [
            span
            for span in otlp.received()
            if span.attributes.get(CLOUDEVENTS_ID) == event_id
            and span.attributes.get(OUTCOME) == "handled"
        ],
        what="the retry's span",
    )
    assert len(handled) == 1
