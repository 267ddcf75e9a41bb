"""A steady stream of orders through the web process's API, over HTTP."""

import dataclasses
import random
import threading
import time
from typing import Any

import requests

from tests.e2e.shop import ADDRESS


class ApiClient:
    """The API over HTTP with a user's token, called as DRF's test client is (so that the
    helpers of tests/e2e/shop.py work with it)."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {token}"

    def get(self, path: str, params: dict[str, Any] | None = None) -> requests.Response:
        return self.session.get(self.base_url + path, params=params, timeout=10)

    def post(self, path: str, body: dict[str, Any], format: str = "json") -> requests.Response:
        return self.session.post(self.base_url + path, json=body, timeout=10)


@dataclasses.dataclass(frozen=True)
class PlacedOrder:
    id: str
    product_id: str
    count: int
    placed_at: float  # time.monotonic()


class OrderStream:
    """Places an order every `interval` seconds from a thread, until stopped.

    Each order takes one or two units of one of the products, chosen by a seeded random
    generator, so that a short-stocked product runs out and its later orders are rejected.
    """

    def __init__(self, client: ApiClient, product_ids: list[str], *, interval: float) -> None:
        self.client = client
        self.product_ids = product_ids
        self.interval = interval
        self.placed: list[PlacedOrder] = []
        self.refused: list[str] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="order-stream", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=30)

    def placed_after(self, moment: float) -> list[PlacedOrder]:
        return [order for order in list(self.placed) if order.placed_at > moment]

    def _run(self) -> None:
        choose = random.Random(0)
        while not self._stopping.wait(self.interval):
            product_id, count = choose.choice(self.product_ids), choose.choice((1, 2))
            body = {
                "items": [{"productId": product_id, "count": count, "itemPrice": 10}],
                "address": ADDRESS,
            }
            placed_at = time.monotonic()
            try:
                response = self.client.post("/orders", body)
            except requests.RequestException as error:
                self.refused.append(f"{type(error).__name__}: {error}")
                continue
            if response.status_code == 201:
                order_id = response.json()["id"]
                self.placed.append(PlacedOrder(order_id, product_id, count, placed_at))
            else:
                self.refused.append(f"{response.status_code}: {response.text}")
