"""Seed 004's rewards: points and coupons earned by after-commit listeners on order creation."""

import uuid

import pytest
from django.db import transaction
from rest_framework.test import APIClient

from orders.events import Address, OrderLine
from orders.models import CatalogProduct, Coupon, LoyaltyPoints
from orders.services import order_create

pytestmark = pytest.mark.django_db(transaction=True)

ADDRESS = {"province": "四川", "city": "成都", "detail": "天府软件园1号"}


class CheckoutFailed(Exception):
    pass


def known_product() -> str:
    product_id = uuid.uuid4()
    CatalogProduct.objects.create(product_id=product_id, name="Apple", price=10, product_version=1)
    return product_id.hex


def order(client: APIClient, *, count: int, price: int) -> str:
    items = [{"productId": known_product(), "count": count, "itemPrice": price}]
    response = client.post("/orders", {"items": items, "address": ADDRESS}, format="json")
    assert response.status_code == 201
    return response.json()["id"]


def test_an_order_earns_points_and_a_large_one_a_coupon(customer_client: APIClient) -> None:
    small = order(customer_client, count=2, price=10)
    large = order(customer_client, count=3, price=45)

    loyalty = customer_client.get("/loyalty").json()

    assert loyalty["points"] == 20 + 135
    [coupon] = loyalty["coupons"]
    assert coupon["orderId"] == large and coupon["amount"] == 10.0
    assert LoyaltyPoints.objects.get(order_id=small).points == 20


def test_an_order_that_rolls_back_earns_nothing(django_user_model: type) -> None:
    customer = django_user_model.objects.create_user(username="customer")
    line = OrderLine(product_id=known_product(), count=20, item_price=10)

    with pytest.raises(CheckoutFailed), transaction.atomic():
        order_create(
            customer_id=customer.pk,
            lines=[line],
            address=Address(**ADDRESS),
        )
        raise CheckoutFailed

    assert not LoyaltyPoints.objects.exists()
    assert not Coupon.objects.exists()


def test_each_customer_sees_only_their_own_rewards(
    customer_client: APIClient, staff_client: APIClient
) -> None:
    order(customer_client, count=1, price=150)

    assert staff_client.get("/loyalty").json() == {"points": 0, "coupons": []}
    assert APIClient().get("/loyalty").status_code == 401
