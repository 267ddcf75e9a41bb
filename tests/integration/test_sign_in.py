"""Signing in for a token: failures are throttled per username and address, and per address
whatever the usernames; successes never."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client, override_settings
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

LIMIT = settings.AXES_FAILURE_LIMIT


@pytest.fixture
def alice() -> User:
    return User.objects.create_user(username="alice", password="right-password")


def sign_in(username: str, password: str, address: str = "192.0.2.1") -> object:
    client = APIClient(REMOTE_ADDR=address)
    return client.post("/auth/token", {"username": username, "password": password}, format="json")


def test_after_the_limit_of_wrong_passwords_even_the_right_one_is_refused(alice: User) -> None:
    earlier = [sign_in("alice", "wrong") for _ in range(LIMIT - 1)]
    last_wrong = sign_in("alice", "wrong")
    right = sign_in("alice", "right-password")

    assert [response.status_code for response in earlier] == [400] * (LIMIT - 1)
    assert last_wrong.status_code == right.status_code == 429
    assert right.json()["message"].startswith("Too many failed sign-ins")
    assert right.json()["errors"] == {}
    assert int(right["Retry-After"]) == settings.AXES_COOLOFF_TIME.total_seconds()


def test_the_lock_holds_one_username_from_one_address(alice: User) -> None:
    User.objects.create_user(username="bob", password="bobs-password")
    for _ in range(LIMIT):
        sign_in("alice", "wrong")

    assert sign_in("alice", "right-password", address="192.0.2.2").status_code == 200
    assert sign_in("bob", "bobs-password").status_code == 200
    assert sign_in("alice", "right-password").status_code == 429


# A lower address limit than the default keeps the test short: each failure costs a hash.
@override_settings(SIGN_IN_ADDRESS_FAILURE_LIMIT=LIMIT + 3)
def test_many_usernames_from_one_address_lock_that_address(alice: User) -> None:
    address_limit = settings.SIGN_IN_ADDRESS_FAILURE_LIMIT
    earlier = [sign_in(f"user-{number}", "guess") for number in range(address_limit - 1)]
    last = sign_in(f"user-{address_limit}", "guess")
    right = sign_in("alice", "right-password")

    assert {response.status_code for response in earlier} == {400}
    assert last.status_code == right.status_code == 429
    assert int(right["Retry-After"]) == settings.AXES_COOLOFF_TIME.total_seconds()
    assert sign_in("alice", "right-password", address="192.0.2.2").status_code == 200


@override_settings(SIGN_IN_ADDRESS_FAILURE_LIMIT=LIMIT + 3)
def test_a_successful_sign_in_does_not_clear_the_address_count(alice: User) -> None:
    address_limit = settings.SIGN_IN_ADDRESS_FAILURE_LIMIT
    for number in range(address_limit - 1):
        sign_in(f"user-{number}", "guess")

    assert sign_in("alice", "right-password").status_code == 200
    assert sign_in("user-last", "guess").status_code == 429


def test_the_right_password_works_again_once_the_cool_off_has_passed(alice: User) -> None:
    for _ in range(LIMIT):
        sign_in("alice", "wrong")
    cooled_off = AccessAttempt.objects.get().attempt_time - settings.AXES_COOLOFF_TIME
    AccessAttempt.objects.update(attempt_time=cooled_off - timedelta(seconds=1))

    response = sign_in("alice", "right-password")

    assert response.status_code == 200
    assert response.json()["token"]
    assert not AccessAttempt.objects.exists()


def test_successful_sign_ins_are_never_throttled_and_clear_the_failures(alice: User) -> None:
    for _ in range(LIMIT - 1):
        sign_in("alice", "wrong")
    cleared = sign_in("alice", "right-password")
    after = [sign_in("alice", "right-password") for _ in range(LIMIT + 1)]
    one_more_wrong = sign_in("alice", "wrong")

    assert cleared.status_code == 200
    assert {response.status_code for response in after} == {200}
    assert one_more_wrong.status_code == 400


@override_settings(DEBUG=True)
def test_the_demo_user_signs_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEMO_USERNAME", raising=False)
    monkeypatch.setenv("DEMO_PASSWORD", "this-clones-own-demo-pass")
    call_command("ensure_demo_user")

    response = sign_in("demo", "this-clones-own-demo-pass")

    assert response.status_code == 200
    assert response.json()["token"]


@pytest.mark.parametrize(
    ("debug", "password", "refusal"),
    [
        (False, "this-clones-own-demo-pass", "runs only with DJANGO_DEBUG on"),
        (True, "", "DEMO_PASSWORD is not set"),
        (True, "demo", "DEMO_PASSWORD: .*This password is too short"),
    ],
    ids=["debug-off", "no-password", "weak-password"],
)
def test_no_demo_user_outside_debug_or_without_a_password_of_its_own(
    monkeypatch: pytest.MonkeyPatch, debug: bool, password: str, refusal: str
) -> None:
    monkeypatch.setenv("DEMO_PASSWORD", password)

    with override_settings(DEBUG=debug), pytest.raises(CommandError, match=refusal):
        call_command("ensure_demo_user")

    assert not User.objects.exists()


def test_the_admin_sign_in_is_throttled_as_well() -> None:
    User.objects.create_user(username="operator", password="right-password", is_staff=True)
    client = Client(REMOTE_ADDR="192.0.2.3")
    credentials = {"username": "operator", "password": "wrong", "next": "/admin/"}

    earlier = [client.post("/admin/login/", credentials) for _ in range(LIMIT - 1)]
    last_wrong = client.post("/admin/login/", credentials)
    right = client.post("/admin/login/", {**credentials, "password": "right-password"})

    assert {response.status_code for response in earlier} == {200}
    assert last_wrong.status_code == right.status_code == 429
