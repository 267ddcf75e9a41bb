from django.http import HttpRequest, HttpResponse
from django.views import View
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from outbox.asyncapi import asyncapi_document, render
from outbox.health import health_report


class HealthApi(APIView):
    """Up or down, with 503 when something is down; staff also get the full report (databases,
    broker, outbox backlog and dead letters), which names servers and queues."""

    permission_classes = [AllowAny]

    @extend_schema(responses={200: OpenApiTypes.OBJECT, 503: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        report = health_report()
        code = status.HTTP_200_OK if report["healthy"] else status.HTTP_503_SERVICE_UNAVAILABLE
        if not request.user.is_staff:
            report = {"healthy": report["healthy"]}
        return Response(report, status=code)


class AsyncApiDocument(View):
    """The AsyncAPI document of the events, public like the OpenAPI schema; a plain Django view
    so that the API's camelCase renderer leaves its keys as AsyncAPI spells them."""

    kind: str = "json"
    content_types = {"json": "application/json", "yaml": "application/yaml"}

    def get(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse(
            render(asyncapi_document(), self.kind),
            content_type=f"{self.content_types[self.kind]}; charset=utf-8",
        )
