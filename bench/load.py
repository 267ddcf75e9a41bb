"""An open-loop load generator: orders sent at a steady rate through the real HTTP API.

Request i is due at start + i / rate, whatever happened to earlier ones; a pool of threads with
one keep-alive connection each sends them. The load is bounded in count and in time: requests
that cannot start before the deadline are not sent, and are counted as such.
"""

import dataclasses
import http.client
import itertools
import json
import random
import threading
import time
from collections.abc import Sequence

REQUEST_TIMEOUT_SECONDS = 10
SENDERS = 32


@dataclasses.dataclass
class LoadResult:
    """What a paced run achieved, seen from the client."""

    order_ids: list[str] = dataclasses.field(default_factory=list)
    response_ms: list[float] = dataclasses.field(default_factory=list)
    errors: int = 0
    not_sent: int = 0
    elapsed_seconds: float = 0.0


class PacedOrders:
    """A customer (by `token`) orders `count` times at `rate` per second, on the loopback `port`."""

    def __init__(
        self, *, port: int, token: str, product_ids: Sequence[str], rate: float, count: int
    ) -> None:
        self.port = port
        self.headers = {"Content-Type": "application/json", "Authorization": f"Token {token}"}
        self.product_ids = list(product_ids)
        self.rate = rate
        self.count = count
        self.result = LoadResult()
        self._lock = threading.Lock()
        self._next = itertools.count()

    def run(self) -> LoadResult:
        """Send the orders; return once every sender has finished or given up."""
        self.start = time.monotonic() + 0.1
        self.deadline = self.start + self.count / self.rate + REQUEST_TIMEOUT_SECONDS
        senders = [threading.Thread(target=self._send) for _ in range(min(SENDERS, self.count))]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join()
        self.result.elapsed_seconds = time.monotonic() - self.start
        return self.result

    def _send(self) -> None:
        connection = http.client.HTTPConnection(
            "127.0.0.1", self.port, timeout=REQUEST_TIMEOUT_SECONDS
        )
        try:
            while (index := self._take()) is not None:
                due = self.start + index / self.rate
                if due > self.deadline:
                    self._record(not_sent=True)
                    continue
                time.sleep(max(0.0, due - time.monotonic()))
                self._post_order(connection, index)
        finally:
            connection.close()

    def _take(self) -> int | None:
        with self._lock:
            index = next(self._next)
        return index if index < self.count else None

    def _post_order(self, connection: http.client.HTTPConnection, index: int) -> None:
        item = {"productId": random.choice(self.product_ids), "count": 1, "itemPrice": 10}
        address = {"province": "Sichuan", "city": "Chengdu", "detail": f"Order {index}"}
        body = json.dumps({"items": [item], "address": address})
        sent = time.monotonic()
        try:
            connection.request("POST", "/orders", body, self.headers)
            response = connection.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException):
            connection.close()
            self._record(error=True)
            return
        if response.status != 201:
            self._record(error=True)
            return
        self._record(order_id=json.loads(payload)["id"], ms=(time.monotonic() - sent) * 1000)

    def _record(
        self, *, order_id: str = "", ms: float = 0.0, error: bool = False, not_sent: bool = False
    ) -> None:
        with self._lock:
            if order_id:
                self.result.order_ids.append(order_id)
                self.result.response_ms.append(ms)
            self.result.errors += error
            self.result.not_sent += not_sent
