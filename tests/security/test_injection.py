"""Injection attempts in every string field, path, header and query, and path traversal against /static.

Nothing here is executed or interpreted: programs are parsed by the expression grammar (no eval),
nothing reaches a shell, a database or a template, and the pages take user text through textContent.
Each attempt is refused with a 4xx in the envelope within 100 ms, or, in a field that is free text
(a label, a prompt, the teacher's page state), kept as the text it is and answered as JSON.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from .fields import KEY, Field, Operation, operations, target, with_key, with_value
from .wire import assert_refused

MARKER = Path(tempfile.gettempdir()) / f"bpx-injected-{os.getpid()}"

INJECTIONS = [
    # SQL-ish
    "' OR '1'='1' --", "1; DROP TABLE rooms; --", "\" UNION SELECT * FROM users --",
    # shell-ish (each would create MARKER if anything ran it)
    f"$(touch {MARKER})", f"`touch {MARKER}`", f"; touch {MARKER} #", f"| touch {MARKER}", f"&& touch {MARKER}",
    # templates
    "{{7*7}}", "${7*7}", "{% print(7*7) %}", "#{7*7}", "<%= 7*7 %>",
    # HTML and script
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "\"><svg onload=alert(1)>", "javascript:alert(1)",
    # Python, paths, bytes
    "__import__('os').system('id')", "../../../../etc/passwd", "%00", "\x00", "\u202e\u0000\ufeff",
]

OPERATIONS = operations()


def string_fields() -> list[Any]:
    return [pytest.param(operation, field, id=f"{operation.label} {field.name}")
            for operation in OPERATIONS for field in operation.fields if field.kind == "string"]


def free_text(field: Field) -> bool:
    """A field that takes any text: neither a pattern, nor a list of choices, nor a program."""
    return "pattern" not in field.schema and "enum" not in field.schema and field.path[-1] not in ("source", "text")


def injected(operation: Operation, field: Field, payload: str) -> Any:
    if field.path[-1] is KEY:
        return with_key(operation.example, field.path, payload)
    body = with_value(operation.example, field.path, payload)
    if field.path == ("source",) and "surface" in body:
        body["surface"] = "custom"  # a surface's program is read only for the custom surface
    return body


@pytest.fixture(scope="module", autouse=True)
def nothing_was_executed():
    yield
    assert not MARKER.exists(), f"an injected shell command ran: {MARKER} exists"


@pytest.mark.parametrize("operation, field", string_fields())
def test_injection_in_every_string_field_is_refused_or_kept_as_text(wire, room, operation, field):
    path, key = target(operation, room)
    for payload in INJECTIONS:
        answer = wire.post(path, injected(operation, field, payload), key)
        assert answer.status < 500, (payload, str(answer))
        if answer.status >= 400:
            error = assert_refused(answer)
            assert "<script" not in error["message"] and "onerror" not in error["message"], (payload, error)
            continue
        assert free_text(field), f"{field.name} took {payload!r}: {answer}"
        assert answer.headers["content-type"].startswith("application/json")
        assert answer.headers["x-content-type-options"] == "nosniff"
        kept = answer.json()
        if operation.path.endswith(("/state", "/results")):  # the answer is the new version: the room shows it
            kept = wire.get(f"/api/v1/rooms/{room['code']}").json()
        assert payload in strings(kept), f"{payload!r} did not come back as the text it is"


def strings(value: Any) -> list[str]:
    """Every string in a JSON value."""
    found, todo = [], [value]
    while todo:
        item = todo.pop()
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, dict):
            todo.extend(item.values())
            found.extend(item)
        elif isinstance(item, list):
            todo.extend(item)
    return found


@pytest.mark.parametrize("operation, field", string_fields())
def test_a_lone_surrogate_in_every_string_field_is_refused(wire, room, operation, field):
    """Valid JSON (an escape), but not Unicode text: refused, not carried on to fail when the answer is encoded."""
    path, key = target(operation, room)
    for payload in ("\ud800", "x\udfffy"):
        body = json.dumps(injected(operation, field, payload)).encode()  # ensure_ascii: sent as \ud800
        assert b"\\ud" in body
        assert_refused(wire.post(path, body, key), 422)


@pytest.mark.parametrize("payload", INJECTIONS)
def test_injection_in_a_room_code_is_a_404_or_422(wire, payload):
    for suffix in ("", "/qr.svg", "/answers", "/events"):
        answer = wire.get(f"/api/v1/rooms/{quote(payload, safe='')}{suffix}")
        assert_refused(answer, 404, 422)


@pytest.mark.parametrize("payload", INJECTIONS)
def test_injection_in_the_presenter_key_and_the_student_cookie(wire, room, payload):
    header = quote(payload, safe=" '\"$`;|&{}%#<>=()*:/.")  # a header value cannot hold control characters
    answer = wire.send("GET", f"/api/v1/rooms/{room['code']}/answers", None, {"X-Presenter-Key": header})
    assert assert_refused(answer, 403)["code"] == "presenter_key_required"
    cookie = f"bpx_student={quote(payload, safe='')}"
    answer = wire.post(f"/api/v1/rooms/{room['code']}/answers", {"quiz": "q1", "value": 1}, {"Cookie": cookie})
    assert_refused(answer, 409, 422)  # no open question; the cookie is ignored, never trusted


@pytest.mark.parametrize("payload", INJECTIONS)
def test_injection_in_query_parameters(wire, payload):
    for name in ("dataset", "points", "noise", "colour"):
        answer = wire.get(f"/api/v1/data/points?dataset=moons&{name}={quote(payload, safe='')}")
        assert_refused(answer, 422)
    answer = wire.get(f"/api/v1/rooms/ABCDEF/events?after={quote(payload, safe='')}")
    assert_refused(answer, 404, 422)


@pytest.mark.parametrize("page", ["/", "/network", "/descent"])
@pytest.mark.parametrize("payload", INJECTIONS)
def test_pages_never_echo_their_query_into_html(wire, page, payload):
    answer = wire.get(f"{page}?src={quote(payload, safe='')}&label={quote(payload, safe='')}&lang={quote(payload)}")
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("text/html")
    html = answer.body.decode()
    if len(payload) > 3 and payload not in ("javascript:alert(1)",):
        assert payload not in html, payload
    assert "<script>alert(1)" not in html and "onerror=alert" not in html


@pytest.mark.parametrize("payload", INJECTIONS + ["%0d%0aSet-Cookie:%20x=1", "..%2f..%2fadmin"])
def test_the_join_link_redirects_only_to_this_server(wire, payload):
    answer = wire.get(f"/join/{quote(payload, safe='%')}")
    assert answer.status in (303, 404, 422), str(answer)
    if answer.status == 303:
        location = answer.headers["location"]
        assert location.startswith("/") and not location.startswith("//"), location
        assert "\r" not in location and "\n" not in location and "set-cookie" not in answer.headers


# ---- Path traversal against /static --------------------------------------------------------------

TRAVERSALS = [
    "/static/../app/main.py", "/static/../../etc/passwd", "/static/js/../../app/main.py",
    "/static/%2e%2e/app/main.py", "/static/%2e%2e%2fapp%2fmain.py", "/static/..%2fapp%2fmain.py",
    "/static/..%2f..%2fpyproject.toml", "/static/%252e%252e/app/main.py", "/static/%252e%252e%252fpyproject.toml",
    "/static/..%5capp%5cmain.py", "/static/%5c..%5c..%5cpyproject.toml", "/static/....//app/main.py",
    "/static/..;/app/main.py", "/static/%c0%ae%c0%ae/app/main.py", "/static/%c0%af../pyproject.toml",
    "/static/%e0%80%ae%e0%80%ae/pyproject.toml", "/static//etc/passwd", "/static/%2fetc%2fpasswd",
    "/static/..%00/app/main.py", "/static/js/api.js%00.png", "/static/js/api.js%2500", "/static/.%2e/app/main.py",
    "/static/%2e./app/main.py", "/static/js/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/static/" + "../" * 20 + "etc/passwd",
    "/static/%u002e%u002e/app/main.py", "/static/.git/config", "/static/../.git/config",
]
SECRETS = [b"create_app", b"[project]", b"root:x:0:0", b"[core]", b"def ", b"import "]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_path_traversal_against_static_never_leaves_it(wire, path):
    answer = wire.get(path)
    assert_refused(answer, 400, 403, 404)  # every form reaches the app, and is answered in the envelope
    assert not any(secret in answer.body for secret in SECRETS), str(answer)


def test_static_files_themselves_are_served_with_their_own_types(wire):
    answer = wire.get("/static/js/api.js")
    assert answer.status == 200 and answer.headers["content-type"].startswith("text/javascript")
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["content-security-policy"].startswith("default-src 'self'; script-src 'self';")
