"""Text with a control character (Unicode Cc) is refused with a 400 naming the field, and writes
nothing; a description keeps its tabs and line breaks. The OpenAPI document says the same, so
that a client (and Schemathesis) can tell before it asks."""

import re
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import AbstractUser
from rest_framework.test import APIClient

from orders.events import Address, OrderLine
from orders.models import Order
from orders.services import order_create
from outbox.models import OutboxEvent
from products.models import Category, Product
from products.services import product_create

pytestmark = pytest.mark.django_db

ADDRESS = {"province": "四川", "city": "成都", "detail": "天府软件园1号"}
ESC, EOT, DEL, NEXT_LINE = "\x1b", "\x04", "\x7f", "\x85"


def refused(response: Any, field: str, character: str) -> None:
    assert response.status_code == 400, response.content
    body = response.json()
    assert list(body["errors"]) == [field]
    assert f"U+{ord(character):04X}" in body["message"]
    assert body["message"].startswith(f"{field}: Control character")


@pytest.mark.parametrize("character", [ESC, EOT, DEL, NEXT_LINE, "\n", "\t"])
def test_a_product_name_with_a_control_character_is_refused(
    staff_client: APIClient, character: str
) -> None:
    body = {"name": f"Apple{character}[2J", "description": "", "price": "10"}

    response = staff_client.post("/products", body, format="json")

    refused(response, "name", character)
    assert not Product.objects.exists()
    assert not OutboxEvent.objects.exists()


@pytest.mark.parametrize("character", [ESC, "\x00", "\x0b", "\x0c", DEL])
def test_a_description_with_a_control_character_is_refused(
    staff_client: APIClient, character: str
) -> None:
    body = {"name": "Apple", "description": f"Red{character}", "price": "10"}

    response = staff_client.post("/products", body, format="json")

    refused(response, "description", character)
    assert "only tab, line feed and carriage return are" in response.json()["message"]
    assert not Product.objects.exists()


def test_a_description_keeps_its_tabs_and_line_breaks(staff_client: APIClient) -> None:
    description = "Red and sweet.\r\n\tFrom Sichuan.\n"
    body = {"name": "Apple", "description": description, "price": "10"}

    response = staff_client.post("/products", body, format="json")

    assert response.status_code == 201, response.content
    assert Product.objects.get().description == description.strip()


def test_renaming_with_a_control_character_changes_nothing(staff_client: APIClient) -> None:
    product = product_create(name="Apple", description="", price=Decimal("10"))
    events = OutboxEvent.objects.count()

    response = staff_client.post(
        f"/products/{product.id.hex}/name", {"newName": f"{ESC}]0;owned{EOT}"}, format="json"
    )

    refused(response, "newName", ESC)
    assert Product.objects.get().name == "Apple"
    assert OutboxEvent.objects.count() == events


def test_a_category_name_with_a_control_character_is_refused(staff_client: APIClient) -> None:
    response = staff_client.post("/categories", {"name": f"Fruit{ESC}"}, format="json")

    refused(response, "name", ESC)
    assert not Category.objects.exists()


@pytest.mark.parametrize("field", ["province", "city", "detail"])
def test_an_address_with_a_control_character_is_refused(
    customer_client: APIClient, known_product: str, field: str
) -> None:
    address = {**ADDRESS, field: f"{ADDRESS[field]}\n{ESC}[31m"}
    items = [{"productId": known_product, "count": 1, "itemPrice": 10}]

    response = customer_client.post("/orders", {"items": items, "address": address}, "json")

    refused(response, f"address.{field}", "\n")
    assert not Order.objects.exists()
    assert not OutboxEvent.objects.exists()


def test_changing_an_address_detail_with_a_control_character_changes_nothing(
    customer_client: APIClient, known_product: str, django_user_model: type[AbstractUser]
) -> None:
    customer = django_user_model.objects.get(username="customer")
    order = order_create(
        customer_id=customer.pk,
        lines=[OrderLine(product_id=known_product, count=1, item_price=Decimal("10"))],
        address=Address(**ADDRESS),
    )
    events = OutboxEvent.objects.count()

    response = customer_client.post(
        f"/orders/{order.id.hex}/address/detail", {"detail": f"Room 1{EOT}"}, format="json"
    )

    refused(response, "detail", EOT)
    assert Order.objects.get().detail == ADDRESS["detail"]
    assert OutboxEvent.objects.count() == events


def test_the_openapi_document_refuses_what_the_server_refuses(staff_client: APIClient) -> None:
    schemas = staff_client.get("/api/schema", {"format": "json"}).json()["components"]["schemas"]
    product = schemas["ProductListCreateInputRequest"]["properties"]
    address = schemas["OrderAddressRequest"]["properties"]
    # A description may be blank: text of its pattern, or empty.
    name, description = product["name"]["pattern"], product["description"]["oneOf"][0]["pattern"]

    for pattern in (name, description, address["detail"]["pattern"]):
        assert re.search(pattern, "Apple")
        assert not re.search(pattern, f"Apple{ESC}")
        assert not re.search(pattern, f"Apple{NEXT_LINE}")
    assert not re.search(name, "Apple\nPie")
    assert re.search(description, "Red and sweet.\r\n\tFrom Sichuan.")
