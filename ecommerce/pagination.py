"""The API's pages: `?limit=&offset=`, checked like any other input."""

import re
from typing import Any

from rest_framework import exceptions
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request

WHOLE_NUMBER = re.compile(r"[0-9]+")


class CheckedLimitOffsetPagination(LimitOffsetPagination):
    """DRF's limit and offset, but a value that is no whole number in range is a 400 naming
    the parameter, where DRF would quietly serve the default page instead."""

    def get_limit(self, request: Request) -> int | None:
        limit = query_number(request, self.limit_query_param, minimum=1)
        if limit is None:
            return self.default_limit
        return min(limit, self.max_limit) if self.max_limit else limit

    def get_offset(self, request: Request) -> int:
        return query_number(request, self.offset_query_param, minimum=0) or 0

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            minimum = 1 if parameter["name"] == self.limit_query_param else 0
            parameter["schema"]["minimum"] = minimum
        return parameters


def query_number(request: Request, name: str, *, minimum: int) -> int | None:
    """The query parameter as a whole number of at least `minimum`, None when absent."""
    value = request.query_params.get(name)
    if value is None:
        return None
    if not WHOLE_NUMBER.fullmatch(value) or int(value) < minimum:
        raise exceptions.ValidationError({name: [f"Expected a whole number from {minimum} up."]})
    return int(value)
