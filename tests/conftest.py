"""What the whole suite shares.

Settings: servers in the tests run with rate limits and the Content-Security-Policy off:
- rate limits, because tests send many requests from one address (servers they start inherit this);
- the policy, because Playwright's string predicates (page.wait_for_function("document...")) are
  evaluated with eval in the page, which script-src 'self' forbids.
The tests of those two features turn them on for their own apps and servers: tests/app/test_rate_limit.py,
tests/app/test_security_headers.py and tests/security/ (a server with the production settings).

Browser fixtures (here, not in tests/browser/, so that tests/browser and tests/security share one
Chromium: Playwright's sync API cannot run twice in one process): the real app served by uvicorn on a
free 127.0.0.1 port, driven by Debian's Chromium through Playwright. A missing or broken Chromium fails
these tests; it never skips them.
"""
from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import urlsplit

import pytest
import uvicorn
from playwright.sync_api import Browser, ConsoleMessage, Error as PlaywrightError, Page, sync_playwright

os.environ["BACKPROP_RATE_LIMIT_ENABLED"] = "false"
os.environ["BACKPROP_CONTENT_SECURITY_POLICY"] = ""

CHROMIUM_PATHS = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
LOCAL_HOST = "127.0.0.1"


@pytest.fixture(scope="session")
def live_server() -> Iterator[str]:
    from app.main import app

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((LOCAL_HOST, 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, name="live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail(f"the app did not start on {LOCAL_HOST}:{port} within 15 s")
        time.sleep(0.02)
    yield f"http://{LOCAL_HOST}:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    listener.close()


def _chromium_executable() -> str:
    for path in CHROMIUM_PATHS:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    pytest.fail("Chromium was not found at " + " or ".join(CHROMIUM_PATHS) + ": the browser tests need Debian's "
                "chromium package (apt-get install chromium); `playwright install` is not used here.")


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    executable = _chromium_executable()
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        except PlaywrightError as error:
            pytest.fail(f"Chromium at {executable} did not launch: {error}")
        yield browser
        browser.close()


@dataclass
class Probe:
    """A page plus everything it said and asked for: console errors, uncaught exceptions, requests."""

    page: Page
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(f"{message.text} ({message.location.get('url', '')})")

    def assert_clean(self, allowed_console: tuple[str, ...] = ()) -> None:
        unexpected = [text for text in self.console_errors if not any(a in text for a in allowed_console)]
        assert unexpected == [], f"console errors: {unexpected}"
        assert self.page_errors == [], f"uncaught errors in the page: {self.page_errors}"
        remote = [url for url in self.requests if urlsplit(url).hostname != LOCAL_HOST]
        assert remote == [], f"requests that leave the machine: {remote}"
        assert self.requests, "the page made no requests at all"


@pytest.fixture
def open_page(chromium: Browser, live_server: str) -> Iterator[Callable[..., Probe]]:
    """open_page(path="/", width=1280, locale="en-US") -> a Probe on a fresh browser context."""
    contexts = []

    def open_(path: str = "/", *, width: int = 1280, height: int = 900, locale: str = "en-US") -> Probe:
        context = chromium.new_context(viewport={"width": width, "height": height}, locale=locale,
                                       device_scale_factor=1)
        contexts.append(context)
        page = context.new_page()
        probe = Probe(page)
        page.on("console", probe._console)
        page.on("pageerror", lambda error: probe.page_errors.append(str(error)))
        page.on("request", lambda request: probe.requests.append(request.url))
        page.goto(live_server + path)
        return probe

    yield open_
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
