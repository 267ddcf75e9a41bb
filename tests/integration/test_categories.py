"""Categories through the REST API on real PostgreSQL: create, list, put products in them."""

import uuid

import pytest
from django.test import Client
from rest_framework.test import APIClient

from outbox.models import OutboxEvent
from products.models import Category, Product

pytestmark = pytest.mark.django_db

APPLE = {"name": "好吃的苹果", "description": "原生态的苹果", "price": 10.0}

# No category has this id; a fixed value, so that every pytest-xdist worker collects the same tests.
UNKNOWN_ID = "0b7c3f5e9d2a4c61a8e4f00d5b9c2e17"


@pytest.fixture
def client(staff_client: APIClient) -> APIClient:
    return staff_client


def create_category(client: APIClient, name: str = "水果") -> str:
    response = client.post("/categories", {"name": name}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def create_product(client: APIClient, **fields: object) -> str:
    response = client.post("/products", {**APPLE, **fields}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def outbox_rows(event_type: str) -> list[OutboxEvent]:
    return list(OutboxEvent.objects.filter(event_type=event_type).order_by("id"))


def test_a_created_category_reads_back_and_raises_category_created(client: APIClient) -> None:
    category_id = create_category(client)

    response = client.get(f"/categories/{category_id}")

    assert response.status_code == 200
    assert set(response.json()) == {"id", "name", "createdAt"}
    assert (response.json()["id"], response.json()["name"]) == (category_id, "水果")
    [row] = outbox_rows("CategoryCreatedEvent")
    assert (row.service, row.aggregate_type, row.aggregate_id) == (
        "product",
        "Category",
        category_id,
    )
    assert row.payload["source"] == "/product"
    assert row.payload["data"] == {"name": "水果"}


def test_categories_are_listed_by_name_page_by_page_to_anyone(client: APIClient) -> None:
    for name in ("Vegetables", "Fruit", "Bread"):
        create_category(client, name)

    first = APIClient().get("/categories", {"limit": 2}).json()
    second = APIClient().get(first["next"]).json()

    assert (first["count"], second["next"]) == (3, None)
    names = [c["name"] for c in first["results"] + second["results"]]
    assert names == ["Bread", "Fruit", "Vegetables"]


@pytest.mark.parametrize("name", ["水果", "FRUIT", "fruit"])
def test_a_second_category_of_the_same_name_is_a_409_and_writes_nothing(
    client: APIClient, name: str
) -> None:
    create_category(client, "水果" if name == "水果" else "Fruit")

    response = client.post("/categories", {"name": name}, format="json")

    assert response.status_code == 409
    assert "exists already" in response.json()["message"]
    assert Category.objects.count() == 1
    assert len(outbox_rows("CategoryCreatedEvent")) == 1


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": "   "}, {"name": "x" * 201}])
def test_a_category_without_a_fitting_name_is_a_400(client: APIClient, body: dict) -> None:
    response = client.post("/categories", body, format="json")

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["name"]
    assert not Category.objects.exists()
    assert not OutboxEvent.objects.exists()


def test_only_staff_create_categories(customer_client: APIClient) -> None:
    assert APIClient().post("/categories", {"name": "Fruit"}, format="json").status_code == 401
    assert customer_client.post("/categories", {"name": "Fruit"}, format="json").status_code == 403
    assert not Category.objects.exists()


def test_an_unknown_category_is_a_404(client: APIClient) -> None:
    response = client.get(f"/categories/{uuid.uuid4().hex}")

    assert response.status_code == 404
    assert response.json()["message"] == "Category not found."


def test_a_product_created_in_a_category_shows_it_and_names_it_in_its_event(
    client: APIClient,
) -> None:
    category_id = create_category(client)

    product_id = create_product(client, categoryId=category_id)

    assert client.get(f"/products/{product_id}").json()["categoryId"] == category_id
    [row] = outbox_rows("ProductCreatedEvent")
    assert row.payload["data"]["categoryId"] == category_id


def test_a_product_sent_with_a_null_category_is_in_none(client: APIClient) -> None:
    product_id = create_product(client, categoryId=None)

    assert client.get(f"/products/{product_id}").json()["categoryId"] is None


@pytest.mark.parametrize(
    ("category_id", "message"),
    [(UNKNOWN_ID, "Unknown category"), ("not-an-id", "Must be a valid UUID")],
)
def test_a_product_in_an_unknown_category_is_a_400_naming_the_field(
    client: APIClient, category_id: str, message: str
) -> None:
    response = client.post("/products", {**APPLE, "categoryId": category_id}, format="json")

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["categoryId"]
    assert message in response.json()["message"]
    assert not Product.objects.exists()
    assert not OutboxEvent.objects.exists()


def test_moving_a_product_raises_product_category_changed(client: APIClient) -> None:
    fruit, apples = create_category(client, "Fruit"), create_category(client, "Apples")
    product_id = create_product(client, categoryId=fruit)

    response = client.post(
        f"/products/{product_id}/category", {"categoryId": apples}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["categoryId"] == apples
    [row] = outbox_rows("ProductCategoryChangedEvent")
    assert (row.aggregate_id, row.aggregate_version) == (product_id, 2)
    assert row.payload["data"] == {"oldCategoryId": fruit, "newCategoryId": apples}


def test_a_product_of_before_categories_can_be_put_in_one(client: APIClient) -> None:
    product_id = create_product(client)
    category_id = create_category(client)

    response = client.post(
        f"/products/{product_id}/category", {"categoryId": category_id}, format="json"
    )

    assert response.status_code == 200
    [row] = outbox_rows("ProductCategoryChangedEvent")
    assert row.payload["data"] == {"oldCategoryId": None, "newCategoryId": category_id}


@pytest.mark.parametrize("body", [{}, {"categoryId": None}, {"categoryId": UNKNOWN_ID}])
def test_moving_a_product_to_no_known_category_is_a_400_and_changes_nothing(
    client: APIClient, body: dict
) -> None:
    fruit = create_category(client, "Fruit")
    product_id = create_product(client, categoryId=fruit)

    response = client.post(f"/products/{product_id}/category", body, format="json")

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["categoryId"]
    assert client.get(f"/products/{product_id}").json()["categoryId"] == fruit
    assert Product.objects.get().version == 1
    assert not outbox_rows("ProductCategoryChangedEvent")


def test_moving_an_unknown_product_is_a_404(client: APIClient) -> None:
    category_id = create_category(client)

    response = client.post(
        f"/products/{uuid.uuid4().hex}/category", {"categoryId": category_id}, format="json"
    )

    assert response.status_code == 404


def test_only_staff_move_products(client: APIClient, customer_client: APIClient) -> None:
    category_id = create_category(client)
    product_id = create_product(client)

    response = customer_client.post(
        f"/products/{product_id}/category", {"categoryId": category_id}, format="json"
    )

    assert response.status_code == 403
    assert Product.objects.get().category_id is None


def test_products_are_filtered_by_category(client: APIClient) -> None:
    fruit, bread = create_category(client, "Fruit"), create_category(client, "Bread")
    apple = create_product(client, name="Apple", categoryId=fruit)
    pear = create_product(client, name="Pear", categoryId=fruit)
    create_product(client, name="Baguette", categoryId=bread)
    create_product(client, name="Without a category")

    page = client.get("/products", {"categoryId": fruit}).json()

    assert page["count"] == 2
    assert {p["id"] for p in page["results"]} == {apple, pear}
    assert client.get("/products").json()["count"] == 4
    assert client.get("/products", {"categoryId": uuid.uuid4().hex}).json()["count"] == 0


def test_filtering_products_by_a_malformed_category_is_a_400(client: APIClient) -> None:
    response = client.get("/products", {"categoryId": "fruit"})

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["categoryId"]


def test_the_admin_shows_categories_but_cannot_add_or_edit_them(
    client: APIClient, admin_client: Client
) -> None:
    category = Category.objects.get(pk=create_category(client, "Fruit"))
    page = "/admin/products/category/"

    assert "Fruit" in admin_client.get(page).content.decode()
    assert admin_client.get(f"{page}add/").status_code == 403
    admin_client.post(f"{page}{category.pk}/change/", {"name": "Forged"})
    category.refresh_from_db()
    assert category.name == "Fruit"
