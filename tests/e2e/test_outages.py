"""A real web process while its database, then its broker, cannot be reached: the API answers
503 in its error shape with Retry-After, writes nothing, and serves again once the database is
back; an order placed while only the broker is down is taken as usual."""

import os
import uuid
from collections.abc import Iterator

import pytest
import requests
from django.conf import settings
from django.contrib.auth.models import User
from knox.models import AuthToken

from conftest import Processes, database_url
from harness.ports import free_port
from harness.processes import answers
from harness.waiting import wait_until
from orders.models import CatalogProduct, Order
from tests.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ADDRESS = {"province": "四川", "city": "成都", "detail": "天府软件园1号"}


class Web:
    """gunicorn serving the API, on the test database through a proxy we can cut."""

    def __init__(self, proxy: TcpProxy, broker_url: str) -> None:
        database = {**settings.DATABASES["default"], "HOST": "127.0.0.1", "PORT": proxy.port}
        self.processes = Processes(
            {
                **os.environ,
                "DATABASE_URL": database_url(database),
                "CELERY_BROKER_URL": broker_url,
            }
        )
        self.url = self.processes.start_web("outage-web", "--workers", "1", "--threads", "2")

    def serves_products(self) -> bool:
        self.processes.check_alive()
        return answers(f"{self.url}/products")

    def stop(self) -> None:
        self.processes.stop_all()


@pytest.fixture
def database_proxy() -> Iterator[TcpProxy]:
    database = settings.DATABASES["default"]
    with TcpProxy(database["HOST"] or "127.0.0.1", int(database["PORT"] or 5432)) as proxy:
        yield proxy


@pytest.fixture
def customer_token() -> str:
    user = User.objects.create_user(username="outage-customer")
    return AuthToken.objects.create(user=user)[1]


@pytest.fixture
def apple() -> CatalogProduct:
    return CatalogProduct.objects.create(
        product_id=uuid.uuid4(), name="Apple", price=10, product_version=1
    )


def place_order(web: Web, token: str, product: CatalogProduct) -> requests.Response:
    items = [{"productId": product.product_id.hex, "count": 1, "itemPrice": 10}]
    return requests.post(
        f"{web.url}/orders",
        json={"items": items, "address": ADDRESS},
        headers={"Authorization": f"Token {token}"},
        timeout=30,
    )


def assert_unavailable(response: requests.Response, what: str) -> None:
    assert response.status_code == 503, response.text
    assert response.json() == {"message": response.json()["message"], "errors": {}}
    assert what in response.json()["message"]
    assert int(response.headers["Retry-After"]) > 0


def test_without_its_database_the_api_answers_503_and_writes_nothing(
    database_proxy: TcpProxy, customer_token: str, apple: CatalogProduct
) -> None:
    web = Web(database_proxy, settings.CELERY_BROKER_URL)
    try:
        database_proxy.cut()

        anonymous = requests.get(f"{web.url}/products", timeout=30)
        order = place_order(web, customer_token, apple)
        admin = requests.get(
            f"{web.url}/admin/", cookies={"sessionid": "a-session-of-before"}, timeout=30
        )
        health = requests.get(f"{web.url}/health", timeout=30)

        assert_unavailable(anonymous, "database")
        assert_unavailable(order, "database")
        assert_unavailable(admin, "database")
        assert health.status_code == 503 and health.json() == {"healthy": False}

        database_proxy.restore()
        wait_until(web.serves_products, what="the web process serving again")
        assert not Order.objects.exists()
    finally:
        web.stop()


def test_without_its_broker_an_order_is_taken(
    database_proxy: TcpProxy, customer_token: str, apple: CatalogProduct
) -> None:
    web = Web(database_proxy, f"amqp://nobody:unreachable@127.0.0.1:{free_port()}/nowhere")
    try:
        order = place_order(web, customer_token, apple)
        health = requests.get(f"{web.url}/health", timeout=30)

        assert order.status_code == 201, order.text
        assert Order.objects.filter(pk=uuid.UUID(order.json()["id"])).exists()
        assert health.status_code == 503 and health.json() == {"healthy": False}
    finally:
        web.stop()
