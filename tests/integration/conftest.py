import uuid
from collections.abc import Iterator

import pytest
from kombu import Connection

from orders.models import CatalogProduct
from outbox.core.registry import Service
from tests.event_contract import saved_events_keep_their_contract  # noqa: F401 - autouse
from tests.integration import scratch


@pytest.fixture
def scratch_service(broker: Connection) -> Iterator[Service]:
    """A service of its own on the test broker, deleted after the test whatever its type."""
    service = scratch.scratch_service()
    yield service
    scratch.delete(broker, service)


@pytest.fixture
def known_product() -> str:
    """The id of a product the order context's catalog knows, so that orders may name it."""
    product_id = uuid.uuid4()
    CatalogProduct.objects.create(
        product_id=product_id, name="Apple", price="10", product_version=1
    )
    return product_id.hex
