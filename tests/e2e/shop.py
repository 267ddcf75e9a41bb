"""Setting the shop up through the API, waiting for the events that complete each step."""

from rest_framework.test import APIClient

from tests.waiting import wait_until

ADDRESS = {"province": "四川", "city": "成都", "detail": "天府软件园1号"}


def stocked_product(client: APIClient, stock: int, *, name: str = "Apple") -> str:
    """A product whose inventory holds `stock`, as the product itself shows; its id."""
    body = {"name": name, "description": "", "price": 10}
    product_id = client.post("/products", body, format="json").json()["id"]
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
