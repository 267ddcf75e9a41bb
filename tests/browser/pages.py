"""A page of a headless Chromium that reaches the test server alone and records what its
Content-Security-Policy refuses."""

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from playwright.sync_api import Page

# Debian's package, installed by scripts/browser.sh: Playwright downloads no browser here.
CHROMIUM = "/usr/bin/chromium"
# Pages parse a megabyte of JavaScript, on a machine that may be busy with other tests.
PAGE_TIMEOUT_MS = 60_000
# Chromium's console message for anything a page's Content-Security-Policy refused.
CSP_VIOLATION = "Content Security Policy"


@dataclass
class OfflinePage:
    """A page that reaches only the test server: it records every request that leaves the
    browser and aborts those to any other host (one that the page's own Content-Security-Policy
    refuses never leaves it)."""

    page: Page
    server: str
    requested: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)

    def off_host(self) -> list[str]:
        return [url for url in self.requested if urlsplit(url).netloc != self.server]

    def csp_violations(self) -> list[str]:
        """What the page's Content-Security-Policy refused of its own: inline code, styles or
        anything from this server. Refusing what another host serves is the policy at work."""
        return [
            message
            for message in self.console
            if CSP_VIOLATION in message
            and not any(
                urlsplit(url).netloc != self.server
                for url in re.findall(r"'(https?://[^']+)'", message)
            )
        ]
