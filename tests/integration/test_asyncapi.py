"""The AsyncAPI document as a client fetches it: both forms, through the whole middleware."""

import json
import subprocess
import sys
from pathlib import Path

import yaml
from django.conf import settings
from django.test import Client

from outbox.core.cloudevents import dataschema_of


def test_the_asyncapi_document_is_served_as_json_and_yaml(client: Client) -> None:
    as_json = client.get("/api/asyncapi.json")
    as_yaml = client.get("/api/asyncapi.yaml")

    assert as_json.status_code == as_yaml.status_code == 200
    assert as_json["Content-Type"].startswith("application/json")
    assert as_yaml["Content-Type"].startswith("application/yaml")
    document = json.loads(as_json.content)
    assert yaml.safe_load(as_yaml.content) == document
    assert document["asyncapi"] == "3.0.0"
    # The keys stay as AsyncAPI and the wire spell them, not camelCased by the API's renderer.
    assert "order-receive-q" in document["channels"]
    order_created = document["components"]["schemas"]["OrderCreatedEventData"]
    assert order_created["required"] == ["customerId", "items", "address", "totalPrice"]
    assert order_created["$id"] == dataschema_of("order", "OrderCreatedEvent")


def test_the_command_writes_the_document_to_a_file(tmp_path: Path) -> None:
    output = tmp_path / "asyncapi.json"

    subprocess.run(
        [sys.executable, "manage.py", "asyncapi", "--output", str(output)],
        cwd=settings.BASE_DIR,
        check=True,
        timeout=60,
    )

    document = json.loads(output.read_text(encoding="utf-8"))
    assert set(document["operations"]) == {
        f"{service}.{action}"
        for service in ("inventory", "order", "product")
        for action in ("publish", "receive")
    }
