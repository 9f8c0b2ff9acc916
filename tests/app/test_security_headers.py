"""Security headers on every response: pages, API answers, errors, static files, event streams, redirects.

An app with the production policy (the suite's own servers run without one: see tests/conftest.py)."""
from __future__ import annotations

import re

import pytest

from app.main import create_app
from app.paths import TEMPLATES_DIR
from app.settings import Settings

from .conftest import WORKED_EXAMPLE, TestClient

POLICY = Settings.model_fields["content_security_policy"].default  # whatever the environment says
EXPECTED = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer", "x-frame-options": "DENY"}


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(create_app(Settings(content_security_policy=POLICY, rate_limit_enabled=False)),
                      raise_server_exceptions=False)


def directives(policy: str) -> dict[str, list[str]]:
    return {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}


def assert_secured(response) -> None:
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, (name, response.status_code, response.headers)
    policy = directives(response.headers["content-security-policy"])
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["default-src"] == ["'self'"] and policy["object-src"] == ["'none'"]


@pytest.mark.parametrize("method, path, body, status", [
    ("GET", "/", None, 200),
    ("GET", "/network", None, 200),
    ("GET", "/descent", None, 200),
    ("GET", "/static/js/api.js", None, 200),
    ("GET", "/static/nope.js", None, 404),
    ("GET", "/api/v1/health", None, 200),
    ("GET", "/openapi.json", None, 200),
    ("POST", "/api/v1/trace", WORKED_EXAMPLE, 200),
    ("POST", "/api/v1/trace", {"source": "x +"}, 422),
    ("PUT", "/api/v1/trace", None, 405),
    ("GET", "/api/v1/rooms/ABCDEF", None, 404),
    ("GET", "/join/ABCDEF", None, 303),
])
def test_every_kind_of_response_carries_the_headers(client, method, path, body, status):
    response = client.request(method, path, json=body, follow_redirects=False)
    assert response.status_code == status
    assert_secured(response)


def test_refusals_made_before_the_app_carry_them_too(client):
    too_big = client.post("/api/v1/trace", content=b"x", headers={"content-type": "application/json",
                                                                   "content-length": str(10**9)})
    not_json = client.post("/api/v1/trace", content=b"source=x", headers={"content-type": "text/plain"})
    assert (too_big.status_code, not_json.status_code) == (413, 415)
    assert_secured(too_big)
    assert_secured(not_json)


def test_an_event_stream_carries_them(client):
    body = {"layers": [{"units": 2}, {"units": 1}], "loss": "bce", "data": {"dataset": "xor", "points": 20},
            "iterations": 2}
    with client.stream("POST", "/api/v1/network/train/stream", json=body) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert_secured(response)
        response.read()


def test_no_inline_script_no_unsafe_keyword_and_nothing_from_another_origin(client):
    policy = client.get("/").headers["content-security-policy"]
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    for sources in directives(policy).values():
        assert all(source.startswith("'") or source in ("data:", "blob:") for source in sources), sources


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/docs/oauth2-redirect"])
def test_the_api_documentation_may_load_its_viewer_from_jsdelivr_and_nothing_else(client, path):
    response = client.get(path)
    assert response.status_code == 200
    policy = directives(response.headers["content-security-policy"])
    assert policy["script-src"] == ["'self'", "'unsafe-inline'", "https://cdn.jsdelivr.net"]
    assert policy["frame-ancestors"] == ["'none'"] and response.headers["x-content-type-options"] == "nosniff"
    scripts = re.findall(r'<script src="([^"]+)"', response.text)
    assert all(src.startswith("https://cdn.jsdelivr.net/") for src in scripts), scripts


def test_the_policy_is_a_setting_and_empty_sends_none():
    client = TestClient(create_app(Settings(content_security_policy="", rate_limit_enabled=False)))
    response = client.get("/")
    assert "content-security-policy" not in response.headers
    assert response.headers["x-content-type-options"] == "nosniff"
    custom = TestClient(create_app(Settings(content_security_policy="default-src 'none'", rate_limit_enabled=False)))
    assert custom.get("/").headers["content-security-policy"] == "default-src 'none'"


@pytest.mark.parametrize("template", sorted(TEMPLATES_DIR.glob("*.html")), ids=lambda path: path.name)
def test_templates_hold_nothing_the_policy_would_block(template):
    """No inline script, no inline handler, no style attribute, nothing loaded from elsewhere."""
    html = template.read_text()
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert re.search(r'\bsrc="/static/', tag), f"inline or foreign script: {tag}"
    assert not re.search(r"\son[a-z]+\s*=", html), "an inline event handler"
    assert not re.search(r"\sstyle\s*=", html), "a style attribute"
    assert not re.search(r"<style\b", html), "a style element"
    assert not re.search(r'(src|href)="(https?:)?//', html), "something from another origin"
