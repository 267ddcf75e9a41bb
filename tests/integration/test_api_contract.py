"""The served OpenAPI document tells the truth about the server: Schemathesis, with every check
and its stateful phase, finds nothing against a real gunicorn on the test database; and the
server refuses what the document does not allow."""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from knox.models import AuthToken
from kombu import Connection
from rest_framework.test import APIClient

from conftest import Processes, database_url
from ecommerce.staff import catalog_manager_create
from harness.project import PROJECT_DIR

pytestmark = pytest.mark.processes

BIN = Path(sys.executable).parent
# A small budget with a fixed seed: the same cases on every run, in about a minute on 2 cores.
SCHEMATHESIS_SEED = 20261130
SCHEMATHESIS_EXAMPLES = 8
SCHEMATHESIS_TIMEOUT_SECONDS = 300


@pytest.fixture
def web(broker: Connection) -> Iterator[str]:
    """gunicorn serving the API on the test database and broker (its topology declared, so
    that `/health` answers 200); its URL."""
    processes = Processes(
        {
            **os.environ,
            "DATABASE_URL": database_url(settings.DATABASES["default"]),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        }
    )
    try:
        yield processes.start_web("contract-web", "--workers", "2")
    finally:
        processes.stop_all()


# Schemathesis writes products, categories and failed sign-ins: the tables are emptied after.
@pytest.mark.django_db(transaction=True)
def test_schemathesis_finds_nothing_with_every_check_and_the_stateful_phase(web: str) -> None:
    staff = catalog_manager_create(username="contract-staff")
    token = AuthToken.objects.create(user=staff)[1]

    finished = subprocess.run(
        [
            str(BIN / "schemathesis"), "run", f"{web}/api/schema",
            "--checks", "all",
            "--phases", "examples,coverage,fuzzing,stateful",
            "--header", f"Authorization: Token {token}",
            "--seed", str(SCHEMATHESIS_SEED),
            "--max-examples", str(SCHEMATHESIS_EXAMPLES),
            "--workers", "1",
            "--no-color",
        ],
        cwd=PROJECT_DIR, capture_output=True, text=True, timeout=SCHEMATHESIS_TIMEOUT_SECONDS,
    )  # fmt: skip

    report = finished.stdout + finished.stderr
    assert finished.returncode == 0, report
    assert "Stateful" in report and "API Links" in report, report


def test_the_schema_generates_without_a_warning_and_validates(tmp_path: Path) -> None:
    call_command(
        "spectacular", "--fail-on-warn", "--validate", "--file", str(tmp_path / "schema.yaml")
    )

    assert (tmp_path / "schema.yaml").read_text().startswith("openapi: 3.0.3")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "errors"),
    [
        (
            {"name": "Apple", "price": 10, "colour": "red"},
            {"colour": ["Unknown field."]},
        ),
        (
            {"name": 7, "price": 10},
            {"name": ["Expected a string, got a number."]},
        ),
        (
            {"name": "Apple", "price": True},
            {"price": ["Expected a number, got a boolean."]},
        ),
    ],
    ids=["unknown field", "number for a string", "boolean for a number"],
)
def test_a_body_the_schema_does_not_allow_is_refused_naming_the_field(
    staff_client: APIClient, body: dict, errors: dict
) -> None:
    response = staff_client.post("/products", body, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == errors


@pytest.mark.django_db
def test_nested_unknown_fields_and_types_are_named_by_their_path(
    customer_client: APIClient,
) -> None:
    address = {"province": "Shaanxi", "city": "Xi'an", "detail": "Xiaozhai", "zip": "710000"}
    items = [{"productId": "76046d8da86345d08dc71c65cc3bc20f", "count": "2", "itemPrice": 10}]

    response = customer_client.post("/orders", {"items": items, "address": address}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "items[0].count": ["Expected an integer, got a string."],
        "address.zip": ["Unknown field."],
    }


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["limit=0", "limit=ten", "offset=-1", "offset="])
def test_a_page_parameter_out_of_range_is_refused(query: str) -> None:
    response = APIClient().get(f"/products?{query}")

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {query.partition("=")[0]}


def test_a_path_that_matches_nothing_answers_404_in_the_error_shape() -> None:
    response = APIClient().get("/products/not-a-uuid")

    assert response.status_code == 404
    assert response.json() == {"message": "Not found.", "errors": {}}
