"""Requests that Django refuses before any view runs (a Host header not allowed, a body over
DATA_UPLOAD_MAX_MEMORY_SIZE) answer 400 in the API's JSON error shape, and write nothing."""

import json

import pytest
import requests
from django.conf import settings
from pytest_django.live_server_helper import LiveServer
from rest_framework.test import APIClient

from outbox.models import OutboxEvent
from products.models import Product


def oversized_product() -> str:
    description = "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return json.dumps({"name": "Apple", "description": description, "price": "10"})


@pytest.mark.django_db
def test_a_host_not_allowed_gets_the_api_error_shape(staff_client: APIClient) -> None:
    response = staff_client.get("/products", HTTP_HOST="attacker.example.com")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "message": "The Host header names no host this server answers to.",
        "errors": {},
    }


@pytest.mark.django_db
def test_an_oversized_body_gets_the_api_error_shape_and_writes_nothing(
    staff_client: APIClient,
) -> None:
    response = staff_client.post("/products", oversized_product(), content_type="application/json")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert str(settings.DATA_UPLOAD_MAX_MEMORY_SIZE) in response.json()["message"]
    assert response.json()["errors"] == {}
    assert not Product.objects.exists()
    assert not OutboxEvent.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_over_a_real_connection_both_answer_json(live_server: LiveServer) -> None:
    # Signing in reads the body of anyone's request.
    oversized = requests.post(
        f"{live_server.url}/auth/token",
        data=json.dumps({"username": "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE, "password": ""}),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    wrong_host = requests.get(
        f"{live_server.url}/products", headers={"Host": "attacker.example.com"}, timeout=30
    )

    assert oversized.status_code == wrong_host.status_code == 400
    assert oversized.headers["Content-Type"] == wrong_host.headers["Content-Type"]
    assert oversized.headers["Content-Type"] == "application/json"
    assert "bytes this server accepts" in oversized.json()["message"]
    assert "Host header" in wrong_host.json()["message"]
