"""Signing in for an API token, throttled, and signing out.

django-axes counts failures in the database, so the counts hold across web processes and
services. After SIGN_IN_FAILURE_LIMIT wrong passwords for one username from one address, that
pair is refused, even with the right password, with a 429 whose Retry-After says when to try
again; after SIGN_IN_ADDRESS_FAILURE_LIMIT failures from one address, whatever the usernames,
so is every sign-in from it. Each further try restarts the cool-off. A successful sign-in
clears its own username's count from that address.
"""

from typing import Any

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_cool_off, get_failure_limit
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.signals import user_logged_in
from django.db.models import Sum
from django.http import HttpRequest
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ecommerce.authentication import CachedTokenAuthentication
from ecommerce.tokens import api_token_create, api_token_revoke


class SignInFailureHandler(AxesDatabaseHandler):
    """Axes's database handler with a second, higher limit: the failures from one address,
    whatever the usernames, so that trying many usernames from one address is locked too."""

    # Axes's own way, several AXES_LOCKOUT_PARAMETERS, holds every group to the one
    # AXES_FAILURE_LIMIT, and a successful sign-in would clear the whole address's count.
    def get_failures(self, request: HttpRequest, credentials: dict | None = None) -> int:
        failures = super().get_failures(request, credentials)
        # Axes's proxy handler sets axes_ip_address on the request before it asks a handler.
        from_address = AccessAttempt.objects.filter(
            ip_address=request.axes_ip_address,  # type: ignore[attr-defined]
            attempt_time__gte=get_cool_off_threshold(request),
        ).aggregate(total=Sum("failures_since_start"))["total"]
        if (from_address or 0) >= settings.SIGN_IN_ADDRESS_FAILURE_LIMIT:
            # Axes compares one count with one limit: a locked address counts as at the limit.
            return max(failures, get_failure_limit(request, credentials))
        return failures


class SignInApi(APIView):
    """`POST /auth/token` {username, password}: a new token and its expiry, or 400, or 429
    when locked."""

    authentication_classes: list = []
    permission_classes: list = []
    # Failed sign-ins are throttled by axes, across processes; successful ones never are.
    throttle_classes: list = []

    class InputSerializer(serializers.Serializer):
        username = serializers.CharField()
        password = serializers.CharField(
            trim_whitespace=False, write_only=True, style={"input_type": "password"}
        )

    class OutputSerializer(serializers.Serializer):
        token = serializers.CharField(
            help_text="Send as `Authorization: Token <token>`; it is shown only this once."
        )
        expiry = serializers.DateTimeField(help_text="When the token stops working.")

    @extend_schema(
        request=InputSerializer,
        responses={
            200: OutputSerializer,
            400: OpenApiResponse(description="A field missing, or a wrong username or password."),
            429: OpenApiResponse(description="Too many failed sign-ins: locked for a while."),
        },
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = authenticate(request=request, **serializer.validated_data)
        if user is None:
            # Set by axes on the request it was given while it counted this failure.
            if getattr(request, "axes_locked_out", False):
                raise exceptions.Throttled(
                    wait=get_cool_off(request).total_seconds(),
                    detail="Too many failed sign-ins from this address: try again later.",
                )
            raise exceptions.ValidationError("Unable to sign in with that username and password.")
        # What a session sign-in sends: axes clears the user's failures, Django notes the time.
        user_logged_in.send(sender=type(user), request=request, user=user)
        auth_token, token = api_token_create(user=user)
        return Response(self.OutputSerializer({"token": token, "expiry": auth_token.expiry}).data)


class SignOutApi(APIView):
    """`POST /auth/logout` with a token: that token stops working (204); the user's others
    do not."""

    # Only a token is signed out here: a session ends at the admin's own sign-out.
    authentication_classes = [CachedTokenAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=None,
        responses={
            204: OpenApiResponse(description="The token is revoked."),
            401: OpenApiResponse(description="No token, or one that does not work."),
        },
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        api_token_revoke(token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)
