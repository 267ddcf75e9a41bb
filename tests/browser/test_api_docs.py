"""Swagger UI (/api/docs) and ReDoc (/api/redoc) list the served schema's operations in a real
headless Chromium, from a real gunicorn with DEBUG off and from that server alone: every request
to another host is refused, as if the machine were offline."""

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
import requests
from django.conf import settings
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright

from conftest import Processes, database_url, free_port
from tests.waiting import wait_until

# Debian's package, installed by scripts/browser.sh: Playwright downloads no browser here.
CHROMIUM = "/usr/bin/chromium"
# Both pages parse a megabyte of JavaScript, on a machine that may be busy with other tests.
PAGE_TIMEOUT_MS = 60_000
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@pytest.fixture(scope="module")
def web(django_db_setup: None) -> Iterator[str]:
    """A real gunicorn serving the project on the test database, as `make up` runs it; its URL."""
    url = f"http://127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "DJANGO_DEBUG": "false",
        "DATABASE_URL": database_url(settings.DATABASES["default"]),
    }
    processes = Processes(env)
    process = processes.start(
        "docs-web",
        sys.executable, "-m", "gunicorn", "ecommerce.wsgi:application",
        "--bind", url.removeprefix("http://"), "--workers", "1", "--no-control-socket",
    )  # fmt: skip

    def answers() -> bool:
        assert process.poll() is None, f"gunicorn exited with {process.returncode}"
        try:
            # A page that needs neither the database nor the broker to answer.
            return requests.get(f"{url}/api/docs", timeout=5).status_code == 200
        except requests.ConnectionError:
            return False

    try:
        wait_until(answers, timeout=60, what=f"gunicorn answering at {url}")
        yield url
    finally:
        processes.stop_all()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class OfflinePage:
    """A page that reaches only the test server: it records every request that leaves the
    browser and aborts those to any other host (one that the page's own Content-Security-Policy
    refuses never leaves it)."""

    page: Page
    server: str
    requested: list[str] = field(default_factory=list)

    def off_host(self) -> list[str]:
        return [url for url in self.requested if urlsplit(url).netloc != self.server]


@pytest.fixture
def offline_page(browser: Browser, web: str) -> Iterator[OfflinePage]:
    context = browser.new_context(base_url=web)
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    offline = OfflinePage(context.new_page(), server=urlsplit(web).netloc)

    def only_the_server(route: Route) -> None:
        offline.requested.append(route.request.url)
        if urlsplit(route.request.url).netloc == offline.server:
            route.continue_()
        else:
            route.abort("internetdisconnected")

    context.route("**/*", only_the_server)
    try:
        yield offline
    finally:
        context.close()


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
    assert f"{web}/api/schema" in offline_page.requested
