"""A steady stream of orders, and of their payments, through a web process's API over HTTP,
with every answer kept."""

import dataclasses
import random
import threading
import time
from collections import deque
from typing import Any

import requests

from tests.e2e.shop import ADDRESS

UNIT_PRICE = 10
# An order is looked at for payment once it had this long to be confirmed.
PAY_AFTER_SECONDS = 0.5


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
    placed_at: float  # time.monotonic() when its request was sent


@dataclasses.dataclass(frozen=True)
class Refusal:
    """An answer other than success: its status (None when none came) and Retry-After."""

    request: str
    status: int | None
    retry_after: str | None
    detail: str


class OrderStream:
    """From a thread, every `interval` seconds: an order of one or two units of one of the
    products, chosen by a seeded random generator, so that a short-stocked product runs out and
    its later orders are rejected; and with `pays`, the payment of the oldest confirmed order
    not yet paid.

    `placed` holds the orders answered 201, `paid` those whose payment was answered 200, and
    `refused` every other answer. `start` and `stop`, or a `with` block, run it.
    """

    def __init__(
        self, client: ApiClient, product_ids: list[str], *, interval: float, pays: bool = False
    ) -> None:
        self.client = client
        self.product_ids = product_ids
        self.interval = interval
        self.pays = pays
        self.placed: list[PlacedOrder] = []
        self.paid: list[str] = []
        self.refused: list[Refusal] = []
        self._to_pay: deque[PlacedOrder] = deque()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="order-stream", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=60)

    def __enter__(self) -> "OrderStream":
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def placed_after(self, moment: float) -> list[PlacedOrder]:
        return [order for order in list(self.placed) if order.placed_at > moment]

    def _run(self) -> None:
        choose = random.Random(0)
        while not self._stopping.wait(self.interval):
            product_id, count = choose.choice(self.product_ids), choose.choice((1, 2))
            body = {
                "items": [{"productId": product_id, "count": count, "itemPrice": UNIT_PRICE}],
                "address": ADDRESS,
            }
            sent_at = time.monotonic()
            response = self._send("order", "post", "/orders", body)
            if response is not None and response.status_code == 201:
                order = PlacedOrder(response.json()["id"], product_id, count, sent_at)
                self.placed.append(order)
                if self.pays:
                    self._to_pay.append(order)
            self._pay_one()

    def _pay_one(self) -> None:
        if not self._to_pay or time.monotonic() - self._to_pay[0].placed_at < PAY_AFTER_SECONDS:
            return
        order = self._to_pay.popleft()
        seen = self._send("order status", "get", f"/orders/{order.id}")
        if seen is None or seen.status_code != 200:
            self._to_pay.append(order)
            return
        status = seen.json()["status"]
        if status == "CREATED":
            self._to_pay.append(order)
        elif status == "CONFIRMED":
            paying = {"paidPrice": order.count * UNIT_PRICE}
            paid = self._send("payment", "post", f"/orders/{order.id}/pay", paying)
            if paid is not None and paid.status_code == 200:
                self.paid.append(order.id)
            else:
                self._to_pay.append(order)

    def _send(
        self, request: str, method: str, path: str, body: dict | None = None
    ) -> requests.Response | None:
        try:
            if method == "post":
                response = self.client.post(path, body or {})
            else:
                response = self.client.get(path)
        except requests.RequestException as error:
            self.refused.append(Refusal(request, None, None, f"{type(error).__name__}: {error}"))
            return None
        if response.status_code >= 300:
            self.refused.append(
                Refusal(
                    request,
                    response.status_code,
                    response.headers.get("Retry-After"),
                    response.text[:300],
                )
            )
        return response
