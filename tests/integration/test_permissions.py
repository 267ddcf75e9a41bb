"""Staff act by their model permissions, not by being staff: a staff user who may only view is
offered no admin action, is refused a forged one, and is refused every API write."""

import uuid
from decimal import Decimal

import pytest
from django.contrib.auth.models import AbstractUser, Permission
from django.test import Client
from rest_framework.test import APIClient

from ecommerce.staff import catalog_manager_create
from inventory.models import Inventory
from inventory.services import inventory_create_for_product, inventory_increase
from outbox.models import DeadLetter, OutboxEvent
from outbox.tests.rows import saved_outbox_event
from products.models import Category, Product
from products.services import category_create, product_create

pytestmark = [pytest.mark.django_db, pytest.mark.events_written_by_hand]

OUTBOX = "/admin/outbox/outboxevent/"
DEAD_LETTERS = "/admin/outbox/deadletter/"
VIEW_EVERYTHING = (
    "outbox.view_outboxevent",
    "outbox.view_deadletter",
    "products.view_product",
    "products.view_category",
    "inventory.view_inventory",
)


def staff_with(username: str, *permissions: str) -> AbstractUser:
    user = catalog_manager_create(username=username)
    user.groups.clear()
    for permission in permissions:
        app_label, codename = permission.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user


@pytest.fixture
def view_only_staff() -> AbstractUser:
    return staff_with("viewer", *VIEW_EVERYTHING)


def signed_in(user: AbstractUser) -> Client:
    client = Client()
    client.force_login(user)
    return client


def pending_dead_letter() -> DeadLetter:
    return DeadLetter.objects.create(
        message_key=f"inventory:{uuid.uuid4().hex}",
        service="inventory",
        kind=DeadLetter.Kind.FAILED,
        event_id=uuid.uuid4().hex,
        event_type="OrderCreatedEvent",
        body=b'{"specversion": "1.0"}',
        error_type="InsufficientStock",
        attempts=5,
    )


def pending_outbox_event() -> OutboxEvent:
    event_id = uuid.uuid4()
    return saved_outbox_event(
        event_id=event_id, payload={"id": event_id.hex, "type": "ProductCreatedEvent", "data": {}}
    )


def offered_actions(page: str) -> set[str]:
    names = ("publish_now", "replay", "discard")
    return {name for name in names if f'<option value="{name}">' in page}


def test_view_only_staff_see_the_outbox_pages_but_are_offered_no_action(
    view_only_staff: AbstractUser,
) -> None:
    pending_dead_letter()
    pending_outbox_event()
    client = signed_in(view_only_staff)

    dead_letters, outbox = client.get(DEAD_LETTERS), client.get(OUTBOX)

    assert dead_letters.status_code == outbox.status_code == 200
    assert offered_actions(dead_letters.content.decode()) == set()
    assert offered_actions(outbox.content.decode()) == set()


def test_staff_with_the_change_permission_are_offered_the_actions_of_that_model() -> None:
    pending_dead_letter()
    pending_outbox_event()
    client = signed_in(staff_with("operator", *VIEW_EVERYTHING, "outbox.change_deadletter"))

    assert offered_actions(client.get(DEAD_LETTERS).content.decode()) == {"replay", "discard"}
    assert offered_actions(client.get(OUTBOX).content.decode()) == set()


@pytest.mark.parametrize(
    "form",
    [{"action": "replay"}, {"action": "discard"}, {"action": "discard", "reason": "obsolete"}],
    ids=["replay", "discard", "discard-with-reason"],
)
def test_a_forged_dead_letter_action_of_view_only_staff_is_refused(
    view_only_staff: AbstractUser, form: dict[str, str]
) -> None:
    record = pending_dead_letter()

    response = signed_in(view_only_staff).post(
        DEAD_LETTERS, {**form, "_selected_action": [record.pk]}, follow=True
    )

    assert response.status_code == 200
    assert "Discard dead letters" not in response.content.decode(), "the reason was asked for"
    record.refresh_from_db()
    assert record.status == DeadLetter.Status.PENDING
    assert record.discard_reason == ""


def test_a_forged_publish_now_of_view_only_staff_is_refused(
    view_only_staff: AbstractUser,
) -> None:
    event = pending_outbox_event()

    signed_in(view_only_staff).post(
        OUTBOX, {"action": "publish_now", "_selected_action": [event.pk]}, follow=True
    )

    event.refresh_from_db()
    assert event.published_at is None
    assert event.attempts == 0


def test_staff_with_the_change_permission_may_discard() -> None:
    record = pending_dead_letter()
    client = signed_in(staff_with("operator", "outbox.view_deadletter", "outbox.change_deadletter"))

    response = client.post(
        DEAD_LETTERS,
        {"action": "discard", "reason": "obsolete", "_selected_action": [record.pk]},
        follow=True,
    )

    assert "Discarded 1 dead letters." in response.content.decode()
    record.refresh_from_db()
    assert record.status == DeadLetter.Status.DISCARDED


def api_writes(product: Product, inventory: Inventory) -> list[tuple[str, dict[str, object]]]:
    """Every write of the catalog and the stock, each with a body that would be accepted."""
    category = Category.objects.get()
    return [
        ("/products", {"name": "Pear", "price": "3.00"}),
        (f"/products/{product.id.hex}/name", {"newName": "Green apple"}),
        (f"/products/{product.id.hex}/price", {"newPrice": "12.50"}),
        (f"/products/{product.id.hex}/category", {"categoryId": category.id.hex}),
        ("/categories", {"name": "Pears"}),
        (f"/inventories/{inventory.id.hex}/increase", {"increaseNumber": 5}),
        (f"/inventories/{inventory.id.hex}/decrease", {"decreaseNumber": 5}),
    ]


@pytest.fixture
def catalog() -> tuple[Product, Inventory]:
    category_create(name="Fruit")
    product = product_create(name="Apple", description="", price=Decimal("10"))
    inventory = inventory_create_for_product(
        product_id=product.id.hex, product_name="Apple", product_version=1
    )
    return product, inventory_increase(inventory_id=inventory.id.hex, number=10)


def test_view_only_staff_are_refused_every_api_write_and_nothing_is_written(
    view_only_staff: AbstractUser, catalog: tuple[Product, Inventory]
) -> None:
    client = APIClient()
    client.force_authenticate(view_only_staff)
    outbox_rows = OutboxEvent.objects.count()

    refused = {
        path: client.post(path, body, format="json").status_code
        for path, body in api_writes(*catalog)
    }

    assert set(refused.values()) == {403}, refused
    assert OutboxEvent.objects.count() == outbox_rows
    assert list(Product.objects.values_list("name", "price")) == [("Apple", Decimal("10.00"))]
    assert Category.objects.count() == 1
    assert Inventory.objects.get().remaining == 10
    assert client.get(f"/products/{catalog[0].id.hex}").status_code == 200


def test_a_catalog_manager_may_make_every_api_write(catalog: tuple[Product, Inventory]) -> None:
    client = APIClient()
    client.force_authenticate(catalog_manager_create(username="manager"))

    answered = {
        path: client.post(path, body, format="json").status_code
        for path, body in api_writes(*catalog)
    }

    assert set(answered.values()) <= {200, 201}, answered
