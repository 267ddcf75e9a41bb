import hmac
import ipaddress

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views import View
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from prometheus_client import CONTENT_TYPE_LATEST
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from outbox import metrics
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


class MetricsView(View):
    """Prometheus's scrape of the web processes: counts and gauges, no business data, but
    each scrape queries the databases and the broker, so it is not for everyone: with
    METRICS_TOKEN set it asks for that bearer token, and otherwise answers this machine only."""

    def get(self, request: HttpRequest) -> HttpResponse:
        if not metrics.enabled():
            raise Http404("metrics are off (METRICS_ENABLED=false)")
        if not scrape_allowed(request):
            return HttpResponse(
                "/metrics answers requests from this machine, or with the bearer token of "
                "METRICS_TOKEN when it is set.\n",
                status=403,
                content_type="text/plain; charset=utf-8",
            )
        return HttpResponse(metrics.web_exposition(), content_type=CONTENT_TYPE_LATEST)


def scrape_allowed(request: HttpRequest) -> bool:
    token = settings.METRICS["TOKEN"]
    if token:
        sent = request.headers.get("Authorization", "")
        return hmac.compare_digest(sent.encode(), f"Bearer {token}".encode())
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False
