"""The API's JSON body: camelCase in, and only what the endpoint's input serializer declares.

DRF's serializers ignore fields they do not know and coerce values of other JSON types (a
number where a name is due becomes "5", "5" where a count is due becomes 5). The OpenAPI
schema promises less: a request body has the declared fields only, each of its JSON type. So
the parser refuses, with a 400 naming each field, whatever the view's `InputSerializer`
(nested serializers included) does not declare or types otherwise. A decimal may be a JSON
number or a string (`10.5`, `"10.50"`), as the schema says. Text with a control character is
refused too, naming the field and the character (`ecommerce.plain_text` says which). Views
without an `InputSerializer` get the body as parsed.
"""

import functools
from typing import Any

from djangorestframework_camel_case.parser import CamelCaseJSONParser
from rest_framework import exceptions, serializers

from ecommerce.plain_text import control_character_error

# The JSON types a field accepts, by field class (the first match wins); a field of another
# class is left to its own validation, and null to `allow_null`. Types of `type[Any]`, not
# `type`: a value found an instance of one of them stays Any, like the JSON it was parsed from,
# instead of becoming `object`.
JSON_TYPES: list[tuple[type[serializers.Field], tuple[type[Any], ...], str]] = [
    (serializers.BooleanField, (bool,), "a boolean"),
    (serializers.IntegerField, (int,), "an integer"),
    (serializers.DecimalField, (int, float, str), "a number"),
    (serializers.FloatField, (int, float), "a number"),
    (serializers.CharField, (str,), "a string"),
    (serializers.UUIDField, (str,), "a string"),
    (serializers.DateTimeField, (str,), "a string"),
    (serializers.DateField, (str,), "a string"),
    (serializers.ChoiceField, (str,), "a string"),
    (serializers.ListField, (list,), "a list"),
    (serializers.ListSerializer, (list,), "a list"),
    (serializers.Serializer, (dict,), "an object"),
]


class StrictCamelCaseJSONParser(CamelCaseJSONParser):
    def parse(
        self, stream: Any, media_type: str | None = None, parser_context: dict | None = None
    ) -> Any:
        data = super().parse(stream, media_type, parser_context)
        input_serializer = getattr((parser_context or {}).get("view"), "InputSerializer", None)
        if input_serializer is not None and isinstance(data, dict):
            errors = undeclared(declared_shape(input_serializer), data)
            if errors:
                raise exceptions.ValidationError(errors)
        return data


@functools.cache
def declared_shape(serializer_class: type[serializers.Serializer]) -> serializers.Serializer:
    """An instance of the input serializer whose fields are read, never bound to data: built
    once per class, since building a serializer's fields copies every declared field, nested
    ones included, which costs as much as validating the body."""
    return serializer_class()


def undeclared(serializer: serializers.Serializer, data: dict[str, Any]) -> dict[str, Any]:
    """Each field of `data` that `serializer` does not declare, or declares of another JSON
    type, with what is wrong, nested as DRF nests its errors."""
    errors: dict[str, Any] = {}
    for name, value in data.items():
        field = serializer.fields.get(name)
        if field is None or field.read_only:
            errors[name] = ["Unknown field."]
        elif (error := wrong_type(field, value)) is not None:
            errors[name] = error
    return errors


def wrong_type(field: serializers.Field, value: Any) -> Any:
    """What is wrong with the JSON type of `value` for `field` (or inside it), or with the
    characters of a text, or None."""
    if value is None:
        return None
    accepted, expected = json_types_of(field)
    if not isinstance(value, accepted) or (isinstance(value, bool) and bool not in accepted):
        return [f"Expected {expected}, got {json_type(value)}."]
    if isinstance(field, serializers.CharField):
        error = control_character_error(field, value)
        return [error] if error else None
    if isinstance(field, serializers.Serializer):
        return undeclared(field, value) or None
    if isinstance(field, serializers.ListSerializer) and isinstance(
        field.child, serializers.Serializer
    ):
        items = [undeclared(field.child, item) if isinstance(item, dict) else {} for item in value]
        return items if any(items) else None
    return None


def json_types_of(field: serializers.Field) -> tuple[tuple[type[Any], ...], str]:
    """The Python types of the JSON values the field accepts, and their name; any for a field
    of a class not listed."""
    for kind, accepted, expected in JSON_TYPES:
        if isinstance(field, kind):
            return accepted, expected
    return (object,), "anything"


def json_type(value: Any) -> str:
    """The JSON name of a parsed value's type."""
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}
    names |= {list: "a list", dict: "an object"}
    return names.get(type(value), type(value).__name__)
