"""Stock shortage is a saga: the inventory refuses the order, the order is rejected."""

import pytest
from rest_framework.test import APIClient

from harness.waiting import wait_until
from tests.e2e.shop import ADDRESS, stocked_product

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def client(staff_client: APIClient) -> APIClient:
    return staff_client


def test_an_order_the_stock_cannot_cover_is_rejected_and_takes_nothing(
    processes: object, client: APIClient
) -> None:
    apple, pear = stocked_product(client, 5, name="Apple"), stocked_product(client, 1, name="Pear")
    order = {
        "items": [
            {"productId": apple, "count": 2, "itemPrice": 10},
            {"productId": pear, "count": 3, "itemPrice": 10},
        ],
        "address": ADDRESS,
    }

    response = wait_until(
        lambda: (r := client.post("/orders", order, format="json")).status_code == 201 and r,
        what="order accepted",
    )
    order_id = response.json()["id"]

    rejected = wait_until(
        lambda: (o := client.get(f"/orders/{order_id}").json())["status"] == "REJECTED" and o,
        what="order rejected",
    )
    assert "Pear: 3 wanted, 1 remain." in rejected["rejectionReason"]
    wait_until(
        lambda: client.get(f"/order-summaries/{order_id}").json().get("status") == "REJECTED",
        what="read model shows the rejection",
    )
    assert client.get(f"/products/{apple}").json()["inventory"] == 5
    assert client.get(f"/products/{pear}").json()["inventory"] == 1
    pay = client.post(f"/orders/{order_id}/pay", {"paidPrice": 50}, format="json")
    assert pay.status_code == 409
    assert "rejected" in pay.json()["message"]


def test_an_order_the_stock_covers_is_confirmed_then_paid(
    processes: object, client: APIClient
) -> None:
    apple = stocked_product(client, 5, name="Apple")
    order = {"items": [{"productId": apple, "count": 2, "itemPrice": 10}], "address": ADDRESS}
    response = wait_until(
        lambda: (r := client.post("/orders", order, format="json")).status_code == 201 and r,
        what="order accepted",
    )
    order_id = response.json()["id"]

    wait_until(
        lambda: client.get(f"/orders/{order_id}").json()["status"] == "CONFIRMED",
        what="order confirmed once the stock is reserved",
    )
    paid = client.post(f"/orders/{order_id}/pay", {"paidPrice": 20}, format="json")

    assert (paid.status_code, paid.json()["status"]) == (200, "PAID")
    wait_until(
        lambda: client.get(f"/order-summaries/{order_id}").json().get("status") == "PAID",
        what="read model shows the payment",
    )
    assert client.get(f"/products/{apple}").json()["inventory"] == 3
