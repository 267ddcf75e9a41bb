"""API token authentication that reads the token table once per token and process, not once
per request.

A web process keeps each token it has verified, with its user, for API_TOKEN_CACHE_SECONDS in
its own memory (the `api-tokens` cache). The price is the revocation delay: a deleted token, or
a user deactivated or stripped of staff rights, keeps working on a process that remembers it
until that entry expires (docs/architecture.md, "Identity: one shared database"). Only tokens
that the table knows are remembered, so made-up tokens neither fill the cache nor skip the
lookup.
"""

import hashlib

from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import caches
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

TOKEN_CACHE = "api-tokens"


class CachedTokenAuthentication(TokenAuthentication):
    """DRF's `Authorization: Token <key>`, each verified token remembered for a while."""

    def authenticate_credentials(self, key: str) -> tuple[AbstractBaseUser, Token]:
        cache = caches[TOKEN_CACHE]
        # The key is the client's text: hashed, it is a valid cache key whatever it holds,
        # and the cache holds no usable token.
        cache_key = hashlib.sha256(key.encode()).hexdigest()
        token = cache.get(cache_key)
        if token is None:
            user, token = super().authenticate_credentials(key)
            cache.set(cache_key, token)
        return token.user, token
