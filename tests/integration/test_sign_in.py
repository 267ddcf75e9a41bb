"""Signing in for a token: failures are throttled per username and address, successes never."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
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


def test_the_demo_user_signs_in() -> None:
    call_command("ensure_demo_user")

    response = sign_in("demo", "demo")

    assert response.status_code == 200
    assert response.json()["token"]


def test_the_admin_sign_in_is_throttled_as_well() -> None:
    User.objects.create_user(username="operator", password="right-password", is_staff=True)
    client = Client(REMOTE_ADDR="192.0.2.3")
    credentials = {"username": "operator", "password": "wrong", "next": "/admin/"}

    earlier = [client.post("/admin/login/", credentials) for _ in range(LIMIT - 1)]
    last_wrong = client.post("/admin/login/", credentials)
    right = client.post("/admin/login/", {**credentials, "password": "right-password"})

    assert {response.status_code for response in earlier} == {200}
    assert last_wrong.status_code == right.status_code == 429
