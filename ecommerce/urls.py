"""URLs: each served context's API at the root, as the demo calls it, plus admin and OpenAPI."""

import uuid

from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_update
from django.conf import settings
from django.contrib import admin
from django.urls import include, path, register_converter
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from ecommerce.sign_in import SignInApi, SignOutApi
from outbox.operations.admin_page import OperationsView
from outbox.views import AsyncApiDocument, HealthApi, MetricsView


class HexUuidConverter:
    """A UUID written as 32 hex digits (as the API returns ids) or with dashes."""

    regex = "[0-9a-fA-F]{32}|[0-9a-fA-F-]{36}"

    def to_python(self, value: str) -> str:
        # A ValueError (36 characters of hex and dashes that are no UUID) makes Django answer 404.
        return uuid.UUID(value).hex

    def to_url(self, value: uuid.UUID | str) -> str:
        return uuid.UUID(str(value)).hex


register_converter(HexUuidConverter, "hex_uuid")

urlpatterns = [
    *(path("", include(f"{app}.urls")) for app in settings.SERVED_APPS),
    path("auth/token", SignInApi.as_view(), name="auth-token"),
    path("auth/logout", SignOutApi.as_view(), name="auth-logout"),
    path("health", HealthApi.as_view(), name="health"),
    path("metrics", MetricsView.as_view(), name="metrics"),
    path(
        "admin/operations/",
        admin.site.admin_view(OperationsView.as_view()),
        name="admin-operations",
    ),
    path("admin/", admin.site.urls),
    path("api/schema", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI's start script is served apart (?script), not inline, and its page's style
    # comes from a file: the Content-Security-Policy (settings) lets both in.
    path(
        "api/docs",
        SpectacularSwaggerSplitView.as_view(
            url_name="schema", template_name="ecommerce/swagger_ui.html"
        ),
        name="docs",
    ),
    # ReDoc writes its styles into <style> elements as it renders, and runs its search in a
    # worker made from a blob: this page alone allows both. Its scripts stay this server's own.
    path(
        "api/redoc",
        csp_update({"style-src": [UNSAFE_INLINE], "worker-src": [SELF, "blob:"]})(
            SpectacularRedocView.as_view(url_name="schema", template_name="ecommerce/redoc.html")
        ),
        name="redoc",
    ),
    path("api/asyncapi.json", AsyncApiDocument.as_view(kind="json"), name="asyncapi-json"),
    path("api/asyncapi.yaml", AsyncApiDocument.as_view(kind="yaml"), name="asyncapi-yaml"),
]

# A path that matches no URL (404), a request refused before any view (400: a bad Host header,
# an oversized body), and any request that fails outside an API view or with an error the API
# does not know, answer in the API's error shape too (503 while the database or the broker is
# unreachable).
handler400 = "ecommerce.api_errors.bad_request"
handler500 = "ecommerce.api_errors.server_error"
handler404 = "ecommerce.api_errors.page_not_found"
