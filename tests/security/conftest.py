"""The security suite: its own live server with the production policy and headers (rate limits off, so
that hundreds of requests from one address are answered), Chromium from the browser tests, a raw
HTTP client, and pages watched for dialogs and Content-Security-Policy violations."""
from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import pytest
import uvicorn
from playwright.sync_api import Browser

from app.classroom.rooms import Classroom
from app.main import create_app
from app.settings import Settings
from tests.conftest import LOCAL_HOST, Probe

from .wire import Wire

POLICY = Settings.model_fields["content_security_policy"].default  # the production default, whatever the env


@pytest.fixture(scope="session")
def secure_server() -> Iterator[str]:
    settings = Settings(rate_limit_enabled=False, content_security_policy=POLICY, redis_url=None, max_rooms=100_000)
    app = create_app(settings)
    app.state.classroom = Classroom.from_settings(settings)  # rooms in memory, room for every test's own
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((LOCAL_HOST, 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, name="secure-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the app did not start within 15 s")
        time.sleep(0.02)
    yield f"http://{LOCAL_HOST}:{listener.getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=10)
    listener.close()


@pytest.fixture(scope="session")
def wire(secure_server: str) -> Wire:
    return Wire.to(secure_server)


@pytest.fixture(autouse=True)
def still_serving(request: pytest.FixtureRequest) -> Iterator[None]:
    """After every test that spoke to the server: it still answers, and still computes the worked example."""
    yield
    if "wire" in request.fixturenames:
        request.getfixturevalue("wire").assert_still_serving()


@pytest.fixture
def room(wire: Wire) -> Iterator[dict[str, Any]]:
    """A live classroom room (its code and presenter key), ended after the test."""
    answer = wire.post("/api/v1/rooms", {"page": "explorer"})
    assert answer.status == 201, str(answer)
    yield answer.json()
    wire.send("DELETE", f"/api/v1/rooms/{answer.json()['code']}", None,
              {"X-Presenter-Key": answer.json()["presenter_key"]})


# Runs in every page before the page's own scripts: collects CSP violations.
WATCH = """
window.__violations = [];
document.addEventListener('securitypolicyviolation',
                          (e) => window.__violations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}`));
"""


@dataclass
class Watched(Probe):
    """A Probe that also saw every dialog (dismissed at once) and every CSP violation of its page."""
    dialogs: list[str] = field(default_factory=list)

    def violations(self) -> list[str]:
        return self.page.evaluate("() => window.__violations")


@pytest.fixture
def open_watched(chromium: Browser, secure_server: str) -> Iterator[Callable[..., Watched]]:
    """open_watched(path) -> a Watched page, once the page is loaded and its requests have settled."""
    contexts = []

    def open_(path: str, *, width: int = 1280, height: int = 900) -> Watched:
        context = chromium.new_context(viewport={"width": width, "height": height}, locale="en-US",
                                       accept_downloads=True)
        contexts.append(context)
        context.add_init_script(WATCH)
        page = context.new_page()
        probe = Watched(page)
        page.on("console", probe._console)
        page.on("pageerror", lambda error: probe.page_errors.append(str(error)))
        page.on("request", lambda request: probe.requests.append(request.url))
        page.on("dialog", lambda dialog: (probe.dialogs.append(dialog.message), dialog.dismiss()))
        page.goto(secure_server + path)
        page.wait_for_load_state("networkidle")
        return probe

    yield open_
    for context in contexts:
        context.close()
