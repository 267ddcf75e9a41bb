"""Who may do what: staff manage products and inventory, customers see only their orders."""

import uuid

import pytest
from rest_framework.test import APIClient

from orders.models import CatalogProduct

pytestmark = pytest.mark.django_db

ADDRESS = {"province": "四川", "city": "成都", "detail": "天府软件园1号"}
APPLE = {"name": "Apple", "description": "", "price": 10}


def place_order(client: APIClient) -> str:
    product_id = uuid.uuid4()
    CatalogProduct.objects.create(product_id=product_id, name="Apple", price=10, product_version=1)
    items = [{"productId": product_id.hex, "count": 1, "itemPrice": 10}]
    response = client.post("/orders", {"items": items, "address": ADDRESS}, format="json")
    assert response.status_code == 201
    return response.json()["id"]


def test_anyone_reads_products_but_only_staff_create_them(
    staff_client: APIClient, customer_client: APIClient
) -> None:
    anonymous = APIClient()

    assert anonymous.get("/products").status_code == 200
    assert anonymous.post("/products", APPLE, format="json").status_code == 401
    assert customer_client.post("/products", APPLE, format="json").status_code == 403
    assert staff_client.post("/products", APPLE, format="json").status_code == 201


def test_only_staff_change_stock(customer_client: APIClient) -> None:
    response = customer_client.post(
        f"/inventories/{uuid.uuid4().hex}/increase", {"increaseNumber": 1}, format="json"
    )

    assert response.status_code == 403
    assert "permission" in response.json()["message"]


def test_orders_need_a_signed_in_customer() -> None:
    response = APIClient().get("/orders")

    assert response.status_code == 401
    assert "credentials were not provided" in response.json()["message"]


def test_a_customer_sees_only_their_own_orders(
    customer_client: APIClient, django_user_model: type
) -> None:
    order_id = place_order(customer_client)
    other = APIClient()
    other.force_authenticate(django_user_model.objects.create_user(username="other"))

    assert customer_client.get(f"/orders/{order_id}").status_code == 200
    assert other.get(f"/orders/{order_id}").status_code == 404
    assert other.get("/orders").json()["count"] == 0
    assert customer_client.get("/orders").json()["count"] == 1
    paying = other.post(f"/orders/{order_id}/pay", {"paidPrice": 10}, format="json")
    assert paying.status_code == 404


def test_a_token_from_username_and_password_authenticates(django_user_model: type) -> None:
    django_user_model.objects.create_user(username="alice", password="s3cret-pass")
    token = (
        APIClient()
        .post("/auth/token", {"username": "alice", "password": "s3cret-pass"}, format="json")
        .json()["token"]
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    assert client.get("/orders").status_code == 200
