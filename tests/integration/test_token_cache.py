"""API tokens remembered by the web process (ecommerce.authentication): a token it has
verified costs no query until its entry expires, and that delay is all a revocation made on
another process waits."""

import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from ecommerce.authentication import TOKEN_CACHE
from orders.models import CatalogProduct

pytestmark = pytest.mark.django_db

ADDRESS = {"province": "四川", "city": "成都", "detail": "天府软件园1号"}


@pytest.fixture
def issued(django_user_model: type) -> tuple[AuthToken, str]:
    """A token of a customer, and the token itself."""
    return AuthToken.objects.create(user=django_user_model.objects.create_user(username="carol"))


def client_with(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def token_reads(client: APIClient, path: str, body: dict | None = None) -> tuple[int, int]:
    """The status of a request, and how many of its statements read the token table."""
    with CaptureQueriesContext(connection) as statements:
        if body is None:
            status = client.get(path).status_code
        else:
            status = client.post(path, body, format="json").status_code
    reads = sum('"knox_authtoken"' in statement["sql"] for statement in statements)
    return status, reads


def test_an_order_with_a_token_seen_before_reads_no_token(issued: tuple[AuthToken, str]) -> None:
    product_id = uuid.uuid4()
    CatalogProduct.objects.create(product_id=product_id, name="Apple", price=10, product_version=1)
    order = {"items": [{"productId": product_id.hex, "count": 1, "itemPrice": 10}]}
    order["address"] = ADDRESS
    client = client_with(issued[1])

    assert token_reads(client, "/orders", order) == (201, 1)
    assert token_reads(client, "/orders", order) == (201, 0)


def test_a_made_up_token_is_refused_every_time_and_never_remembered() -> None:
    client = client_with("0" * 64)

    assert token_reads(client, "/orders") == (401, 1)
    assert token_reads(client, "/orders") == (401, 1)


def test_a_token_that_is_not_utf_8_is_refused_not_an_error() -> None:
    response = client_with("\xff\xfe").get("/orders")

    assert response.status_code == 401
    assert response.json()["message"] == "Invalid token."


def test_a_remembered_token_still_ends_at_its_expiry(issued: tuple[AuthToken, str]) -> None:
    auth_token, key = issued
    client = client_with(key)
    assert token_reads(client, "/orders") == (200, 1)
    # The entry as it is once the token's time has passed: remembered, with its expiry.
    auth_token.expiry = timezone.now() - timedelta(seconds=1)
    caches[TOKEN_CACHE].set(auth_token.digest, auth_token)

    with CaptureQueriesContext(connection) as statements:
        response = client.get("/orders")

    assert response.status_code == 401
    assert response.json()["message"] == "Token expired: sign in again."
    assert not any('"knox_authtoken"' in statement["sql"] for statement in statements)


def test_a_token_deleted_elsewhere_works_until_its_entry_expires(
    issued: tuple[AuthToken, str],
) -> None:
    auth_token, key = issued
    client = client_with(key)
    assert client.get("/orders").status_code == 200
    # As another process's sign-out would: the table loses it, this process's memory does not.
    AuthToken.objects.filter(digest=auth_token.digest).delete()

    # The revocation delay, as documented: the process still remembers the token.
    assert client.get("/orders").status_code == 200
    # What expiry does to the entry.
    caches[TOKEN_CACHE].clear()
    assert client.get("/orders").status_code == 401


@override_settings(
    CACHES={**settings.CACHES, TOKEN_CACHE: {**settings.CACHES[TOKEN_CACHE], "TIMEOUT": 0}}
)
def test_with_no_cache_time_a_deleted_token_is_refused_at_once(
    issued: tuple[AuthToken, str],
) -> None:
    auth_token, key = issued
    client = client_with(key)
    assert token_reads(client, "/orders") == (200, 1)
    assert token_reads(client, "/orders") == (200, 1)
    auth_token.delete()

    assert client.get("/orders").status_code == 401


def test_a_deactivated_user_is_refused_once_the_entry_expires(
    issued: tuple[AuthToken, str],
) -> None:
    auth_token, key = issued
    client = client_with(key)
    assert client.get("/orders").status_code == 200
    auth_token.user.is_active = False
    auth_token.user.save()
    caches[TOKEN_CACHE].clear()

    response = client.get("/orders")

    assert response.status_code == 401
    assert "inactive" in response.json()["message"].lower()
