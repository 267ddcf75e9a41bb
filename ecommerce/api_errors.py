"""One JSON error shape for every endpoint.

    {"message": "count: Ensure this value is greater than or equal to 1.",
     "errors": {"items[0].count": ["Ensure this value is greater than or equal to 1."]}}

`message` reads on its own; `errors` maps each offending field (camelCase, as sent) to what is
wrong with it, and is empty for errors that are not about one field.

While the database or the broker cannot be reached, a request answers 503 in this shape with
`Retry-After`, whether it failed in an API view (`exception_handler`) or anywhere else, such as
an admin page or a middleware (`server_error`, Django's handler500). Whatever the request had
written rolls back with its transaction.
"""

import sys
from typing import Any

import kombu.exceptions
from django import db
from django.conf import settings
from django.core.exceptions import DisallowedHost, ObjectDoesNotExist, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, JsonResponse
from djangorestframework_camel_case.util import camelize
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from outbox.core.aggregates import StateConflict

# Seconds a client is told to wait before it tries again while a server is unreachable.
RETRY_AFTER_SECONDS = 5
UNAVAILABLE = {
    db.OperationalError: "The database cannot be reached; try again shortly.",
    db.InterfaceError: "The database cannot be reached; try again shortly.",
    kombu.exceptions.OperationalError: "The message broker cannot be reached; try again shortly.",
}


class ErrorSerializer(serializers.Serializer):
    """The error shape, as the OpenAPI schema declares it for every error response."""

    message = serializers.CharField()
    # A field named like Serializer.errors: DRF's metaclass moves declared fields into
    # _declared_fields, so the class keeps the property that the stubs see overridden.
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField())
    )


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class Unavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "unavailable"


def unavailable_reason(exc: BaseException | None) -> str | None:
    """What a client is told when `exc` means a server of ours is unreachable, else None."""
    return next((reason for kind, reason in UNAVAILABLE.items() if isinstance(exc, kind)), None)


def server_error(request: HttpRequest) -> JsonResponse:
    """Django's handler500, in the API's error shape: 503 with Retry-After when a server is
    unreachable. Django calls it while it handles the exception, which sys.exc_info holds."""
    reason = unavailable_reason(sys.exc_info()[1])
    if reason is None:
        return JsonResponse({"message": "Internal server error.", "errors": {}}, status=500)
    response = JsonResponse({"message": reason, "errors": {}}, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def bad_request(request: HttpRequest, exception: Exception) -> JsonResponse:
    """Django's handler400 (a request refused before any view: a Host header not in
    ALLOWED_HOSTS, a body over DATA_UPLOAD_MAX_MEMORY_SIZE), in the API's error shape. The
    message is fixed, as Django's own page is: the refused header is not echoed back."""
    if isinstance(exception, DisallowedHost):
        message = "The Host header names no host this server answers to."
    elif isinstance(exception, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        message = f"The request body is larger than the {limit} bytes this server accepts."
    else:
        message = "Bad request."
    return JsonResponse({"message": message, "errors": {}}, status=400)


def page_not_found(request: HttpRequest, exception: Exception) -> JsonResponse:
    """Django's handler404 (a path that no URL matches, such as an id that is no UUID), in the
    API's error shape."""
    return JsonResponse({"message": "Not found.", "errors": {}}, status=404)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Turn domain and framework errors into a 4xx response of the shape above, and an
    unreachable database or broker into a 503."""
    response = drf_exception_handler(as_api_exception(exc), context)
    if response is None:
        return None
    if isinstance(exc, tuple(UNAVAILABLE)):
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    # DRF's own errors carry one text under `detail`; a field named `detail` (an address's)
    # carries a list of them.
    if (
        isinstance(response.data, dict)
        and set(response.data) == {"detail"}
        and isinstance(response.data["detail"], str)
    ):
        response.data = {"message": str(response.data["detail"]), "errors": {}}
        return response
    errors = dict(flatten(camelize(response.data)))
    summary = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in errors.items())
    response.data = {"message": summary or "Invalid input.", "errors": errors}
    return response


def as_api_exception(exc: Exception) -> Exception:
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        return exceptions.ValidationError(detail)
    if isinstance(exc, ObjectDoesNotExist):
        model = type(exc).__qualname__.removesuffix(".DoesNotExist")
        return exceptions.NotFound(f"{model} not found.")
    if isinstance(exc, StateConflict):
        return Conflict(str(exc))
    if reason := unavailable_reason(exc):
        return Unavailable(reason)
    return exc


def flatten(detail: Any, path: str = "") -> list[tuple[str, list[str]]]:
    """Field errors as (dotted path, messages) pairs, with list indexes as `[n]`."""
    if isinstance(detail, dict):
        return [pair for key, value in detail.items() for pair in flatten(value, join(path, key))]
    if isinstance(detail, list) and any(isinstance(item, (dict, list)) for item in detail):
        return [
            pair
            for index, item in enumerate(detail)
            if item
            for pair in flatten(item, join(path, index))
        ]
    messages = [str(item) for item in detail] if isinstance(detail, list) else [str(detail)]
    return [(path or "input", messages)]


def join(path: str, key: str | int) -> str:
    """`items` + 0 -> `items[0]`; `items[0]` + `count` -> `items[0].count`."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    if key in {"nonFieldErrors", "non_field_errors"}:
        return path
    return f"{path}.{key}" if path else key
