"""The demo (scripts/demo.py), through the API, with real relay and worker processes."""

import pytest
from rest_framework.test import APIClient

from harness.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def client(staff_client: APIClient) -> APIClient:
    return staff_client


APPLE = {"name": "好吃的苹果", "description": "原生态的苹果", "price": 10.0}


def inventory_of(client: APIClient, product_id: str) -> dict | None:
    results = client.get("/inventories", {"productId": product_id}).json()["results"]
    return results[0] if results else None


def test_demo_flow(processes: object, client: APIClient) -> None:
    product_id = client.post("/products", APPLE, format="json").json()["id"]
    assert client.get(f"/products/{product_id}").json()["inventory"] == 0

    inventory = wait_until(lambda: inventory_of(client, product_id), what="inventory created")
    assert inventory["remaining"] == 0
    assert inventory["productName"] == "好吃的苹果"

    response = client.post(
        f"/inventories/{inventory['id']}/increase", {"increaseNumber": 10}, format="json"
    )
    assert response.status_code == 200
    wait_until(
        lambda: client.get(f"/products/{product_id}").json()["inventory"] == 10,
        what="product shows inventory 10",
    )

    order = {
        "items": [{"productId": product_id, "count": 2, "itemPrice": 10}],
        "address": {"province": "四川", "city": "成都", "detail": "天府软件园1号"},
    }
    response = wait_until(
        lambda: (r := client.post("/orders", order, format="json")).status_code == 201 and r,
        what="order accepted once the order context knows the product",
    )
    order_id = response.json()["id"]

    wait_until(lambda: inventory_of(client, product_id)["remaining"] == 8, what="inventory 8")
    wait_until(
        lambda: client.get(f"/products/{product_id}").json()["inventory"] == 8,
        what="product shows inventory 8",
    )
    summary = wait_until(
        lambda: (r := client.get(f"/order-summaries/{order_id}")).status_code == 200 and r.json(),
        what="order read model",
    )
    assert summary["itemCount"] == 2
    assert summary["totalPrice"] == 20


def test_renaming_a_product_updates_the_inventory_copy(
    processes: object, client: APIClient
) -> None:
    product_id = client.post("/products", APPLE, format="json").json()["id"]
    wait_until(lambda: inventory_of(client, product_id), what="inventory created")

    response = client.post(f"/products/{product_id}/name", {"newName": "红富士"}, format="json")
    assert response.status_code == 200

    wait_until(
        lambda: inventory_of(client, product_id)["productName"] == "红富士",
        what="inventory shows the new name",
    )
