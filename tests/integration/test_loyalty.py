"""Rewards of paid orders: the service the order context's handler of OrderPaidEvent calls,
and the customer's view of them. tests/e2e/test_rewards.py plays them through the outbox."""

import uuid
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from orders.events import Address, OrderLine
from orders.models import CatalogProduct, Coupon, LoyaltyPoints, Order
from orders.services import loyalty_reward_paid_order, order_confirm, order_create, order_pay

pytestmark = pytest.mark.django_db

ADDRESS = Address(province="四川", city="成都", detail="天府软件园1号")


def paid_order(customer_id: int, *, count: int, price: str) -> Order:
    product_id = uuid.uuid4()
    CatalogProduct.objects.create(
        product_id=product_id, name="Apple", price=price, product_version=1
    )
    line = OrderLine(product_id=product_id.hex, count=count, item_price=Decimal(price))
    order = order_create(customer_id=customer_id, lines=[line], address=ADDRESS)
    order_confirm(order_id=order.pk.hex)
    return order_pay(order_id=order.pk.hex, customer_id=customer_id, paid_price=order.total_price)


def test_a_paid_order_earns_a_point_per_unit_and_a_large_one_a_coupon() -> None:
    small = paid_order(7, count=2, price="10.60")
    large = paid_order(7, count=3, price="45")

    loyalty_reward_paid_order(order_id=small.pk.hex)
    loyalty_reward_paid_order(order_id=large.pk.hex)

    assert LoyaltyPoints.objects.get(order_id=small.pk).points == 21
    assert LoyaltyPoints.objects.get(order_id=large.pk).points == 135
    [coupon] = Coupon.objects.all()
    assert (coupon.order_id, coupon.customer_id, coupon.amount) == (large.pk, 7, 10)


def test_rewarding_an_order_twice_grants_once() -> None:
    order = paid_order(7, count=1, price="150")

    loyalty_reward_paid_order(order_id=order.pk.hex)
    loyalty_reward_paid_order(order_id=order.pk.hex)

    assert LoyaltyPoints.objects.get().points == 150
    assert Coupon.objects.count() == 1


def test_each_customer_sees_only_their_own_rewards(
    customer_client: APIClient, staff_client: APIClient, django_user_model: type
) -> None:
    customer_id = django_user_model.objects.get(username="customer").pk
    loyalty_reward_paid_order(order_id=paid_order(customer_id, count=1, price="150").pk.hex)

    assert customer_client.get("/loyalty").json()["points"] == 150
    assert staff_client.get("/loyalty").json() == {"points": 0, "coupons": []}
    assert APIClient().get("/loyalty").status_code == 401
