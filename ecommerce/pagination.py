"""The API's pages: `?limit=&offset=`, checked like any other input."""

import re
from typing import Any

from django.conf import settings
from rest_framework import exceptions
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request

WHOLE_NUMBER = re.compile(r"[0-9]+")
# Far past the end of any table here; it bounds a number that a client may send with any
# number of digits, which the database would refuse as an OFFSET.
MAX_OFFSET = 2_147_483_647


class CheckedLimitOffsetPagination(LimitOffsetPagination):
    """DRF's limit and offset, but a value that is no whole number in range is a 400 naming
    the parameter, where DRF would quietly serve the default page instead. A page holds at most
    API_MAX_PAGE_SIZE items."""

    def get_limit(self, request: Request) -> int | None:
        limit = query_number(
            request, self.limit_query_param, minimum=1, maximum=settings.API_MAX_PAGE_SIZE
        )
        return self.default_limit if limit is None else limit

    def get_offset(self, request: Request) -> int:
        return query_number(request, self.offset_query_param, minimum=0, maximum=MAX_OFFSET) or 0

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        bounds = {
            self.limit_query_param: (1, settings.API_MAX_PAGE_SIZE),
            self.offset_query_param: (0, MAX_OFFSET),
        }
        for parameter in parameters:
            minimum, maximum = bounds[parameter["name"]]
            parameter["schema"].update(minimum=minimum, maximum=maximum)
            if parameter["name"] == self.limit_query_param:
                parameter["description"] += (
                    f" At most {maximum}; {self.default_limit} when not given."
                )
        return parameters


def query_number(request: Request, name: str, *, minimum: int, maximum: int) -> int | None:
    """The query parameter as a whole number from `minimum` to `maximum`, None when absent."""
    value = request.query_params.get(name)
    if value is None:
        return None
    # No more digits than the maximum has: Python will not even read a number of thousands.
    digits = (value.lstrip("0") or "0") if WHOLE_NUMBER.fullmatch(value) else ""
    if not digits or len(digits) > len(str(maximum)) or not minimum <= int(digits) <= maximum:
        raise exceptions.ValidationError(
            {name: [f"Expected a whole number from {minimum} to {maximum}."]}
        )
    return int(digits)
