"""Cancelling an order and changing an item's count through the API, on real PostgreSQL: the
answers, the events written, and nothing written for what is refused."""

import uuid

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from orders.models import CatalogProduct
from orders.services import (
    order_apply_item_count_change,
    order_confirm,
    order_refuse_item_count_change,
    order_reject,
)
from outbox.models import OutboxEvent

pytestmark = pytest.mark.django_db

ADDRESS = {"province": "四川", "city": "成都", "detail": "天府软件园1号"}


@pytest.fixture
def client(customer_client: APIClient) -> APIClient:
    return customer_client


def place_order(client: APIClient, *counts: int) -> tuple[str, list[str]]:
    """An order of one product per count at 10 each: its id and its product ids."""
    product_ids = [uuid.uuid4().hex for _ in counts]
    for product_id in product_ids:
        CatalogProduct.objects.create(
            product_id=product_id, name="好吃的苹果", price="10", product_version=1
        )
    items = [
        {"productId": product_id, "count": count, "itemPrice": 10}
        for product_id, count in zip(product_ids, counts, strict=True)
    ]
    response = client.post("/orders", {"items": items, "address": ADDRESS}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["id"], product_ids


def events_of(order_id: str, event_type: str) -> list[dict]:
    rows = OutboxEvent.objects.filter(aggregate_id=order_id, event_type=event_type)
    return [row.payload["data"] for row in rows.order_by("id")]


def test_an_unpaid_order_is_cancelled_and_says_what_it_held(client: APIClient) -> None:
    order_id, [apple] = place_order(client, 2)
    order_confirm(order_id=order_id)

    response = client.post(f"/orders/{order_id}/cancel")

    assert (response.status_code, response.json()["status"]) == (200, "CANCELLED")
    assert response.json()["stockReleasedAt"] is None
    [cancelled] = events_of(order_id, "OrderCancelledEvent")
    assert [(item["productId"], item["count"]) for item in cancelled["items"]] == [(apple, 2)]


@pytest.mark.parametrize(
    ("outcome", "reason"),
    [
        ("cancelled", "already cancelled"),
        ("paid", "paid: it can no longer be cancelled"),
        ("rejected", "rejected: Apple: 2 wanted, 1 remain."),
    ],
)
def test_cancelling_a_cancelled_paid_or_rejected_order_is_a_409(
    client: APIClient, outcome: str, reason: str
) -> None:
    order_id, _ = place_order(client, 2)
    if outcome == "rejected":
        order_reject(order_id=order_id, reason="Apple: 2 wanted, 1 remain.")
    else:
        order_confirm(order_id=order_id)
    if outcome == "paid":
        client.post(f"/orders/{order_id}/pay", {"paidPrice": 20}, format="json")
    if outcome == "cancelled":
        client.post(f"/orders/{order_id}/cancel")
    written = OutboxEvent.objects.count()

    response = client.post(f"/orders/{order_id}/cancel")

    assert response.status_code == 409
    assert reason in response.json()["message"]
    assert OutboxEvent.objects.count() == written


def test_another_customers_or_an_unknown_order_is_a_404(client: APIClient) -> None:
    order_id, [apple] = place_order(client, 2)
    order_confirm(order_id=order_id)
    stranger = APIClient()
    stranger.force_authenticate(User.objects.create_user(username="stranger"))
    change = {"productId": apple, "count": 3}

    responses = [
        stranger.post(f"/orders/{order_id}/cancel"),
        stranger.post(f"/orders/{order_id}/products", change, format="json"),
        client.post(f"/orders/{uuid.uuid4().hex}/cancel"),
        client.post(f"/orders/{uuid.uuid4().hex}/products", change, format="json"),
    ]

    assert [response.status_code for response in responses] == [404] * 4
    assert "Order not found" in responses[0].json()["message"]
    assert client.get(f"/orders/{order_id}").json()["status"] == "CONFIRMED"


def test_a_change_is_accepted_pending_and_blocks_payment_and_other_changes(
    client: APIClient,
) -> None:
    order_id, [apple, pear] = place_order(client, 2, 1)
    order_confirm(order_id=order_id)

    accepted = client.post(
        f"/orders/{order_id}/products", {"productId": apple, "count": 5}, format="json"
    )
    second = client.post(
        f"/orders/{order_id}/products", {"productId": pear, "count": 2}, format="json"
    )
    pay = client.post(f"/orders/{order_id}/pay", {"paidPrice": 30}, format="json")

    assert accepted.status_code == 202
    pending = accepted.json()["pendingChange"]
    assert (pending["productId"], pending["count"]) == (apple, 5)
    assert accepted.json()["totalPrice"] == 30
    assert (second.status_code, pay.status_code) == (409, 409)
    assert "Another change" in second.json()["message"]
    assert "being changed" in pay.json()["message"]
    assert events_of(order_id, "OrderItemCountChangeRequestedEvent") == [
        {"changeId": pending["changeId"], "productId": apple, "newCount": 5}
    ]


def test_an_applied_change_sets_count_and_total_a_refused_one_says_why(
    client: APIClient,
) -> None:
    order_id, [apple] = place_order(client, 2)
    order_confirm(order_id=order_id)
    url = f"/orders/{order_id}/products"
    up = client.post(url, {"productId": apple, "count": 4}, format="json").json()
    order_apply_item_count_change(order_id=order_id, change_id=up["pendingChange"]["changeId"])
    more = client.post(url, {"productId": apple, "count": 9}, format="json").json()

    order_refuse_item_count_change(
        order_id=order_id,
        change_id=more["pendingChange"]["changeId"],
        reason="好吃的苹果: 5 more wanted, 1 remain.",
    )

    order = client.get(f"/orders/{order_id}").json()
    assert [item["count"] for item in order["items"]] == [4]
    assert [item["itemPrice"] for item in order["items"]] == [10]
    assert order["totalPrice"] == 40
    assert order["pendingChange"] is None
    assert order["changeRefusalReason"] == "好吃的苹果: 5 more wanted, 1 remain."
    pay = client.post(f"/orders/{order_id}/pay", {"paidPrice": 40}, format="json")
    assert (pay.status_code, pay.json()["status"]) == (200, "PAID")


def test_the_same_count_is_a_200_that_changes_nothing(client: APIClient) -> None:
    order_id, [apple] = place_order(client, 2)
    order_confirm(order_id=order_id)

    response = client.post(
        f"/orders/{order_id}/products", {"productId": apple, "count": 2}, format="json"
    )

    assert (response.status_code, response.json()["pendingChange"]) == (200, None)
    assert events_of(order_id, "OrderItemCountChangeRequestedEvent") == []


@pytest.mark.parametrize(
    ("state", "reason"),
    [
        ("created", "still being reserved"),
        ("rejected", "rejected"),
        ("paid", "paid"),
        ("cancelled", "cancelled"),
    ],
)
def test_a_change_outside_a_confirmed_order_is_a_409(
    client: APIClient, state: str, reason: str
) -> None:
    order_id, [apple] = place_order(client, 2)
    if state == "rejected":
        order_reject(order_id=order_id, reason="Apple: 2 wanted, 1 remain.")
    if state in ("paid", "cancelled"):
        order_confirm(order_id=order_id)
    if state == "paid":
        client.post(f"/orders/{order_id}/pay", {"paidPrice": 20}, format="json")
    if state == "cancelled":
        client.post(f"/orders/{order_id}/cancel")

    response = client.post(
        f"/orders/{order_id}/products", {"productId": apple, "count": 3}, format="json"
    )

    assert response.status_code == 409
    assert reason in response.json()["message"]
    assert events_of(order_id, "OrderItemCountChangeRequestedEvent") == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"productId": "OURS", "count": 0}, "count"),
        ({"productId": "OURS", "count": -1}, "count"),
        ({"productId": "OURS", "count": "three"}, "count"),
        ({"productId": "OURS", "count": 2_147_483_648}, "count"),
        ({"productId": "OURS"}, "count"),
        ({"count": 3}, "productId"),
        ({"productId": "not-an-id", "count": 3}, "productId"),
        ({"productId": "OTHER", "count": 3}, "productId"),
        # In bounds alone, beyond what the order's units may add up to.
        ({"productId": "OURS", "count": 2_147_483_647}, "count"),
    ],
)
def test_a_bad_change_is_a_400_naming_the_field(client: APIClient, body: dict, field: str) -> None:
    order_id, [apple, _] = place_order(client, 2, 1)
    order_confirm(order_id=order_id)
    named = {"OURS": apple, "OTHER": uuid.uuid4().hex}
    body = {**body, "productId": named.get(body.get("productId"), body.get("productId"))}
    body = {key: value for key, value in body.items() if value is not None}

    response = client.post(f"/orders/{order_id}/products", body, format="json")

    assert response.status_code == 400
    assert field in response.json()["errors"], response.json()
    assert events_of(order_id, "OrderItemCountChangeRequestedEvent") == []
    assert client.get(f"/orders/{order_id}").json()["pendingChange"] is None
