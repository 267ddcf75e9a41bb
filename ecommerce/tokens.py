"""API tokens: one issued per sign-in, expiring after API_TOKEN_TTL_HOURS, revoked by signing
out or by a change of the user's password.

django-rest-knox stores each token's digest only: the token itself is known once, in the
sign-in's answer.
"""

from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models.signals import pre_save
from django.dispatch import receiver
from django.utils import timezone
from knox.models import AuthToken

from ecommerce.authentication import forget_tokens


def api_token_create(*, user: AbstractBaseUser) -> tuple[AuthToken, str]:
    """A new token for the user, with the token itself, which no one can read again."""
    # Expired tokens are swept here rather than on each request: sign-ins are rare, and the
    # table then holds little more than the tokens that still work.
    AuthToken.objects.filter(expiry__lte=timezone.now()).delete()
    return AuthToken.objects.create(user=user)


def api_token_revoke(*, token: AuthToken) -> None:
    """End one token: signing out."""
    # Deleting clears the primary key, which is the digest.
    digest = token.digest
    token.delete()
    forget_tokens([digest])


def api_tokens_revoke_all(*, user: AbstractBaseUser) -> None:
    """End every token of the user: a password change."""
    digests = list(AuthToken.objects.filter(user=user).values_list("digest", flat=True))
    AuthToken.objects.filter(digest__in=digests).delete()
    forget_tokens(digests)


@receiver(pre_save, sender=settings.AUTH_USER_MODEL)
def revoke_tokens_on_password_change(
    sender: type[AbstractBaseUser],
    instance: AbstractBaseUser,
    raw: bool,
    update_fields: frozenset[str] | None,
    **kwargs: Any,
) -> None:
    """A user saved with another password hash than the stored one loses every API token.

    The same test as Django's sessions, which end when the hash they were signed with changes:
    any path that saves the user (the admin, `changepassword`, `set_password` and `save`)
    revokes, and so does Django rehashing the same password after an upgrade of its hasher.
    """
    password_saved = update_fields is None or "password" in update_fields
    if raw or instance.pk is None or not password_saved:
        return
    stored = sender._default_manager.filter(pk=instance.pk).values_list("password", flat=True)
    if stored.first() not in (None, instance.password):
        api_tokens_revoke_all(user=instance)
