"""The demo against a running `make up`, with real HTTP requests: a product is created, its
inventory follows through events, stock is added and reaches the product, and an order takes
2 from the stock; each step waits for the events it causes.

    make demo
    DEMO_BASE_URL=http://127.0.0.1:8000 DEMO_TIMEOUT=15 .venv/bin/python scripts/demo.py

Against the split layout (`make up-services`), each request goes to its service: products on
8082, inventories on 8083, orders on 8080 (`make demo-services`):

    DEMO_PRODUCTS_URL=http://127.0.0.1:8082 DEMO_INVENTORY_URL=http://127.0.0.1:8083 \
    DEMO_ORDERS_URL=http://127.0.0.1:8080 .venv/bin/python scripts/demo.py

It signs in first as the demo user that `make demo` creates (DEMO_USERNAME, DEMO_PASSWORD):
products and inventory are managed by staff, and orders belong to a signed-in customer. It
signs out at the end, which revokes its token.

Every step prints its request and the JSON answer. A step that the events must bring about is
polled until it holds or DEMO_TIMEOUT seconds pass; then the demo exits non-zero, naming it.
"""

import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

import requests

BASE_URL = (os.environ.get("DEMO_BASE_URL") or "http://127.0.0.1:8000").rstrip("/")
PRODUCTS_URL = (os.environ.get("DEMO_PRODUCTS_URL") or BASE_URL).rstrip("/")
INVENTORY_URL = (os.environ.get("DEMO_INVENTORY_URL") or BASE_URL).rstrip("/")
ORDERS_URL = (os.environ.get("DEMO_ORDERS_URL") or BASE_URL).rstrip("/")
USERNAME = os.environ.get("DEMO_USERNAME") or "demo"
PASSWORD = os.environ.get("DEMO_PASSWORD") or ""
TIMEOUT = float(os.environ.get("DEMO_TIMEOUT") or "15")
REQUEST_TIMEOUT = 10.0
POLL_INTERVAL = 0.2

APPLE = {"name": "好吃的苹果", "description": "原生态的苹果", "price": 10.0}
ADDRESS = {"province": "四川", "city": "成都", "detail": "天府软件园1号"}

T = TypeVar("T")

session = requests.Session()


class StepNotReached(Exception):
    """The system did not do what the demo expects; the message says which step."""


def request(
    method: str, base_url: str, path: str, body: dict[str, Any] | None = None
) -> requests.Response:
    """Send one request to the API at `base_url`; an unreachable server ends the demo."""
    try:
        return session.request(method, base_url + path, json=body, timeout=REQUEST_TIMEOUT)
    except requests.ConnectionError:
        raise StepNotReached(
            f"cannot reach {base_url}: is `make up` (or `make up-services`) running?"
        ) from None
    except requests.RequestException as error:
        raise StepNotReached(f"{method} {path} failed: {error}") from None


def expect(response: requests.Response, status: int) -> Any:
    """The JSON body (None for an empty one) of a response with the expected status, or the
    end of the demo."""
    if response.status_code != status:
        raise StepNotReached(
            f"{response.request.method} {response.url} answered {response.status_code}, "
            f"expected {status}: {response.text[:500]}"
        )
    return response.json() if response.content else None


def wait_for(step: str, probe: Callable[[], T | None]) -> T:
    """Poll `probe` until it returns a value, or fail naming `step` once the deadline passes."""
    deadline = time.monotonic() + TIMEOUT
    while (value := probe()) is None:
        if time.monotonic() > deadline:
            raise StepNotReached(f"not reached within {TIMEOUT:g}s: {step}")
        time.sleep(POLL_INTERVAL)
    return value


def announce(step: str, method: str, path: str, body: dict[str, Any] | None = None) -> None:
    print(f"\n== {step}\n{method} {path}" + (f" {compact(body)}" if body else ""), flush=True)


def show(payload: Any) -> None:
    print(f"-> {compact(payload)}", flush=True)


def compact(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def product_with_inventory(product_id: str, remaining: int) -> dict[str, Any] | None:
    product = expect(request("GET", PRODUCTS_URL, f"/products/{product_id}"), 200)
    return product if product["inventory"] == remaining else None


def inventory_of(product_id: str, remaining: int | None = None) -> dict[str, Any] | None:
    page = expect(request("GET", INVENTORY_URL, f"/inventories?productId={product_id}"), 200)
    inventory = page["results"][0] if page["results"] else None
    if inventory is None or (remaining is not None and inventory["remaining"] != remaining):
        return None
    return inventory


def order_accepted(order: dict[str, Any]) -> dict[str, Any] | None:
    """The created order's id, or None while the order context has not yet heard of the product."""
    response = request("POST", ORDERS_URL, "/orders", order)
    if response.status_code == 400 and "Unknown product" in response.text:
        return None
    return expect(response, 201)


def order_summary(order_id: str) -> dict[str, Any] | None:
    response = request("GET", ORDERS_URL, f"/order-summaries/{order_id}")
    return None if response.status_code == 404 else expect(response, 200)


def sign_in() -> None:
    """Get an API token for the demo user and send it with every request.

    Every service accepts it: they share the identity database.
    """
    announce(f"Sign in as {USERNAME}", "POST", "/auth/token")
    credentials = {"username": USERNAME, "password": PASSWORD}
    answer = expect(request("POST", ORDERS_URL, "/auth/token", credentials), 200)
    session.headers["Authorization"] = f"Token {answer['token']}"
    show({"token": answer["token"][:8] + "…", "expiry": answer["expiry"]})


def sign_out() -> None:
    """Revoke the demo's token: a new one is issued at each sign-in."""
    announce("Sign out", "POST", "/auth/logout")
    expect(request("POST", ORDERS_URL, "/auth/logout"), 204)
    show({"status": 204})


def play() -> None:
    """The demo's steps, in order."""
    sign_in()
    announce("Create the product", "POST", "/products", APPLE)
    product_id = expect(request("POST", PRODUCTS_URL, "/products", APPLE), 201)["id"]
    show({"id": product_id})

    product_path = f"/products/{product_id}"
    announce("The new product has no stock", "GET", product_path)
    product = expect(request("GET", PRODUCTS_URL, product_path), 200)
    show(product)
    if product["inventory"] != 0:
        raise StepNotReached(f"a new product shows inventory {product['inventory']}, not 0")

    path = f"/inventories?productId={product_id}"
    announce("ProductCreatedEvent made its inventory (waiting)", "GET", path)
    inventory = wait_for("the product's inventory is created", lambda: inventory_of(product_id))
    show(inventory)

    increase = {"increaseNumber": 10}
    path = f"/inventories/{inventory['id']}/increase"
    announce("Increase the inventory by 10", "POST", path, increase)
    show(expect(request("POST", INVENTORY_URL, path, increase), 200))

    announce("InventoryChangedEvent reaches the product (waiting)", "GET", product_path)
    show(wait_for("the product shows inventory 10", lambda: product_with_inventory(product_id, 10)))

    order = {"items": [{"productId": product_id, "count": 2, "itemPrice": 10}], "address": ADDRESS}
    announce("Order 2 (once the order context knows the product)", "POST", "/orders", order)
    order_id = wait_for("the order is accepted", lambda: order_accepted(order))["id"]
    show({"id": order_id})

    path = f"/inventories?productId={product_id}"
    announce("OrderCreatedEvent decreases the inventory (waiting)", "GET", path)
    show(wait_for("the inventory is 8", lambda: inventory_of(product_id, remaining=8)))

    announce("InventoryChangedEvent reaches the product (waiting)", "GET", product_path)
    show(wait_for("the product shows inventory 8", lambda: product_with_inventory(product_id, 8)))

    path = f"/order-summaries/{order_id}"
    announce("The order read model, built from the order's events (waiting)", "GET", path)
    show(wait_for("the order read model has the order", lambda: order_summary(order_id)))

    sign_out()


def main() -> int:
    """Play the demo; 0 when every step was reached."""
    if PRODUCTS_URL == INVENTORY_URL == ORDERS_URL:
        where = PRODUCTS_URL
    else:
        where = f"products {PRODUCTS_URL}, inventory {INVENTORY_URL}, orders {ORDERS_URL}"
    print(f"The demo against {where} (each wait up to {TIMEOUT:g}s)")
    try:
        play()
    except StepNotReached as error:
        print(f"\nDEMO FAILED: {error}", file=sys.stderr)
        return 1
    print("\nDemo complete: inventory 10 -> 8 after an order of 2, on the product too.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
