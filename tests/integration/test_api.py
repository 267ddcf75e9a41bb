"""The REST API's happy paths on real PostgreSQL: what a user of the three services relies on."""

import uuid

import pytest
from rest_framework.test import APIClient

from inventory.services import inventory_create_for_product
from orders.models import CatalogProduct
from orders.services import order_confirm
from outbox.models import OutboxEvent

pytestmark = pytest.mark.django_db

APPLE = {"name": "好吃的苹果", "description": "原生态的苹果", "price": 10.0}
ADDRESS = {"province": "四川", "city": "成都", "detail": "天府软件园1号"}


@pytest.fixture
def client(staff_client: APIClient) -> APIClient:
    return staff_client


def create_product(client: APIClient, **fields: object) -> str:
    response = client.post("/products", {**APPLE, **fields}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def event_data(event_type: str, aggregate_id: str) -> list[dict]:
    rows = OutboxEvent.objects.filter(event_type=event_type, aggregate_id=aggregate_id)
    return [row.payload["data"] for row in rows.order_by("id")]


def new_inventory(remaining: int = 0) -> str:
    inventory = inventory_create_for_product(
        product_id=uuid.uuid4().hex, product_name="好吃的苹果", product_version=1
    )
    if remaining:
        inventory.remaining = remaining
        inventory.save()
    return inventory.id.hex


def create_order(client: APIClient, count: int = 2, price: str = "10") -> str:
    product_id = uuid.uuid4()
    CatalogProduct.objects.create(
        product_id=product_id, name="好吃的苹果", price=price, product_version=1
    )
    order = {
        "items": [{"productId": product_id.hex, "count": count, "itemPrice": price}],
        "address": ADDRESS,
    }
    response = client.post("/orders", order, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def test_a_created_product_reads_back_in_camel_case_with_no_stock(client: APIClient) -> None:
    product_id = create_product(client)

    response = client.get(f"/products/{product_id}")

    assert response.status_code == 200
    product = response.json()
    assert set(product) == {
        "id",
        "name",
        "description",
        "price",
        "createdAt",
        "inventory",
        "categoryId",
    }
    assert product["id"] == product_id
    assert (product["name"], product["description"]) == ("好吃的苹果", "原生态的苹果")
    assert (product["price"], product["inventory"], product["categoryId"]) == (10.0, 0, None)
    assert event_data("ProductCreatedEvent", product_id) == [
        {"name": "好吃的苹果", "description": "原生态的苹果", "price": "10.00", "categoryId": None}
    ]


def test_products_are_listed_page_by_page(client: APIClient) -> None:
    created = {create_product(client, name=f"Apple {n}") for n in range(3)}

    first = client.get("/products", {"limit": 2}).json()
    second = client.get(first["next"]).json()

    assert (first["count"], first["previous"], len(first["results"])) == (3, None, 2)
    assert (second["next"], len(second["results"])) == (None, 1)
    assert second["previous"] is not None
    assert {p["id"] for p in first["results"] + second["results"]} == created


def test_renaming_a_product_raises_product_name_changed_with_old_and_new_name(
    client: APIClient,
) -> None:
    product_id = create_product(client)

    response = client.post(f"/products/{product_id}/name", {"newName": "红富士"}, format="json")

    assert response.status_code == 200
    assert response.json()["name"] == "红富士"
    assert event_data("ProductNameChangedEvent", product_id) == [
        {"oldName": "好吃的苹果", "newName": "红富士"}
    ]


def test_changing_a_products_price(client: APIClient) -> None:
    product_id = create_product(client)

    response = client.post(f"/products/{product_id}/price", {"newPrice": "12.50"}, format="json")

    assert response.status_code == 200
    assert client.get(f"/products/{product_id}").json()["price"] == 12.5
    assert event_data("ProductPriceChangedEvent", product_id) == [
        {"oldPrice": "10.00", "newPrice": "12.50"}
    ]


def test_inventories_are_found_by_product_id(client: APIClient) -> None:
    wanted = inventory_create_for_product(
        product_id=uuid.uuid4().hex, product_name="好吃的苹果", product_version=1
    )
    new_inventory()

    page = client.get("/inventories", {"productId": wanted.product_id.hex}).json()

    assert page["count"] == 1
    assert page["results"] == [
        {
            "id": wanted.id.hex,
            "productId": wanted.product_id.hex,
            "productName": "好吃的苹果",
            "remaining": 0,
        }
    ]


def test_increasing_then_decreasing_an_inventory(client: APIClient) -> None:
    inventory_id = new_inventory()

    increased = client.post(
        f"/inventories/{inventory_id}/increase", {"increaseNumber": 10}, format="json"
    )
    decreased = client.post(
        f"/inventories/{inventory_id}/decrease", {"decreaseNumber": 3}, format="json"
    )

    assert (increased.status_code, increased.json()["remaining"]) == (200, 10)
    assert (decreased.status_code, decreased.json()["remaining"]) == (200, 7)
    assert client.get(f"/inventories/{inventory_id}").json()["remaining"] == 7
    changes = event_data("InventoryChangedEvent", inventory_id)
    assert [(e["change"], e["remaining"]) for e in changes] == [(10, 10), (-3, 7)]


def test_a_created_order_reads_back_with_its_items_and_total(client: APIClient) -> None:
    order_id = create_order(client, count=2)

    response = client.get(f"/orders/{order_id}")

    assert response.status_code == 200
    order = response.json()
    assert order["id"] == order_id
    assert order["status"] == "CREATED"
    assert order["totalPrice"] == 20.0
    assert order["address"] == ADDRESS
    assert [(item["count"], item["itemPrice"]) for item in order["items"]] == [(2, 10.0)]
    assert len(event_data("OrderCreatedEvent", order_id)) == 1


def test_an_address_changes_until_the_order_is_paid(client: APIClient) -> None:
    order_id = create_order(client, count=2)
    order_confirm(order_id=order_id)  # as when the inventory reserves the stock
    detail_url = f"/orders/{order_id}/address/detail"

    changed = client.post(detail_url, {"detail": "天府软件园2号"}, format="json")
    paid = client.post(f"/orders/{order_id}/pay", {"paidPrice": 20}, format="json")
    refused = client.post(detail_url, {"detail": "天府软件园3号"}, format="json")

    assert (changed.status_code, changed.json()["address"]["detail"]) == (200, "天府软件园2号")
    assert (paid.status_code, paid.json()["status"]) == (200, "PAID")
    assert refused.status_code == 409
    assert "paid" in refused.json()["message"]
    assert client.get(f"/orders/{order_id}").json()["address"]["detail"] == "天府软件园2号"
    assert event_data("OrderAddressChangedEvent", order_id) == [
        {"oldDetail": "天府软件园1号", "newDetail": "天府软件园2号"}
    ]


def test_paying_a_wrong_amount_is_a_400_naming_paid_price(client: APIClient) -> None:
    order_id = create_order(client, count=2)
    order_confirm(order_id=order_id)

    response = client.post(f"/orders/{order_id}/pay", {"paidPrice": 19.99}, format="json")

    assert response.status_code == 400
    assert "paidPrice" in response.json()["errors"]
    assert client.get(f"/orders/{order_id}").json()["status"] == "CONFIRMED"
    assert event_data("OrderPaidEvent", order_id) == []


def test_amounts_at_their_bounds_travel_exactly_as_decimals(client: APIClient) -> None:
    order_id = create_order(client, count=99, price="9999999999.99")
    order_confirm(order_id=order_id)

    response = client.post(f"/orders/{order_id}/pay", {"paidPrice": 989999999999.01}, format="json")

    assert response.status_code == 200, response.json()
    assert b'"totalPrice":989999999999.01' in client.get(f"/orders/{order_id}").content
    assert b'"itemPrice":9999999999.99' in client.get(f"/orders/{order_id}").content
    [created] = event_data("OrderCreatedEvent", order_id)
    [paid] = event_data("OrderPaidEvent", order_id)
    assert (created["totalPrice"], paid["paidPrice"]) == ("989999999999.01", "989999999999.01")


def test_an_order_is_paid_only_once_its_stock_is_reserved(client: APIClient) -> None:
    order_id = create_order(client, count=2)

    response = client.post(f"/orders/{order_id}/pay", {"paidPrice": 20}, format="json")

    assert response.status_code == 409
    assert "still being reserved" in response.json()["message"]
    assert event_data("OrderPaidEvent", order_id) == []


def test_the_openapi_schema_is_served(client: APIClient) -> None:
    response = client.get("/api/schema", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    schema = response.json()
    assert "/products" in schema["paths"]
    assert "/inventories/{inventoryId}/increase" in schema["paths"]
