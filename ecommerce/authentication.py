"""API token authentication (django-rest-knox tokens) that reads the token table once per token
and process, not once per request.

The table holds each token's SHA-512 digest, never the token. A web process keeps each token
it has verified, with its user, for API_TOKEN_CACHE_SECONDS in its own memory (the
`api-tokens` cache, keyed by the digest). The price is the revocation delay: a token revoked
elsewhere (signed out on another process, a password changed, a user deactivated or stripped
of staff rights) keeps working on a process that remembers it until that entry expires
(docs/architecture.md, "Identity: one shared database"). The process that revokes a token
forgets it at once, and a token's expiry is checked on every request, remembered or not.
Only tokens that the table knows are remembered, so made-up tokens neither fill the cache nor
skip the lookup.
"""

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import caches
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from knox.auth import TokenAuthentication
from knox.crypto import hash_token
from knox.models import AuthToken
from rest_framework import exceptions

TOKEN_CACHE = "api-tokens"


class CachedTokenAuthentication(TokenAuthentication):
    """knox's `Authorization: Token <token>`, each verified token remembered for a while."""

    def authenticate_credentials(self, token: bytes) -> tuple[AbstractBaseUser, AuthToken]:
        try:
            digest = hash_token(token.decode())
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        cache = caches[TOKEN_CACHE]
        auth_token = cache.get(digest)
        if auth_token is None:
            # One indexed read by the digest (the primary key), where knox's own lookup reads
            # every token sharing the token's first characters, then all of the user's tokens.
            auth_token = AuthToken.objects.select_related("user").filter(digest=digest).first()
            if auth_token is None:
                raise exceptions.AuthenticationFailed("Invalid token.")
            cache.set(digest, auth_token)
        if auth_token.expiry is not None and auth_token.expiry <= timezone.now():
            raise exceptions.AuthenticationFailed("Token expired: sign in again.")
        return self.validate_user(auth_token)


def forget_tokens(digests: Iterable[str]) -> None:
    """Drop revoked tokens from this process's memory, so that they stop working here at once."""
    caches[TOKEN_CACHE].delete_many(list(digests))


class CachedTokenScheme(OpenApiAuthenticationExtension):
    """The token in the OpenAPI document: `Authorization: Token <token>`."""

    target_class = CachedTokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: object) -> dict:
        return build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix=self.target.authenticate_header(None)
        )
