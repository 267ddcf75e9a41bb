"""Bad input gets a 4xx that names the field, and writes nothing: no row, no event."""

import uuid

import pytest
from rest_framework.test import APIClient

from inventory.models import MAX_REMAINING, Inventory
from orders.models import CatalogProduct, Order
from outbox.models import OutboxEvent
from products.models import Product

pytestmark = pytest.mark.django_db

ADDRESS = {"province": "四川", "city": "成都", "detail": "天府软件园1号"}


@pytest.fixture
def client(staff_client: APIClient) -> APIClient:
    return staff_client


def assert_nothing_written() -> None:
    assert not Product.objects.exists()
    assert not Order.objects.exists()
    assert not OutboxEvent.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"description": "x", "price": 10}, "name"),
        ({"name": "Apple"}, "price"),
        ({"name": "Apple", "price": "ten"}, "price"),
        ({"name": "Apple", "price": 0}, "price"),
        ({"name": "Apple", "price": -3}, "price"),
        ({"name": "", "price": 10}, "name"),
    ],
)
def test_creating_a_product_with_bad_fields(client: APIClient, body: dict, field: str) -> None:
    response = client.post("/products", body, format="json")

    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert field in response.json()["message"]
    assert_nothing_written()


def test_malformed_json_is_a_400(client: APIClient) -> None:
    response = client.post("/products", '{"name": "Apple",', content_type="application/json")

    assert response.status_code == 400
    assert "JSON parse error" in response.json()["message"]
    assert_nothing_written()


@pytest.mark.parametrize(
    ("items", "field"),
    [
        ([], "items"),
        ([{"count": 1, "itemPrice": 10}], "items[0].productId"),
        ([{"productId": "not-an-id", "count": 1, "itemPrice": 10}], "items[0].productId"),
        ([{"productId": "KNOWN", "count": 0, "itemPrice": 10}], "items[0].count"),
        ([{"productId": "KNOWN", "count": -2, "itemPrice": 10}], "items[0].count"),
        ([{"productId": "KNOWN", "count": "two", "itemPrice": 10}], "items[0].count"),
        # One more than the column holds.
        ([{"productId": "KNOWN", "count": 2_147_483_648, "itemPrice": 10}], "items[0].count"),
        ([{"productId": "KNOWN", "count": 1, "itemPrice": 0}], "items[0].itemPrice"),
        ([{"productId": "KNOWN", "count": 1}], "items[0].itemPrice"),
    ],
)
def test_creating_an_order_with_bad_items(
    client: APIClient, known_product: str, items: list, field: str
) -> None:
    items = [{**item, "productId": known_product} if item.get("productId") == "KNOWN" else item
             for item in items]  # fmt: skip

    response = client.post("/orders", {"items": items, "address": ADDRESS}, format="json")

    assert response.status_code == 400
    assert field in response.json()["errors"], response.json()
    assert_nothing_written()


@pytest.mark.parametrize(
    ("price", "items"),
    [
        # Each count in bounds, their sum beyond what the order's summary holds.
        ("0.01", [{"count": 2_000_000_000, "itemPrice": "0.01"}] * 2),
        # Each part in bounds, the total beyond what an order's total holds.
        ("9999999999.99", [{"count": 1000, "itemPrice": "9999999999.99"}]),
    ],
)
def test_an_order_beyond_what_its_columns_hold(
    client: APIClient, known_product: str, price: str, items: list
) -> None:
    CatalogProduct.objects.filter(pk=known_product).update(price=price)
    items = [{**item, "productId": known_product} for item in items]

    response = client.post("/orders", {"items": items, "address": ADDRESS}, format="json")

    assert response.status_code == 400
    assert "items" in response.json()["errors"], response.json()
    assert_nothing_written()


def test_an_order_at_another_price_than_the_catalogs_is_a_409_naming_item_and_price(
    client: APIClient, known_product: str
) -> None:
    items = [
        {"productId": known_product, "count": 1, "itemPrice": 10},
        {"productId": known_product, "count": 1, "itemPrice": "0.01"},
    ]

    response = client.post("/orders", {"items": items, "address": ADDRESS}, format="json")

    assert response.status_code == 409
    message = response.json()["message"]
    assert f"items[1]: Apple ({known_product}) costs 10.00, not 0.01" in message
    assert "items[0]" not in message
    assert_nothing_written()


def test_an_order_of_an_unknown_product_names_the_item(
    client: APIClient, known_product: str
) -> None:
    items = [
        {"productId": known_product, "count": 1, "itemPrice": 10},
        {"productId": uuid.uuid4().hex, "count": 1, "itemPrice": 10},
    ]

    response = client.post("/orders", {"items": items, "address": ADDRESS}, format="json")

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["items[1].productId"]
    assert "Unknown product" in response.json()["message"]
    assert_nothing_written()


def test_an_order_without_an_address_detail(client: APIClient, known_product: str) -> None:
    items = [{"productId": known_product, "count": 1, "itemPrice": 10}]
    address = {"province": "四川", "city": "成都"}

    response = client.post("/orders", {"items": items, "address": address}, format="json")

    assert response.status_code == 400
    assert "address.detail" in response.json()["errors"]
    assert_nothing_written()


@pytest.mark.parametrize(
    "path", ["/products/{}", "/inventories/{}", "/orders/{}", "/order-summaries/{}"]
)
def test_unknown_ids_are_404(client: APIClient, path: str) -> None:
    response = client.get(path.format(uuid.uuid4().hex))

    assert response.status_code == 404
    assert "not found" in response.json()["message"]


@pytest.mark.parametrize("number", [0, -1, "many", None, 2_147_483_648])
def test_increasing_an_inventory_by_a_bad_number(client: APIClient, number: object) -> None:
    inventory = Inventory.objects.create(product_id=uuid.uuid4(), product_name="Apple")

    response = client.post(
        f"/inventories/{inventory.id.hex}/increase", {"increaseNumber": number}, format="json"
    )

    assert response.status_code == 400
    assert "increaseNumber" in response.json()["errors"]
    inventory.refresh_from_db()
    assert inventory.remaining == 0
    assert not OutboxEvent.objects.exists()


def test_increasing_beyond_what_an_inventory_holds_is_a_409(client: APIClient) -> None:
    full = MAX_REMAINING - 1
    inventory = Inventory.objects.create(
        product_id=uuid.uuid4(), product_name="Apple", remaining=full
    )

    response = client.post(
        f"/inventories/{inventory.id.hex}/increase", {"increaseNumber": 2}, format="json"
    )

    assert response.status_code == 409
    assert "at most 1 more fit" in response.json()["message"]
    inventory.refresh_from_db()
    assert inventory.remaining == full
    assert not OutboxEvent.objects.exists()


def test_decreasing_below_zero_is_a_409_and_changes_nothing(client: APIClient) -> None:
    inventory = Inventory.objects.create(product_id=uuid.uuid4(), product_name="Apple", remaining=1)

    response = client.post(
        f"/inventories/{inventory.id.hex}/decrease", {"decreaseNumber": 2}, format="json"
    )

    assert response.status_code == 409
    assert "only 1 remain" in response.json()["message"]
    inventory.refresh_from_db()
    assert inventory.remaining == 1
    assert not OutboxEvent.objects.exists()
