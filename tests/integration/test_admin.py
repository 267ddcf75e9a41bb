"""The operator's admin pages, logged in as staff: outbox, processed events, dead letters, and
the order context's copies and read models, which nobody edits."""

import uuid
from decimal import Decimal

import pytest
from django.test import Client
from kombu import Connection

from inventory.models import Inventory
from inventory.services import inventory_create_for_product
from orders.events import Address, OrderLine
from orders.models import CatalogProduct, Order
from orders.services import order_create
from outbox.core import topology
from outbox.models import DeadLetter, OutboxEvent, ProcessedEvent
from outbox.tests.rows import saved_outbox_event
from products.models import Product
from products.services import product_create

pytestmark = [pytest.mark.django_db, pytest.mark.events_written_by_hand]

OUTBOX = "/admin/outbox/outboxevent/"
DEAD_LETTERS = "/admin/outbox/deadletter/"


def outbox_event(*, published: bool = False, attempts: int = 0) -> OutboxEvent:
    event_id = uuid.uuid4()
    return saved_outbox_event(
        event_id=event_id,
        payload={"id": event_id.hex, "type": "ProductCreatedEvent", "data": {"name": "苹果"}},
        published_at="2026-01-01T00:00:00Z" if published else None,
        attempts=attempts,
        last_error="Connection refused" if attempts else "",
    )


def dead_letter(**fields: object) -> DeadLetter:
    return DeadLetter.objects.create(
        **{
            "message_key": f"inventory:{uuid.uuid4().hex}",
            "service": "inventory",
            "kind": DeadLetter.Kind.FAILED,
            "event_id": uuid.uuid4().hex,
            "event_type": "OrderCreatedEvent",
            "body": b'{"specversion": "1.0"}',
            "error_type": "InsufficientStock",
            "error_message": "only 1 remain",
            "attempts": 5,
            **fields,
        }
    )


def test_the_outbox_filters_by_state_and_searches_by_event_id(admin_client: Client) -> None:
    pending, failing, published = (
        outbox_event(),
        outbox_event(attempts=2),
        outbox_event(published=True),
    )

    pending_page = admin_client.get(OUTBOX, {"state": "pending"}).content.decode()
    failing_page = admin_client.get(OUTBOX, {"state": "failing"}).content.decode()
    search_page = admin_client.get(OUTBOX, {"q": published.event_id.hex}).content.decode()

    assert pending.aggregate_id in pending_page and failing.aggregate_id in pending_page
    assert published.aggregate_id not in pending_page
    assert failing.aggregate_id in failing_page and pending.aggregate_id not in failing_page
    assert published.aggregate_id in search_page and pending.aggregate_id not in search_page


def test_an_outbox_event_shows_its_payload_and_cannot_be_edited(admin_client: Client) -> None:
    event = outbox_event(attempts=1)

    page = admin_client.get(f"{OUTBOX}{event.pk}/change/")

    assert page.status_code == 200
    assert "苹果" in page.content.decode() and "Connection refused" in page.content.decode()
    assert admin_client.get(f"{OUTBOX}add/").status_code == 403
    admin_client.post(f"{OUTBOX}{event.pk}/change/", {"event_type": "Forged"})
    event.refresh_from_db()
    assert event.event_type == "ProductCreatedEvent"


def publish_now(admin_client: Client, *events: OutboxEvent) -> str:
    """Run the action on `events` selected; the page's text."""
    response = admin_client.post(
        OUTBOX,
        {"action": "publish_now", "_selected_action": [event.pk for event in events]},
        follow=True,
    )
    return response.content.decode()


def published(event: OutboxEvent) -> bool:
    event.refresh_from_db()
    return event.published_at is not None


def test_publish_now_publishes_the_selected_events_only(
    admin_client: Client, broker: object
) -> None:
    first, unselected, last = outbox_event(), outbox_event(), outbox_event()

    page = publish_now(admin_client, first, last)

    assert "Published 2 of 2 selected pending events." in page
    assert published(first) and published(last)
    assert not published(unselected)


def test_publish_now_leaves_an_event_behind_the_unselected_earlier_one_of_its_aggregate(
    admin_client: Client, broker: object
) -> None:
    earlier = outbox_event()
    later = saved_outbox_event(
        aggregate_id=earlier.aggregate_id, aggregate_version=2, payload=earlier.payload
    )

    page = publish_now(admin_client, later)

    assert "Published 0 of 1 selected pending events." in page
    assert "wait for earlier events of their aggregates" in page
    assert not published(later)
    assert "Published 2 of 2" in publish_now(admin_client, earlier, later)


def test_a_large_selection_is_published_in_the_background(
    admin_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("outbox.admin.BACKGROUND_THRESHOLD", 1)
    events = [outbox_event(), outbox_event()]

    page = publish_now(admin_client, *events)

    assert "Publishing 2 pending events in the background" in page


def test_processed_events_are_searchable_by_event_id(admin_client: Client) -> None:
    ProcessedEvent.objects.create(
        consumer="inventory", event_id="e-1", event_type="OrderCreatedEvent"
    )
    ProcessedEvent.objects.create(
        consumer="product", event_id="e-2", event_type="OrderCreatedEvent"
    )

    page = admin_client.get("/admin/outbox/processedevent/", {"q": "e-1"}).content.decode()

    assert "e-1" in page and "e-2" not in page


def test_dead_letters_show_the_error_and_filter_by_status(admin_client: Client) -> None:
    pending, discarded = dead_letter(), dead_letter(status=DeadLetter.Status.DISCARDED)

    listing = admin_client.get(DEAD_LETTERS, {"status__exact": "pending"}).content.decode()
    detail = admin_client.get(f"{DEAD_LETTERS}{pending.pk}/change/").content.decode()

    assert pending.event_id in listing and discarded.event_id not in listing
    assert "InsufficientStock" in detail and "only 1 remain" in detail
    assert "specversion" in detail


def test_discarding_asks_for_a_reason_and_keeps_it(admin_client: Client) -> None:
    record = dead_letter()
    selected = {"action": "discard", "_selected_action": [record.pk]}

    form = admin_client.post(DEAD_LETTERS, selected)
    assert form.status_code == 200 and "reason" in form.content.decode()
    record.refresh_from_db()
    assert record.status == DeadLetter.Status.PENDING

    admin_client.post(DEAD_LETTERS, {**selected, "reason": "order was cancelled by hand"})

    record.refresh_from_db()
    assert record.status == DeadLetter.Status.DISCARDED
    assert record.discard_reason == "order was cancelled by hand"
    assert record.resolved_at is not None


def test_replay_sends_back_the_selected_dead_letters_only(
    admin_client: Client, broker: Connection
) -> None:
    selected, unselected = dead_letter(routing_key="AdminReplayTest"), dead_letter()

    page = admin_client.post(
        DEAD_LETTERS, {"action": "replay", "_selected_action": [selected.pk]}, follow=True
    ).content.decode()
    # Nothing binds the routing key: the replayed copy is not left for the workers to come.
    broker.default_channel.queue_purge(topology.receive_queue("inventory"))

    assert "Replayed 1, skipped 0 (not pending), failed 0." in page
    selected.refresh_from_db()
    unselected.refresh_from_db()
    assert selected.status == DeadLetter.Status.REPLAYED
    assert unselected.status == DeadLetter.Status.PENDING


def test_copies_and_read_models_of_the_order_context_are_read_only(admin_client: Client) -> None:
    copy = CatalogProduct.objects.create(
        product_id=uuid.uuid4(), name="Apple", price=10, product_version=1
    )
    page = f"/admin/orders/catalogproduct/{copy.pk}/"

    admin_client.post(f"{page}change/", {"name": "Forged", "price": 1, "product_version": 9})

    copy.refresh_from_db()
    assert copy.name == "Apple" and copy.price == 10
    assert admin_client.get(f"{page}change/").status_code == 200
    assert admin_client.get(f"{page}delete/").status_code == 403
    for model in ("catalogproduct", "ordersummary", "loyaltypoints", "coupon"):
        assert admin_client.get(f"/admin/orders/{model}/add/").status_code == 403, model


def test_aggregates_are_shown_but_changed_only_through_their_commands(
    admin_client: Client,
) -> None:
    product = product_create(name="Apple", description="", price=Decimal("10"))
    inventory = inventory_create_for_product(
        product_id=product.id.hex, product_name="Apple", product_version=1
    )
    CatalogProduct.objects.create(product_id=product.id, name="Apple", price=10, product_version=1)
    order = order_create(
        customer_id=1,
        lines=[OrderLine(product_id=product.id.hex, count=2, item_price=Decimal("10"))],
        address=Address(province="四川", city="成都", detail="天府软件园1号"),
    )
    pages = {
        "products/product": product,
        "inventory/inventory": inventory,
        "orders/order": order,
    }

    for model, row in pages.items():
        page = f"/admin/{model}/{row.pk.hex}/"
        shown = admin_client.get(f"{page}change/")
        admin_client.post(f"{page}change/", {"name": "Forged", "remaining": 99, "city": "X"})

        assert shown.status_code == 200, model
        assert 'name="_save"' not in shown.content.decode(), f"{model} has no save button"
        assert admin_client.get(f"{page}delete/").status_code == 403, model
        assert admin_client.get(f"/admin/{model}/add/").status_code == 403, model
    assert Product.objects.get().name == "Apple"
    assert Inventory.objects.get().remaining == 0
    assert Order.objects.get().city == "成都"
    order_page = admin_client.get(f"/admin/orders/order/{order.pk.hex}/change/").content.decode()
    assert str(product.id) in order_page, "the order's items are shown with it"
