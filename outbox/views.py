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

from outbox.contracts.asyncapi import asyncapi_document, render
from outbox.core import metrics
from outbox.operations import gauges
from outbox.operations.health import cached_healthy, health_report


class HealthApi(APIView):
    """Up or down, with 503 when something is down; staff also get the full report (databases,
    broker, outbox backlog and dead letters), which names servers and queues, looked at afresh.
    Anyone else is answered from a short cache (outbox.operations.health.cached_healthy)."""

    permission_classes = [AllowAny]
    # A load balancer probes often from one address: a 429 would take the process out of
    # service, and the cache already makes the probe cheap.
    throttle_classes = []

    @extend_schema(responses={200: OpenApiTypes.OBJECT, 503: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        report = health_report() if request.user.is_staff else {"healthy": cached_healthy()}
        code = status.HTTP_200_OK if report["healthy"] else status.HTTP_503_SERVICE_UNAVAILABLE
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
    each scrape queries the databases and the broker, so it is not for everyone: it asks for
    the bearer token of METRICS_TOKEN, and without one it is closed (only this machine may
    scrape, and only while DEBUG is on: a proxy on the same host makes every client local)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        if not metrics.enabled():
            raise Http404("metrics are off (METRICS_ENABLED=false)")
        if refusal := scrape_refusal(request):
            return HttpResponse(refusal, status=403, content_type="text/plain; charset=utf-8")
        return HttpResponse(gauges.web_exposition(), content_type=CONTENT_TYPE_LATEST)


def scrape_refusal(request: HttpRequest) -> str | None:
    """Why `request` may not scrape /metrics, or None when it may."""
    token = settings.METRICS["TOKEN"]
    if token:
        sent = request.headers.get("Authorization", "")
        if hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
            return None
        return "/metrics asks for METRICS_TOKEN as a bearer token: Authorization: Bearer <token>\n"
    if not settings.DEBUG:
        return (
            "/metrics is closed: METRICS_TOKEN is not set. Set it, and have the scraper send it "
            "as Authorization: Bearer <token>\n"
        )
    if is_loopback(request.META.get("REMOTE_ADDR", "")):
        return None
    return "/metrics answers this machine only while DEBUG is on and METRICS_TOKEN is unset.\n"


def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
