"""Events sent in another service's name, by a broker user that is not that service's, with
real RabbitMQ and a real worker: refused as `Forged`, dead-lettered, and nothing changes."""

import dataclasses
import json
import uuid
from collections.abc import Iterator
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from harness.waiting import wait_until
from orders.events import Address, OrderCreatedEvent, OrderLine
from outbox.core import senders, topology
from outbox.core.cloudevents import CONTENT_TYPE, to_cloudevent
from outbox.core.publisher import ConfirmingPublisher, OutgoingMessage
from outbox.models import DeadLetter
from products.events import ProductNameChangedEvent
from tests.e2e.shop import inventory_of, stocked_product
from tests.management_api import broker_user

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

INVENTORY_QUEUE = topology.receive_queue("inventory")


@dataclasses.dataclass(frozen=True)
class Intruder:
    name: str
    url: str


@pytest.fixture
def intruder() -> Iterator[Intruder]:
    """A credential that may write to any queue of the vhost by its name (the default
    exchange): what a leaked or mis-granted broker password gives."""
    name = f"intruder-{uuid.uuid4().hex[:8]}"
    with broker_user(name, topology.Permissions("", "^amq\\.default$", "")) as url:
        yield Intruder(name, url)


def send_to_inventory(user: Intruder, document: dict, **properties: str) -> None:
    """The event straight into the inventory's receive queue, signed by `user`."""
    publisher = ConfirmingPublisher(user.url)
    try:
        publisher.publish(
            [
                OutgoingMessage(
                    "",
                    INVENTORY_QUEUE,
                    json.dumps(document).encode(),
                    {"content_type": CONTENT_TYPE, **properties},
                )
            ]
        )
    finally:
        publisher.close()


def forged_dead_letter(event_id: str) -> DeadLetter:
    return wait_until(
        lambda: DeadLetter.objects.filter(service="inventory", event_id=event_id).first(),
        what="the forged event dead-lettered at the inventory",
    )


def test_a_forged_rename_is_refused_and_later_real_renames_still_apply(
    processes: object, staff_client: APIClient, intruder: Intruder
) -> None:
    product_id = stocked_product(staff_client, 5)
    forged = ProductNameChangedEvent(
        aggregate_id=product_id, aggregate_version=1000, old_name="Apple", new_name="Forged"
    )

    send_to_inventory(intruder, to_cloudevent(forged))

    record = forged_dead_letter(forged.event_id.hex)
    assert record.error_type == "Forged"
    assert intruder.name in record.error_message
    assert repr(senders.broker_user("product")) in record.error_message
    assert inventory_of(product_id).product_name == "Apple"
    assert inventory_of(product_id).product_version < 1000
    renamed = staff_client.post(
        f"/products/{product_id}/name", {"newName": "红富士"}, format="json"
    )
    assert renamed.status_code == 200
    wait_until(
        lambda: inventory_of(product_id).product_name == "红富士",
        what="the real rename applied after the forged one",
    )


def test_a_forged_order_takes_no_stock(
    processes: object, staff_client: APIClient, intruder: Intruder
) -> None:
    product_id = stocked_product(staff_client, 5)
    forged = OrderCreatedEvent(
        aggregate_id=uuid.uuid4().hex,
        aggregate_version=1,
        customer_id=1,
        items=(OrderLine(product_id=product_id, count=5, item_price=Decimal("10")),),
        address=Address(province="四川", city="成都", detail="天府软件园1号"),
        total_price=Decimal("50"),
    )

    # A content encoding that cannot decode the body: the worker reads the bytes as sent.
    send_to_inventory(intruder, to_cloudevent(forged), content_encoding="idna")

    record = forged_dead_letter(forged.event_id.hex)
    assert record.error_type == "Forged"
    assert record.attempts == 1
    assert json.loads(bytes(record.body))["id"] == forged.event_id.hex
    assert inventory_of(product_id).remaining == 5
    assert staff_client.get(f"/products/{product_id}").json()["inventory"] == 5

    # Replayed by an operator, it is signed by the inventory's own user and still refused.
    call_command("replay_dead_letters", "--event-id", forged.event_id.hex, stdout=StringIO())
    assert DeadLetter.objects.get(pk=record.pk).status == DeadLetter.Status.REPLAYED
    again = wait_until(
        lambda: DeadLetter.objects.filter(
            pk=record.pk, status=DeadLetter.Status.PENDING, error_type="Forged"
        ).first(),
        what="the replayed forgery refused again",
    )
    assert intruder.name in again.error_message
    assert inventory_of(product_id).remaining == 5
