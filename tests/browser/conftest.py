"""A real gunicorn with DEBUG off, as `make up` runs it, and a headless Chromium that reaches
that server alone (every request to another host is refused, as if the machine were offline)
and records each Content-Security-Policy violation its pages report."""

import os
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from playwright.sync_api import Browser, ConsoleMessage, Route, sync_playwright

from conftest import Processes, database_url
from tests.browser.pages import CHROMIUM, PAGE_TIMEOUT_MS, OfflinePage


@pytest.fixture(scope="module")
def web(django_db_setup: None) -> Iterator[str]:
    """A real gunicorn serving the project on the test database, as `make up` runs it; its URL."""
    env = {
        **os.environ,
        "DJANGO_DEBUG": "false",
        "DATABASE_URL": database_url(settings.DATABASES["default"]),
    }
    processes = Processes(env)
    try:
        yield processes.start_web("docs-web", "--workers", "1")
    finally:
        processes.stop_all()


# One per test: Playwright's event loop runs in this thread while the browser is open, and
# Django refuses the ORM there, so a test's database work happens before and after it.
@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def offline_page(browser: Browser, web: str) -> Iterator[OfflinePage]:
    context = browser.new_context(base_url=web)
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    offline = OfflinePage(context.new_page(), server=urlsplit(web).netloc)

    def record(message: ConsoleMessage) -> None:
        offline.console.append(message.text)

    offline.page.on("console", record)

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
