"""Limits on every door of the API, on real PostgreSQL: throttles answer 429 with Retry-After in
the error shape, pages and orders have a maximum size, and a customer only so many unpaid
orders; whatever a limit refuses writes nothing."""

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from ecommerce.pagination import MAX_OFFSET
from ecommerce.settings import env_throttle_rate
from harness.project import PROJECT_DIR
from orders.models import CatalogProduct, Order
from orders.services import order_cancel, order_confirm, order_pay
from outbox.models import OutboxEvent

ADDRESS = {"province": "四川", "city": "成都", "detail": "天府软件园1号"}


@pytest.fixture
def rates(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Throttle rates a test reaches, on counts that start from nothing. DRF's throttles read
    their rates once, when imported: the settings of the test session would not reach them."""
    rates = {"anon": "3/minute", "user": "5/minute", "order-create": "2/minute"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
    cache.clear()
    yield rates
    cache.clear()


def apple() -> str:
    product_id = uuid.uuid4().hex
    CatalogProduct.objects.create(
        product_id=product_id, name="Apple", price="10", product_version=1
    )
    return product_id


def order_body(product_id: str, lines: int = 1) -> dict:
    items = [{"productId": product_id, "count": 1, "itemPrice": 10}] * lines
    return {"items": items, "address": ADDRESS}


def assert_throttled(response: object) -> None:
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert response.json() == {"message": response.json()["message"], "errors": {}}
    assert "throttled" in response.json()["message"]


@pytest.mark.django_db
def test_an_anonymous_client_past_its_rate_is_answered_429_with_retry_after(
    rates: dict[str, str],
) -> None:
    client = APIClient()

    served = [client.get("/products").status_code for _ in range(3)]
    throttled = client.get("/products")

    assert served == [200, 200, 200]
    assert_throttled(throttled)


@pytest.mark.django_db
def test_each_signed_in_user_has_a_rate_of_their_own(
    rates: dict[str, str], customer_client: APIClient
) -> None:
    served = [customer_client.get("/orders").status_code for _ in range(5)]
    throttled = customer_client.get("/orders")
    other = APIClient()
    other.force_authenticate(User.objects.create_user(username="other-customer"))

    assert served == [200] * 5
    assert_throttled(throttled)
    assert other.get("/orders").status_code == 200


@pytest.mark.django_db
def test_creating_orders_has_a_stricter_rate_and_a_throttled_order_writes_nothing(
    rates: dict[str, str], customer_client: APIClient
) -> None:
    product_id = apple()

    created = [
        customer_client.post("/orders", order_body(product_id), format="json").status_code
        for _ in range(2)
    ]
    throttled = customer_client.post("/orders", order_body(product_id), format="json")
    listed = customer_client.get("/orders")

    assert created == [201, 201]
    assert_throttled(throttled)
    assert listed.status_code == 200, "reading orders is not creating one"
    assert Order.objects.count() == 2
    assert OutboxEvent.objects.filter(event_type="OrderCreatedEvent").count() == 2


def test_rates_come_from_the_environment_and_a_malformed_one_is_refused_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("API_THROTTLE_ORDER_CREATE", "7/hour")
    assert env_throttle_rate("API_THROTTLE_ORDER_CREATE", "30/minute") == "7/hour"
    monkeypatch.delenv("API_THROTTLE_ORDER_CREATE")
    assert env_throttle_rate("API_THROTTLE_ORDER_CREATE", "30/minute") == "30/minute"

    monkeypatch.setenv("API_THROTTLE_ORDER_CREATE", "7 per hour")
    with pytest.raises(ImproperlyConfigured, match="API_THROTTLE_ORDER_CREATE='7 per hour'"):
        env_throttle_rate("API_THROTTLE_ORDER_CREATE", "30/minute")


def test_the_limits_settings_read_their_variables() -> None:
    env = {
        **os.environ,
        "API_THROTTLE_ANON": "1/second",
        "API_THROTTLE_USER": "2/minute",
        "API_THROTTLE_ORDER_CREATE": "3/hour",
        "API_MAX_PAGE_SIZE": "20",
        "ORDER_MAX_LINES": "4",
        "ORDER_MAX_UNPAID_PER_CUSTOMER": "5",
        "ORDER_UNPAID_EXPIRY_MINUTES": "6",
        "HEALTH_CACHE_SECONDS": "7",
    }
    script = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES'], s.API_MAX_PAGE_SIZE, s.ORDERS, "
        "s.OUTBOX['HEALTH_CACHE_SECONDS'], s.CELERY_BEAT_SCHEDULE['expire-unpaid-orders'])"
    )

    finished = subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip

    assert finished.returncode == 0, finished.stderr
    assert (
        finished.stdout.split()
        == (
            "{'anon': '1/second', 'user': '2/minute', 'order-create': '3/hour'} 20 "
            "{'MAX_LINES': 4, 'MAX_UNPAID_PER_CUSTOMER': 5, 'UNPAID_EXPIRY_MINUTES': 6} 7.0 "
            "{'task': 'orders.tasks.expire_unpaid_orders', 'schedule': 60.0, "
            "'kwargs': {'service': 'order'}}"
        ).split()
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("limit=101", "limit"),
        ("limit=99999999999999999999", "limit"),
        ("limit=-1", "limit"),
        ("limit=1e3", "limit"),
        (f"limit={'9' * 5000}", "limit"),
        ("offset=99999999999999999999", "offset"),
        (f"offset={MAX_OFFSET + 1}", "offset"),
        ("offset=-5", "offset"),
        ("offset=ten", "offset"),
    ],
    ids=[
        "limit above the maximum",
        "huge limit",
        "negative limit",
        "limit not a whole number",
        "limit of 5000 digits",
        "huge offset",
        "offset above the maximum",
        "negative offset",
        "offset not a number",
    ],
)
def test_a_page_parameter_out_of_range_is_a_400_naming_it(
    settings: Settings, query: str, parameter: str
) -> None:
    settings.API_MAX_PAGE_SIZE = 100

    response = APIClient().get(f"/products?{query}")

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {parameter}
    assert response.json()["errors"][parameter] == [
        f"Expected a whole number from {0 if parameter == 'offset' else 1} to "
        f"{100 if parameter == 'limit' else MAX_OFFSET}."
    ]


@pytest.mark.django_db
def test_the_largest_page_and_offset_are_served(settings: Settings) -> None:
    settings.API_MAX_PAGE_SIZE = 100
    for _ in range(3):
        apple()

    largest = APIClient().get("/catalog?limit=100&offset=0")
    past_the_end = APIClient().get(f"/catalog?limit=100&offset={MAX_OFFSET}")

    assert (largest.status_code, len(largest.json()["results"])) == (200, 3)
    assert (past_the_end.status_code, past_the_end.json()["results"]) == (200, [])


@pytest.mark.django_db
def test_the_page_size_maximum_follows_its_setting(settings: Settings) -> None:
    settings.API_MAX_PAGE_SIZE = 2

    response = APIClient().get("/catalog?limit=3")

    assert response.status_code == 400
    assert response.json()["errors"] == {"limit": ["Expected a whole number from 1 to 2."]}


@pytest.mark.django_db
def test_an_order_of_more_lines_than_allowed_is_a_400_naming_items_and_writes_nothing(
    customer_client: APIClient,
) -> None:
    product_id = apple()
    most = django_settings.ORDERS["MAX_LINES"]

    too_many = customer_client.post("/orders", order_body(product_id, most + 1), format="json")
    allowed = customer_client.post("/orders", order_body(product_id, most), format="json")

    assert too_many.status_code == 400
    assert too_many.json()["errors"] == {
        "items": [f"Ensure this field has no more than {most} elements."]
    }
    assert allowed.status_code == 201, allowed.json()
    assert Order.objects.count() == 1
    assert OutboxEvent.objects.filter(event_type="OrderCreatedEvent").count() == 1


@pytest.mark.django_db
def test_one_unpaid_order_past_the_cap_is_a_409_that_writes_nothing(
    settings: Settings, customer_client: APIClient
) -> None:
    settings.ORDERS = {**settings.ORDERS, "MAX_UNPAID_PER_CUSTOMER": 2}
    product_id = apple()
    first, second = (
        customer_client.post("/orders", order_body(product_id), format="json").json()["id"]
        for _ in range(2)
    )
    order_confirm(order_id=second)

    refused = customer_client.post("/orders", order_body(product_id), format="json")

    assert refused.status_code == 409
    assert refused.json() == {
        "message": "You have 2 unpaid orders, as many as a customer may have: pay or cancel "
        "one before ordering again.",
        "errors": {},
    }
    assert Order.objects.count() == 2
    assert OutboxEvent.objects.filter(event_type="OrderCreatedEvent").count() == 2

    other = APIClient()
    other.force_authenticate(User.objects.create_user(username="another-customer"))
    assert other.post("/orders", order_body(product_id), format="json").status_code == 201


@pytest.mark.django_db
def test_paid_and_cancelled_orders_leave_room_under_the_cap(
    settings: Settings, customer_client: APIClient
) -> None:
    settings.ORDERS = {**settings.ORDERS, "MAX_UNPAID_PER_CUSTOMER": 2}
    product_id = apple()
    paid, cancelled = (
        customer_client.post("/orders", order_body(product_id), format="json").json()["id"]
        for _ in range(2)
    )
    customer_id = Order.objects.get(pk=paid).customer_id
    order_confirm(order_id=paid)
    order_pay(order_id=paid, customer_id=customer_id, paid_price=Decimal("10"))
    order_cancel(order_id=cancelled, customer_id=customer_id)

    again = [
        customer_client.post("/orders", order_body(product_id), format="json").status_code
        for _ in range(3)
    ]

    assert again == [201, 201, 409]
