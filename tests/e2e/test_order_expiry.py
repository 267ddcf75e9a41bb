"""An unpaid order expires through real RabbitMQ, relay and worker processes: beat's task,
sent as beat sends it, runs on the order service's task queue, cancels the order, and the
inventory puts its stock back as for a customer's cancel; the read model says it expired."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient

from conftest import Processes
from harness.waiting import wait_until
from orders.models import Order
from orders.tasks import expire_unpaid_orders
from tests.e2e.shop import stocked_product
from tests.e2e.test_cancel_and_change import (
    place_order,
    stock_everywhere,
    summary_shows,
    wait_for_status,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_an_order_left_unpaid_is_cancelled_and_its_stock_comes_back(
    processes: Processes, staff_client: APIClient
) -> None:
    apple = stocked_product(staff_client, 10)
    unpaid = place_order(staff_client, apple, 3)
    paid = place_order(staff_client, apple, 2)
    wait_for_status(staff_client, unpaid, "CONFIRMED")
    wait_for_status(staff_client, paid, "CONFIRMED")
    response = staff_client.post(f"/orders/{paid}/pay", {"paidPrice": 20}, format="json")
    assert response.status_code == 200, response.json()
    stock_everywhere(staff_client, apple, 5)
    too_old = timezone.now() - timedelta(minutes=settings.ORDERS["UNPAID_EXPIRY_MINUTES"] + 1)
    Order.objects.filter(pk__in=[unpaid, paid]).update(created_at=too_old)

    expire_unpaid_orders.delay(service="order")

    order = wait_until(
        lambda: (found := Order.objects.get(pk=unpaid)).stock_released_at is not None and found,
        what="the expired order's stock released",
    )
    assert (order.status, order.cancellation_reason) == ("CANCELLED", "EXPIRED")
    stock_everywhere(staff_client, apple, 8)
    summary_shows(staff_client, unpaid, status="CANCELLED", cancellationReason="EXPIRED")
    assert staff_client.get(f"/orders/{paid}").json()["status"] == "PAID"
