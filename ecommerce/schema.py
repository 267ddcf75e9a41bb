"""The OpenAPI schema, as true to the server as the server is to it.

Names: one component per serializer and one operation id per endpoint. Every API class nests
its serializers under the same few names (`InputSerializer`), and two contexts may each have a
`CreatedSerializer`: named by class alone, distinct serializers would share one component.

What every operation may answer is computed from its view, once, here: the error responses
(`error_responses`, all in the one error shape of `ecommerce.api_errors`), whether it needs a
signed-in caller (`get_auth`), whether it lists (paginated), its query parameters (the view's
`FilterSerializer`) and what its request body accepts (`request_field_schema`: what DRF's
fields accept, nothing more). A view declares only what it alone knows, such as a 409 and when
it happens: `responses={409: OpenApiResponse(description=...)}` gets the error shape here.
"""

from decimal import Decimal
from typing import Any

import uritemplate
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ComponentRegistry
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request

from ecommerce.api_errors import ErrorSerializer
from ecommerce.plain_text import refused_characters

SERVICE_OF_APP = {app: service for service, app in settings.CONTEXT_APPS.items()}

RETRY_AFTER = {
    "Retry-After": {
        "schema": {"type": "integer"},
        "description": "Seconds to wait before trying again.",
    }
}


class ContextAutoSchema(AutoSchema):
    def get_serializer_name(self, serializer: serializers.Serializer, direction: str) -> str:
        """`InventoryIncreaseApi.InputSerializer` -> `InventoryIncreaseInputSerializer`;
        a context's module-level serializer is prefixed by its service unless named after it."""
        cls = type(serializer)
        owner, _, name = cls.__qualname__.rpartition(".")
        if owner:
            return owner.removesuffix("Api") + name
        service = SERVICE_OF_APP.get(cls.__module__.partition(".")[0])
        if service and not name.lower().startswith(service):
            return service.capitalize() + name
        return name

    def _is_list_view(self, serializer: Any = None) -> bool:
        """A GET without a path variable on a generic view lists, a page at a time: its
        operation id ends in `_list` and its answer is the paginator's page of the serializer."""
        return (
            self.method == "GET"
            and isinstance(self.view, GenericAPIView)
            and not uritemplate.variables(self.path)
        )

    def get_override_parameters(self) -> list[Any]:
        """The view's `FilterSerializer`, if it has one, gives a list's query parameters."""
        parameters = list(super().get_override_parameters())
        filters = getattr(self.view, "FilterSerializer", None)
        if filters is not None and self.method == "GET":
            parameters.append(filters)
        return parameters

    def get_auth(self) -> list[dict[str, list[str]]]:
        """No security where the view's permissions let anyone in (products, inventory and
        categories are read by anyone), else the ways to sign in."""
        if self.lets_in(AnonymousUser()):
            return []
        return super().get_auth()

    def get_operation(
        self,
        path: str,
        path_regex: str,
        path_prefix: str,
        method: str,
        registry: ComponentRegistry,
    ) -> dict[str, Any] | None:
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        error_shape = self.resolve_serializer(ErrorSerializer, "response").ref
        error = {"application/json": {"schema": error_shape}}
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "query" and self.reads_empty_as_absent(parameter["name"]):
                parameter["allowEmptyValue"] = True
        responses = operation["responses"]
        for code, response in responses.items():
            if int(code) >= 400 and "content" not in response:
                response["content"] = error
        for code, description in self.error_responses(operation).items():
            responses.setdefault(str(code), {"description": description, "content": error})
            if code in (429, 503):
                responses[str(code)].setdefault("headers", RETRY_AFTER)
        return operation

    def error_responses(self, operation: dict[str, Any]) -> dict[int, str]:
        """The errors this operation may answer, whatever its view: bad input, who may call
        it, an unknown id in its path, and servers that cannot be reached."""
        errors: dict[int, str] = {}
        query = any(parameter["in"] == "query" for parameter in operation.get("parameters", []))
        if "requestBody" in operation or query:
            errors[400] = "The input is invalid: `errors` says which field and why."
        if self.view.get_authenticators():
            errors[401] = "Not signed in where that is needed, or the credentials are wrong."
        csrf = self.method not in SAFE_METHODS and any(
            isinstance(authenticator, SessionAuthentication)
            for authenticator in self.view.get_authenticators()
        )
        if csrf or not self.lets_in(signed_in_customer()):
            errors[403] = "Signed in, but not allowed (or a session's CSRF check failed)."
        if uritemplate.variables(self.path):
            errors[404] = "Nothing with that id (or not the caller's)."
        if "requestBody" in operation:
            errors[415] = "The body is not JSON."
        if self.view.get_throttles():
            errors[429] = "Too many requests from this client; try again after `Retry-After`."
        errors[503] = "The database or the message broker cannot be reached; try again."
        return errors

    def reads_empty_as_absent(self, name: str) -> bool:
        """Whether DRF reads `?name=` as no filter at all: an optional field of the view's
        `FilterSerializer` that allows neither null nor blank (DRF's rule for form input)."""
        filters = getattr(self.view, "FilterSerializer", None)
        field = filters().fields.get(name) if filters is not None else None
        return (
            field is not None
            and not field.required
            and not field.allow_null
            and not getattr(field, "allow_blank", False)
        )

    def lets_in(self, user: Any) -> bool:
        """Whether every permission of the view lets this user make this operation's request."""
        request = Request(HttpRequest())
        request.method = self.method
        request.user = user
        return all(
            permission.has_permission(request, self.view)
            for permission in self.view.get_permissions()
        )

    def _map_serializer_field(
        self, field: serializers.Field, direction: str, bypass_extensions: bool = False
    ) -> dict[str, Any] | None:
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if direction == "request" and schema is not None:
            return request_field_schema(field, schema)
        return schema

    def _map_basic_serializer(
        self, serializer: serializers.Serializer, direction: str
    ) -> dict[str, Any]:
        """A request body refuses fields it does not declare, as the API's parser does."""
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "request":
            schema["additionalProperties"] = False
        return schema


def signed_in_customer() -> Any:
    """A signed-in user who is not staff, never saved: what permissions see of a customer."""
    return get_user_model()(username="customer", is_staff=False)


def request_field_schema(field: serializers.Field, schema: dict[str, Any]) -> dict[str, Any]:
    """What the field accepts in a request body, where DRF accepts less than the type says."""
    if isinstance(field, serializers.CharField):
        return {**schema, "pattern": text_pattern(field)}
    if isinstance(field, serializers.DecimalField):
        return decimal_schema(field, schema)
    if isinstance(field, serializers.ListSerializer):
        # djangorestframework-stubs declares these as ListSerializer's arguments only, not as
        # the attributes DRF keeps them in.
        min_length: int | None = field.min_length  # type: ignore[attr-defined]
        max_length: int | None = field.max_length  # type: ignore[attr-defined]
        bounds = {"minItems": min_length or (0 if field.allow_empty else 1)}
        if max_length is not None:
            bounds["maxItems"] = max_length
        return {**schema, **bounds}
    return schema


def text_pattern(field: serializers.CharField) -> str:
    """What a DRF CharField accepts: none of the characters it refuses (`ecommerce.plain_text`)
    and one character that is not whitespace (it strips the rest), or without stripping any one
    character; drf-spectacular adds the empty string where blank is allowed. Python's `\\s` is
    the whitespace that `str.strip` removes, and Schemathesis generates from the pattern as
    Python reads it."""
    refused = refused_characters(field)
    if field.trim_whitespace and not field.allow_blank:
        return rf"^[^{refused}]*[^\s{refused}][^{refused}]*$"
    return rf"^[^{refused}]+$"


def decimal_schema(field: serializers.DecimalField, schema: dict[str, Any]) -> dict[str, Any]:
    """A decimal arrives as a JSON number (`10.5`) or a string (`"10.50"`), within its bounds
    and with at most its decimal places."""
    assert field.decimal_places is not None and field.max_whole_digits is not None, (
        "every decimal field of the API bounds its digits"
    )
    step = Decimal(1).scaleb(-field.decimal_places)
    largest = Decimal(10) ** field.max_whole_digits - step
    number: dict[str, Any] = {
        "type": "number",
        "minimum": float(field.min_value if field.min_value is not None else -largest),
        "maximum": float(field.max_value if field.max_value is not None else largest),
        "multipleOf": float(step),
    }
    meta: dict[str, Any] = {
        key: schema[key] for key in ("description", "nullable") if key in schema
    }
    if field.min_value == step and field.max_value is None:
        text = {"type": "string", "pattern": positive_decimal_pattern(field)}
        return {"anyOf": [number, text], **meta}
    return {**number, **meta}


def positive_decimal_pattern(field: serializers.DecimalField) -> str:
    """Decimal strings from the smallest step (`0.01`) up, with the field's digits."""
    places, whole = field.decimal_places, field.max_whole_digits
    assert places is not None and whole is not None, "every decimal field of the API bounds them"
    fractions = "|".join(
        "0" * zeros + "[1-9]" + rf"\d{{0,{places - zeros - 1}}}" for zeros in range(places)
    )
    return rf"^(?:[1-9]\d{{0,{whole - 1}}}(?:\.\d{{1,{places}}})?|0\.(?:{fractions}))$"


def link_created_resources(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """OpenAPI links from what names a resource to what acts on it: the id in the 201 of
    `POST /things` and in the first item of `GET /things` fill `{thingId}` of every operation
    under `/things/{thingId}`. Clients (and Schemathesis' stateful phase) follow them."""
    paths = result["paths"]
    for collection, operations in paths.items():
        targets = {
            operation["operationId"]: variable
            for path, item in paths.items()
            if path.startswith(collection + "/{")
            for variable in [path.removeprefix(collection + "/{").partition("}")[0]]
            for operation in item.values()
        }
        created = operations.get("post", {}).get("responses", {}).get("201")
        if targets and created is not None:
            created["links"] = links(targets, "$response.body#", {"id"})
        listed = operations.get("get", {}).get("responses", {}).get("200")
        if targets and listed is not None:
            item_fields = list_item_fields(result["components"]["schemas"], listed)
            listed["links"] = links(targets, "$response.body#/results/0", item_fields)
    return result


def links(targets: dict[str, str], pointer: str, fields: set[str]) -> dict[str, Any]:
    """A link to each target operation, whose path variable is the field of that name under
    `pointer` (`orderId`), else its `id`."""
    return {
        operation_id[0].upper() + operation_id[1:]: {
            "operationId": operation_id,
            "parameters": {variable: f"{pointer}/{variable if variable in fields else 'id'}"},
        }
        for operation_id, variable in targets.items()
    }


def list_item_fields(schemas: dict[str, Any], response: dict[str, Any]) -> set[str]:
    """The property names of a paginated list's items."""

    def resolve(schema: dict[str, Any]) -> dict[str, Any]:
        ref = schema.get("$ref", "")
        return schemas[ref.rpartition("/")[2]] if ref else schema

    page = resolve(response["content"]["application/json"]["schema"])
    item = resolve(page.get("properties", {}).get("results", {}).get("items", {}))
    return set(item.get("properties", {}))
