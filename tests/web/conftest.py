"""Fixtures for the web console tests: a live server over the demo data (SQLite), API
keys for every role, and a real headless Chromium driven by Playwright.

Chromium is Debian's (`scripts/system-deps.sh` installs it); Playwright's own browser
downloads are never used. A missing Chromium fails the tests, never skips them: a green
run must mean the console was exercised in a browser.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, sync_playwright

from api.apikeys import issue_key
from api.app import create_app
from api.demo import load_demo
from ledger.service import Ledger
from ledger.store.apikeys import api_key_store
from ledger.timefmt import format_time
from tests.api.live import LiveServer
from tests.ledger.support import NOW, open_test_ledger

CHROMIUM: Final = Path("/usr/bin/chromium")
CHROMIUM_ARGS: Final = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SCREENSHOTS: Final = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
VIEWPORT: Final = ViewportSize(width=1366, height=900)
HZ: Final = "hz-tea-house"
SZ: Final = "sz-electronics"

#: (key name, role, tenant scope) of the keys the console server has.
KEYS: Final[tuple[tuple[str, str, str | None], ...]] = (
    ("auditor-all", "auditor", None),
    ("legal-all", "legal", None),
    ("admin-all", "admin", None),
    ("auditor-hz", "auditor", HZ),
    ("platform-hz", "platform", HZ),
    ("auditor-revoked", "auditor", None),
)


@dataclass
class ConsoleServer:
    server: LiveServer
    ledger: Ledger
    tokens: dict[str, str]
    database_url: str

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.port}{path}"


@pytest.fixture(scope="module")
def console(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[ConsoleServer]:
    """The demo orders of both demo tenants on a live server (one per test module)."""
    directory = tmp_path_factory.mktemp("console")
    shutil.copyfile(sqlite_template, directory / "ledger.db")
    url = f"sqlite:///{directory / 'ledger.db'}"
    ledger = open_test_ledger(url, directory / "data")
    load_demo(ledger)
    store = api_key_store(ledger.recorder)
    now = format_time(NOW)
    tokens = {name: issue_key(store, name=name, role=role, tenant=tenant, now=now).token
              for name, role, tenant in KEYS}
    store.revoke("auditor-revoked", now)
    server = LiveServer(create_app(ledger.settings, ledger=ledger)).start()
    try:
        yield ConsoleServer(server, ledger, tokens, url)
    finally:
        server.stop()
        ledger.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/system-deps.sh (make test does). "
                    "The console tests fail rather than skip without a browser.",
                    pytrace=False)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile per test: no cookie leaks from one test to the next."""
    opened = browser.new_context(viewport=VIEWPORT, accept_downloads=True, locale="en-GB")
    opened.set_default_timeout(20_000)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def sign_in(page: Page, console: ConsoleServer, key: str, next_path: str = "") -> None:
    """Sign in through the form, with the keyboard (the form must work without a mouse)."""
    query = f"?next={next_path}" if next_path else ""
    page.goto(console.url(f"/console/login{query}"))
    page.fill("#api_key", console.tokens[key])
    page.press("#api_key", "Enter")
    page.wait_for_load_state()


def screenshot(page: Page, name: str, *, full_page: bool = False) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
