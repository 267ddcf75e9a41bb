"""Cancel and change before payment: the stock saga's compensation and adjustments, with real
RabbitMQ, relay and worker processes, including redelivered and reordered events."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from rest_framework.test import APIClient

from conftest import Processes
from harness.waiting import wait_until
from inventory.models import Inventory, ReservationStatus, StockReservation
from orders.models import CatalogProduct
from outbox.models import OutboxEvent, ProcessedEvent
from tests.e2e.messages import event_message, publish_all
from tests.e2e.shop import ADDRESS, stocked_product

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def client(staff_client: APIClient) -> APIClient:
    return staff_client


def place_order(client: APIClient, product_id: str, count: int) -> str:
    """Order `count` units at the catalog price of 10, once the order context knows the
    product; the order's id."""
    wait_until(
        lambda: CatalogProduct.objects.filter(product_id=product_id).exists(),
        what="the order context knows the product",
    )
    order = {"items": [{"productId": product_id, "count": count, "itemPrice": 10}]}
    response = client.post("/orders", {**order, "address": ADDRESS}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def wait_for_status(client: APIClient, order_id: str, status: str) -> dict:
    return wait_until(
        lambda: (order := client.get(f"/orders/{order_id}").json())["status"] == status and order,
        what=f"order {status}",
    )


def stock_everywhere(client: APIClient, product_id: str, expected: int) -> None:
    """Wait until the inventory holds `expected` and the product has handled the inventory's
    latest change, then check that the product's stock copy shows it too."""
    inventory = wait_until(
        lambda: (
            (found := Inventory.objects.get(product_id=product_id)).remaining == expected and found
        ),
        what=f"the inventory holds {expected}",
    )
    latest = OutboxEvent.objects.filter(
        aggregate_id=inventory.id.hex, aggregate_version=inventory.version
    ).get()
    wait_until(
        lambda: ProcessedEvent.objects.filter(
            consumer="product", event_id=latest.event_id.hex
        ).exists(),
        what="the product handled the inventory's latest change",
    )
    assert client.get(f"/products/{product_id}").json()["inventory"] == expected


def summary_shows(client: APIClient, order_id: str, **expected: object) -> dict:
    def matches() -> dict | None:
        response = client.get(f"/order-summaries/{order_id}")
        summary = response.json() if response.status_code == 200 else {}
        return summary if all(summary.get(k) == v for k, v in expected.items()) else None

    return wait_until(matches, what=f"the read model shows {expected}")


def change_count(client: APIClient, order_id: str, product_id: str, count: int) -> dict:
    body = {"productId": product_id, "count": count}
    response = client.post(f"/orders/{order_id}/products", body, format="json")
    assert response.status_code == 202, response.json()
    return response.json()


def settled_change(client: APIClient, order_id: str) -> dict:
    return wait_until(
        lambda: (
            (order := client.get(f"/orders/{order_id}").json())["pendingChange"] is None and order
        ),
        what="the inventory answered the change",
    )


def outbox_row(order_id: str, event_type: str) -> OutboxEvent:
    return OutboxEvent.objects.get(aggregate_id=order_id, event_type=event_type)


def handled_by_inventory(event_id: uuid.UUID) -> bool:
    return ProcessedEvent.objects.filter(consumer="inventory", event_id=event_id.hex).exists()


@contextmanager
def relay_stopped(processes: Processes) -> Iterator[None]:
    """No outbox row is published meanwhile; the relay publishes them all when it restarts."""
    processes.stop("relay")
    try:
        yield
    finally:
        processes.start_relay()


def test_cancelling_a_confirmed_order_returns_its_stock(
    processes: Processes, client: APIClient
) -> None:
    apple = stocked_product(client, 10)
    order_id = place_order(client, apple, 3)
    wait_for_status(client, order_id, "CONFIRMED")
    stock_everywhere(client, apple, 7)

    response = client.post(f"/orders/{order_id}/cancel")

    assert (response.status_code, response.json()["status"]) == (200, "CANCELLED")
    stock_everywhere(client, apple, 10)
    summary_shows(client, order_id, status="CANCELLED")
    wait_until(
        lambda: client.get(f"/orders/{order_id}").json()["stockReleasedAt"],
        what="the order knows its stock was released",
    )
    again = client.post(f"/orders/{order_id}/cancel")
    assert (again.status_code, again.json()["message"]) == (409, "The order is already cancelled.")


def test_cancelling_before_the_stock_is_reserved_leaves_the_stock_as_it_was(
    processes: Processes, client: APIClient
) -> None:
    apple = stocked_product(client, 10)
    with relay_stopped(processes):
        order_id = place_order(client, apple, 3)
        cancelled = client.post(f"/orders/{order_id}/cancel")
        assert (cancelled.status_code, cancelled.json()["status"]) == (200, "CANCELLED")

    # The inventory reserves, then releases; its StockReservedEvent meets a cancelled order.
    wait_until(
        lambda: client.get(f"/orders/{order_id}").json()["stockReleasedAt"],
        what="the stock released",
    )
    reserved = outbox_row(order_id, "StockReservedEvent")
    wait_until(
        lambda: ProcessedEvent.objects.filter(
            consumer="order", event_id=reserved.event_id.hex
        ).exists(),
        what="the order handled the late StockReservedEvent",
    )
    assert client.get(f"/orders/{order_id}").json()["status"] == "CANCELLED"
    stock_everywhere(client, apple, 10)
    summary_shows(client, order_id, status="CANCELLED")


def test_changing_a_count_up_and_down_moves_stock_and_total(
    processes: Processes, client: APIClient
) -> None:
    apple = stocked_product(client, 10)
    order_id = place_order(client, apple, 2)
    wait_for_status(client, order_id, "CONFIRMED")

    pending = change_count(client, order_id, apple, 5)
    assert pending["pendingChange"]["count"] == 5
    up = settled_change(client, order_id)

    assert ([item["count"] for item in up["items"]], up["totalPrice"]) == ([5], 50)
    stock_everywhere(client, apple, 5)
    summary_shows(client, order_id, itemCount=5, totalPrice=50)

    change_count(client, order_id, apple, 1)
    down = settled_change(client, order_id)

    assert ([item["count"] for item in down["items"]], down["totalPrice"]) == ([1], 10)
    assert [item["itemPrice"] for item in down["items"]] == [10]
    stock_everywhere(client, apple, 9)
    summary_shows(client, order_id, itemCount=1, totalPrice=10)
    paid = client.post(f"/orders/{order_id}/pay", {"paidPrice": 10}, format="json")
    assert (paid.status_code, paid.json()["status"]) == (200, "PAID")
    # The payment's handling ends before the test does: its tables are emptied next.
    summary_shows(client, order_id, status="PAID")


def test_a_change_the_stock_cannot_cover_is_refused_with_the_reason(
    processes: Processes, client: APIClient
) -> None:
    apple = stocked_product(client, 3, name="Apple")
    order_id = place_order(client, apple, 2)
    wait_for_status(client, order_id, "CONFIRMED")

    change_count(client, order_id, apple, 5)
    refused = settled_change(client, order_id)

    assert refused["changeRefusalReason"] == "Apple: 3 more wanted, 1 remain."
    assert ([item["count"] for item in refused["items"]], refused["totalPrice"]) == ([2], 20)
    stock_everywhere(client, apple, 1)
    summary_shows(client, order_id, itemCount=2, totalPrice=20)


def test_a_change_then_a_cancel_puts_back_what_is_held(
    processes: Processes, client: APIClient
) -> None:
    apple = stocked_product(client, 10)
    order_id = place_order(client, apple, 2)
    wait_for_status(client, order_id, "CONFIRMED")

    with relay_stopped(processes):
        change_count(client, order_id, apple, 6)
        cancelled = client.post(f"/orders/{order_id}/cancel")
        assert (cancelled.json()["status"], cancelled.json()["pendingChange"]) == (
            "CANCELLED",
            None,
        )

    wait_until(
        lambda: client.get(f"/orders/{order_id}").json()["stockReleasedAt"],
        what="the stock released",
    )
    stock_everywhere(client, apple, 10)
    order = client.get(f"/orders/{order_id}").json()
    assert ([item["count"] for item in order["items"]], order["status"]) == ([2], "CANCELLED")


def test_a_redelivered_cancellation_releases_once(processes: Processes, client: APIClient) -> None:
    apple = stocked_product(client, 10)
    order_id = place_order(client, apple, 3)
    wait_for_status(client, order_id, "CONFIRMED")
    stock_everywhere(client, apple, 7)

    with relay_stopped(processes):
        client.post(f"/orders/{order_id}/cancel")
        cancel = outbox_row(order_id, "OrderCancelledEvent")
        once_more = event_message(cancel.payload)
        # The same cancellation under a new id: the inbox cannot tell, the reservation can.
        renamed_id = uuid.uuid4()
        renamed = event_message({**cancel.payload, "id": renamed_id.hex})
        publish_all([once_more, once_more, renamed])
        wait_until(lambda: handled_by_inventory(renamed_id), what="every copy handled")
        assert Inventory.objects.get(product_id=apple).remaining == 10

    stock_everywhere(client, apple, 10)
    wait_until(
        lambda: not OutboxEvent.objects.get(pk=cancel.pk).is_pending,
        what="the relay published the cancellation a third time",
    )
    wait_until(
        lambda: client.get(f"/orders/{order_id}").json()["stockReleasedAt"],
        what="the order knows its stock was released",
    )
    released = OutboxEvent.objects.filter(event_type="StockReleasedEvent", aggregate_id=order_id)
    assert released.count() == 1
    processed = ProcessedEvent.objects.filter(consumer="inventory", event_id=cancel.event_id.hex)
    assert processed.count() == 1
    assert Inventory.objects.get(product_id=apple).remaining == 10


def test_a_cancellation_delivered_before_the_orders_creation_reserves_nothing(
    processes: Processes, client: APIClient
) -> None:
    apple = stocked_product(client, 10)
    with relay_stopped(processes):
        order_id = place_order(client, apple, 3)
        client.post(f"/orders/{order_id}/cancel")
        created = outbox_row(order_id, "OrderCreatedEvent")
        cancel = outbox_row(order_id, "OrderCancelledEvent")

        publish_all([event_message(cancel.payload), event_message(created.payload)])
        wait_until(lambda: handled_by_inventory(created.event_id), what="creation handled")

        reservation = StockReservation.objects.get(pk=order_id)
        assert (reservation.status, reservation.held) == (ReservationStatus.CANCELLED, {})
        assert Inventory.objects.get(product_id=apple).remaining == 10

    wait_until(
        lambda: client.get(f"/orders/{order_id}").json()["stockReleasedAt"],
        what="the order knows the release",
    )
    summary_shows(client, order_id, status="CANCELLED")
    stock_everywhere(client, apple, 10)
    assert not OutboxEvent.objects.filter(aggregate_id=order_id, event_type="StockReservedEvent")
