"""Swagger UI (/api/docs) and ReDoc (/api/redoc) list the served schema's operations in a real
headless Chromium, from a real gunicorn with DEBUG off and from that server alone: every request
to another host is refused, as if the machine were offline. Their Content-Security-Policy
refuses nothing of their own."""

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.pages import PAGE_TIMEOUT_MS, OfflinePage

pytestmark = pytest.mark.processes

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def served_operations(web: str) -> list[dict]:
    """Every operation of the served schema, once for each of its tags (or once when it has
    none), as both pages list them."""
    schema = requests.get(f"{web}/api/schema", params={"format": "json"}, timeout=30).json()
    operations = [
        {"method": method.upper(), "path": path, "operationId": operation["operationId"]}
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
        for _ in operation.get("tags") or [None]
    ]
    assert operations, "the served schema has no operation to show"
    return operations


def test_swagger_ui_lists_every_operation_offline(offline_page: OfflinePage, web: str) -> None:
    expected = sorted((op["method"], op["path"]) for op in served_operations(web))
    page = offline_page.page

    page.goto("/api/docs")
    blocks = page.locator("#swagger-ui .opblock")
    expect(blocks).to_have_count(len(expected), timeout=PAGE_TIMEOUT_MS)
    shown = blocks.evaluate_all(
        """blocks => blocks.map(block => [
            block.querySelector(".opblock-summary-method").textContent,
            block.querySelector(".opblock-summary-path").dataset.path,
        ])"""
    )

    assert sorted(map(tuple, shown)) == expected
    assert offline_page.off_host() == []
    assert offline_page.csp_violations() == []
    assert f"{web}/api/schema" in offline_page.requested


def test_redoc_lists_every_operation_offline(offline_page: OfflinePage, web: str) -> None:
    expected = sorted(op["operationId"] for op in served_operations(web))
    page = offline_page.page

    page.goto("/api/redoc")
    sections = page.locator("[data-section-id^='operation/']")
    expect(sections).to_have_count(len(expected), timeout=PAGE_TIMEOUT_MS)
    shown = sections.evaluate_all(
        "sections => sections.map(section => section.dataset.sectionId.split('/').pop())"
    )

    assert sorted(shown) == expected
    assert offline_page.off_host() == []
    assert offline_page.csp_violations() == []
    assert f"{web}/api/schema" in offline_page.requested
