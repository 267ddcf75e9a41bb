"""The audit trail and failure alert: in-process listeners on every domain event."""

import logging
from decimal import Decimal

import pytest
from django.db import transaction

from outbox.models import AuditRecord
from products.models import Product
from products.services import product_create, product_rename

pytestmark = pytest.mark.django_db(transaction=True)


class PaymentGatewayDown(Exception):
    pass


def test_every_committed_event_is_audited_after_the_commit() -> None:
    product = product_create(name="Apple", description="", price=Decimal("10"))
    product_rename(product_id=product.id.hex, new_name="Red apple")

    records = AuditRecord.objects.filter(aggregate_id=product.id.hex).order_by("aggregate_version")

    assert [(r.event_type, r.outcome) for r in records] == [
        ("ProductCreatedEvent", "committed"),
        ("ProductNameChangedEvent", "committed"),
    ]
    assert records[1].data == {"oldName": "Apple", "newName": "Red apple"}


def test_a_rolled_back_command_raises_an_alert_and_leaves_a_trace(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with pytest.raises(PaymentGatewayDown), transaction.atomic():
        product = product_create(name="Apple", description="", price=Decimal("10"))
        raise PaymentGatewayDown

    assert not Product.objects.exists()
    [record] = AuditRecord.objects.all()
    assert (record.event_type, record.outcome) == ("ProductCreatedEvent", "rolled back")
    assert record.aggregate_id == product.id.hex
    [alert] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "command rolled back: ProductCreatedEvent" in alert.getMessage()
