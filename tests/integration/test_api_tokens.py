"""API tokens that end: one per sign-in, stored as a digest only, refused after their expiry,
revoked by signing out (that token) or by a password change (all of the user's)."""

import hashlib
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-enough-pass-phrase"


@pytest.fixture
def alice() -> User:
    return User.objects.create_user(username="alice", password=PASSWORD)


def sign_in(username: str = "alice", password: str = PASSWORD) -> str:
    response = APIClient().post(
        "/auth/token", {"username": username, "password": password}, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()["token"]


def client_with(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def works(token: str) -> bool:
    """Whether the token gets a signed-in customer's answer (else 401)."""
    status = client_with(token).get("/orders").status_code
    assert status in (200, 401)
    return status == 200


def test_each_sign_in_gives_a_new_token_and_both_work(alice: User) -> None:
    first, second = sign_in(), sign_in()

    assert first != second
    assert works(first) and works(second)
    assert AuthToken.objects.filter(user=alice).count() == 2


def test_the_token_expires_after_the_configured_time(alice: User) -> None:
    before = timezone.now()
    response = APIClient().post(
        "/auth/token", {"username": "alice", "password": PASSWORD}, format="json"
    )
    after = timezone.now()

    ttl = settings.REST_KNOX["TOKEN_TTL"]
    assert ttl == timedelta(hours=10)
    stored = AuthToken.objects.get(user=alice)
    assert before + ttl <= stored.expiry <= after + ttl
    assert response.json()["expiry"] == stored.expiry.isoformat().replace("+00:00", "Z")


def test_a_token_past_its_expiry_is_refused(alice: User) -> None:
    token = sign_in()
    AuthToken.objects.filter(user=alice).update(expiry=timezone.now() - timedelta(seconds=1))

    response = client_with(token).get("/orders")

    assert response.status_code == 401
    assert response.json()["message"] == "Token expired: sign in again."


def test_signing_in_sweeps_expired_tokens(alice: User) -> None:
    expired, still_valid = sign_in(), sign_in()
    AuthToken.objects.filter(digest=digest(expired)).update(
        expiry=timezone.now() - timedelta(seconds=1)
    )

    sign_in()

    assert not AuthToken.objects.filter(digest=digest(expired)).exists()
    assert AuthToken.objects.filter(user=alice).count() == 2
    assert works(still_valid)


def test_signing_out_revokes_only_that_token(alice: User) -> None:
    leaving, staying = sign_in(), sign_in()
    assert works(leaving)

    response = client_with(leaving).post("/auth/logout")

    assert response.status_code == 204
    assert not works(leaving)
    assert works(staying)
    assert client_with(leaving).post("/auth/logout").status_code == 401


def test_signing_out_needs_a_token(alice: User) -> None:
    session = APIClient()
    session.force_login(alice)

    response = session.post("/auth/logout")

    assert response.status_code == 401
    assert AuthToken.objects.count() == 0


def test_a_password_change_revokes_every_token_of_that_user(alice: User) -> None:
    User.objects.create_user(username="bob", password=PASSWORD)
    tokens = [sign_in(), sign_in()]
    bobs = sign_in("bob")
    assert all(works(token) for token in tokens)

    alice.set_password("another-long-pass-phrase")
    alice.save()

    assert not any(works(token) for token in tokens)
    assert AuthToken.objects.filter(user=alice).count() == 0
    assert works(bobs)
    assert works(sign_in(password="another-long-pass-phrase"))


def test_a_password_changed_in_the_admin_revokes_the_tokens(alice: User) -> None:
    token = sign_in()
    admin = Client()
    admin.force_login(User.objects.create_superuser(username="root", password=PASSWORD))

    response = admin.post(
        f"/admin/auth/user/{alice.pk}/password/",
        {"password1": "another-long-pass-phrase", "password2": "another-long-pass-phrase"},
    )

    assert response.status_code == 302, response.content
    assert not works(token)


def test_saving_the_user_without_a_new_password_keeps_the_tokens(alice: User) -> None:
    token = sign_in()

    alice.email = "alice@example.com"
    alice.save()
    alice.is_staff = True
    alice.save(update_fields=["is_staff"])

    assert works(token)


def test_the_database_holds_a_digest_never_the_token(alice: User) -> None:
    token = sign_in()

    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM knox_authtoken")
        rows = cursor.fetchall()

    assert len(rows) == 1
    assert token not in repr(rows)
    assert AuthToken.objects.get().digest == digest(token)


def test_the_admin_lists_tokens_without_their_keys(alice: User) -> None:
    token = sign_in()
    admin = Client()
    admin.force_login(User.objects.create_superuser(username="root", password=PASSWORD))

    page = admin.get("/admin/knox/authtoken/")

    assert page.status_code == 200
    text = page.content.decode()
    assert digest(token) in text
    assert token not in text


def test_the_document_describes_signing_in_and_out(alice: User) -> None:
    document = APIClient().get("/api/schema", HTTP_ACCEPT="application/json").json()
    sign_in_operation = document["paths"]["/auth/token"]["post"]
    sign_out_operation = document["paths"]["/auth/logout"]["post"]
    answer = sign_in_operation["responses"]["200"]["content"]["application/json"]["schema"]
    answer_fields = document["components"]["schemas"][answer["$ref"].rpartition("/")[2]]
    token = sign_in()

    signed_out = client_with(token).post("/auth/logout")
    refused = client_with(token).post("/auth/logout")

    assert {"400", "429"} <= set(sign_in_operation["responses"])
    assert set(answer_fields["required"]) == {"token", "expiry"}
    assert sign_out_operation["security"] == [{"tokenAuth": []}]
    assert {"204", "401"} <= set(sign_out_operation["responses"])
    assert signed_out.status_code == 204 and not signed_out.content
    assert refused.status_code == 401 and refused.json()["message"] == "Invalid token."


def digest(token: str) -> str:
    """What knox stores of a token."""
    return hashlib.sha512(token.encode()).hexdigest()
