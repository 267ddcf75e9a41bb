"""Signing in for an API token, throttled: django-axes counts failures in the database, so the
count holds across web processes and services.

After SIGN_IN_FAILURE_LIMIT wrong passwords for one username from one address, that pair is
refused, even with the right password, with a 429 whose Retry-After says when to try again;
each further try restarts the cool-off. A successful sign-in clears the count.
"""

from axes.helpers import get_cool_off
from django.contrib.auth.signals import user_logged_in
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings


class SignInApi(ObtainAuthToken):
    """`POST /auth/token` {username, password}: the user's token, or 400, or 429 when locked."""

    # JSON like every other endpoint, held to its serializer by the API's parser.
    InputSerializer = AuthTokenSerializer
    parser_classes = api_settings.DEFAULT_PARSER_CLASSES

    @extend_schema(
        request=InputSerializer,
        responses={
            200: inline_serializer("Token", {"token": serializers.CharField()}),
            400: OpenApiResponse(description="A field missing, or a wrong username or password."),
            429: OpenApiResponse(description="Too many failed sign-ins: locked for a while."),
        },
    )
    def post(self, request: Request, *args: object, **kwargs: object) -> Response:
        serializer = self.get_serializer(data=request.data)
        try:
            serializer.is_valid(raise_exception=True)
        except exceptions.ValidationError:
            # Set by axes on the request it was given while it counted this failure.
            if getattr(request, "axes_locked_out", False):
                raise exceptions.Throttled(
                    wait=get_cool_off(request).total_seconds(),
                    detail="Too many failed sign-ins for this username from this address.",
                ) from None
            raise
        user = serializer.validated_data["user"]
        # What a session sign-in sends: axes clears the user's failures, Django notes the time.
        user_logged_in.send(sender=type(user), request=request, user=user)
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})
