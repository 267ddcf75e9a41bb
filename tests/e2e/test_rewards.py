"""Rewards follow the payment through the outbox: a paid order earns them once, and an order
that is not paid, or was rejected, earns nothing."""

import pytest
from rest_framework.test import APIClient

from harness.waiting import wait_until
from orders.models import Coupon, LoyaltyPoints
from tests.e2e.shop import ADDRESS, stocked_product

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def place_order(client: APIClient, product_id: str, count: int) -> str:
    order = {
        "items": [{"productId": product_id, "count": count, "itemPrice": 10}],
        "address": ADDRESS,
    }
    response = client.post("/orders", order, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def settled(client: APIClient, order_id: str) -> str:
    return wait_until(
        lambda: (
            (status := client.get(f"/orders/{order_id}").json()["status"]) != "CREATED" and status
        ),
        what=f"order {order_id} confirmed or rejected",
    )


def test_only_a_paid_order_earns_points_and_a_large_one_a_coupon(
    processes: object, staff_client: APIClient
) -> None:
    apple = stocked_product(staff_client, 15)
    unpaid = place_order(staff_client, apple, 2)
    rejected = place_order(staff_client, apple, 100)
    paid = place_order(staff_client, apple, 10)
    assert [settled(staff_client, order) for order in (unpaid, rejected, paid)] == [
        "CONFIRMED",
        "REJECTED",
        "CONFIRMED",
    ]
    assert not LoyaltyPoints.objects.exists(), "nothing is earned before a payment"

    response = staff_client.post(f"/orders/{paid}/pay", {"paidPrice": 100}, format="json")
    assert response.status_code == 200, response.json()

    # The points and the coupon commit together, but /loyalty reads them one query after the
    # other: a commit between the two shows only the coupon for that one answer.
    loyalty = wait_until(
        lambda: (
            (body := staff_client.get("/loyalty").json())["coupons"] and body["points"] and body
        ),
        what="the payment's rewards",
    )
    assert loyalty["points"] == 100
    assert [coupon["orderId"] for coupon in loyalty["coupons"]] == [paid]
    assert [points.order_id.hex for points in LoyaltyPoints.objects.all()] == [paid]
    assert Coupon.objects.count() == 1
