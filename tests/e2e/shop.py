"""Setting the shop up through the API, waiting for the events that complete each step."""

from kombu import Connection
from rest_framework.test import APIClient

from harness.processes import consumer_count
from harness.waiting import wait_until
from inventory.models import Inventory
from orders.models import CatalogProduct

ADDRESS = {"province": "四川", "city": "成都", "detail": "天府软件园1号"}
INVENTORY_QUEUE = "inventory-receive-q"


def created_product(client: APIClient, *, name: str = "Apple") -> str:
    """A new product priced 10 (staff client); its id."""
    response = client.post(
        "/products", {"name": name, "description": "", "price": 10}, format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def stocked_product(client: APIClient, stock: int, *, name: str = "Apple") -> str:
    """A product whose inventory holds `stock`, as the product itself shows; its id."""
    product_id = created_product(client, name=name)
    inventory = wait_until(
        lambda: client.get("/inventories", {"productId": product_id}).json()["results"],
        what="inventory created",
    )[0]
    increase = {"increaseNumber": stock}
    client.post(f"/inventories/{inventory['id']}/increase", increase, format="json")
    wait_until(
        lambda: client.get(f"/products/{product_id}").json()["inventory"] == stock,
        what="stock copied to the product",
    )
    return product_id


def orderable_product(client: APIClient, stock: int) -> str:
    """A stocked product that the order context has heard of: orders may name it."""
    product_id = stocked_product(client, stock)
    wait_until(
        lambda: CatalogProduct.objects.filter(product_id=product_id).exists(),
        what="the product in the order context's catalog",
    )
    return product_id


def inventory_of(product_id: str) -> Inventory | None:
    return Inventory.objects.filter(product_id=product_id).first()


def ready_messages(broker: Connection, queue: str) -> int:
    _, ready, _ = broker.default_channel.queue_declare(queue, passive=True)
    return ready


def wait_until_inventory_queue_drained(
    client: APIClient, broker: Connection, product_id: str
) -> None:
    """Queue a later message for the inventory and wait until the worker has handled it.

    One consumer takes the queue in order and acknowledges each message before the next: once
    this rename is applied, every message queued before it has been handled and acknowledged.
    """
    assert consumer_count(broker, INVENTORY_QUEUE) == 1, "the in-order argument needs one consumer"
    response = client.post(f"/products/{product_id}/name", {"newName": "红富士"}, format="json")
    assert response.status_code == 200
    wait_until(
        lambda: inventory_of(product_id).product_name == "红富士",
        what="the inventory handled the rename queued after the earlier messages",
    )
    assert ready_messages(broker, INVENTORY_QUEUE) == 0
