"""Every parameter outside the body (path, query, header, cookie) of every operation, read from the app's
own OpenAPI document, attacked: injection strings, invalid UTF-8, and for numbers NaN, Infinity, huge
and out-of-range values. Each answer is a 4xx in the envelope within 100 ms, or, where the parameter is
free to hold anything (an ignored Last-Event-ID, a student cookie), an answer that does not echo it.
Then: what only the teacher may do is refused without the room's own presenter key.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import pytest

from .fields import openapi, operations
from .test_bad_input import NOT_FINITE
from .test_injection import INJECTIONS
from .wire import Answer, Wire, assert_refused

SPEC = openapi()
EXAMPLES = {operation.label: operation.example for operation in operations(SPEC)}
# Valid values for the parameters an operation needs, besides the room (its code and presenter key).
REQUIRED_QUERY = {"/api/v1/data/points": {"dataset": "moons"}}
# Already percent-encoded: bytes that are not UTF-8 (a lone byte, an overlong '/', an encoded surrogate).
NOT_UTF8 = ["%ff%fe", "%c0%af", "%ed%a0%80", "x%80"]
HEADER_SAFE = " '\"$`;|&{}%#<>=()*:/."  # a header value cannot hold control characters


@dataclass(frozen=True)
class Parameter:
    method: str
    path: str
    where: str  # path, query, header or cookie
    name: str
    schema: dict[str, Any]

    @property
    def numeric(self) -> bool:
        kinds = {self.schema.get("type")} | {member.get("type") for member in self.schema.get("anyOf", [])}
        return bool(kinds & {"integer", "number"})

    @property
    def label(self) -> str:
        return f"{self.method} {self.path} {self.where}:{self.name}"


def parameters() -> list[Parameter]:
    found = []
    for path, methods in SPEC["paths"].items():
        for method, operation in methods.items():
            for parameter in operation.get("parameters", []):
                found.append(Parameter(method.upper(), path, parameter["in"], parameter["name"],
                                       parameter.get("schema", {})))
    return found


PARAMETERS = parameters()


def attack(wire: Wire, room: dict[str, Any], parameter: Parameter, value: str, *, encoded: bool = False) -> Answer:
    """The operation, valid but for `value` in `parameter` (`encoded`: the value is already percent-encoded)."""
    encode = (lambda text: text) if encoded else (lambda text: quote(text, safe=""))
    path = parameter.path.replace("{code}", encode(value) if parameter.where == "path" else room["code"])
    query = dict(REQUIRED_QUERY.get(parameter.path, {}))
    target = path + ("?" + urlencode(query) if query else "")
    if parameter.where == "query":
        target += ("&" if query else "?") + f"{parameter.name}={encode(value)}"
    headers = {"X-Presenter-Key": room["presenter_key"]}
    if parameter.where == "header":
        headers[parameter.name] = value if encoded else quote(value, safe=HEADER_SAFE)
    if parameter.where == "cookie":
        headers["Cookie"] = f"{parameter.name}={encode(value)}"
    if parameter.method == "GET" and parameter.path.endswith("/events"):
        return wire.peek("GET", target, headers)  # a stream that stays open: its first bytes are enough
    body = EXAMPLES.get(f"{parameter.method} {parameter.path}")
    if parameter.method == "POST" and parameter.path.endswith("/answers"):  # to an open question
        quiz = wire.post(f"/api/v1/rooms/{room['code']}/quiz", {"node": "n1", "answer": -4},
                         {"X-Presenter-Key": room["presenter_key"]})
        body = {**body, "quiz": quiz.json()["id"]}
    if body is None:
        return wire.send(parameter.method, target, None, headers)
    return wire.send(parameter.method, target, json.dumps(body).encode(), {"Content-Type": "application/json",
                                                                          **headers})


def assert_refused_or_ignored(answer: Answer, value: str) -> None:
    assert answer.status < 500, (value, str(answer))
    if answer.status >= 400:
        error = assert_refused(answer)
        assert "<script" not in error["message"] and "onerror" not in error["message"], (value, error)
        return
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["content-type"].split(";")[0] in ("application/json", "text/event-stream", "image/svg+xml")
    if len(value) > 3:
        assert value.encode() not in answer.body, f"{value!r} was echoed: {answer}"


@pytest.mark.parametrize("parameter", PARAMETERS, ids=[parameter.label for parameter in PARAMETERS])
def test_injection_in_every_parameter_is_refused_or_ignored(wire, room, parameter):
    for value in INJECTIONS:
        assert_refused_or_ignored(attack(wire, room, parameter, value), value)


@pytest.mark.parametrize("parameter", [p for p in PARAMETERS if p.where != "header"],
                         ids=[p.label for p in PARAMETERS if p.where != "header"])
def test_invalid_utf8_in_every_parameter_is_refused_or_ignored(wire, room, parameter):
    for value in NOT_UTF8:
        answer = attack(wire, room, parameter, value, encoded=True)
        assert_refused_or_ignored(answer, value)
        if parameter.where in ("path", "query"):
            assert 400 <= answer.status < 500, (value, str(answer))


@pytest.mark.parametrize("parameter", [p for p in PARAMETERS if p.where == "header"],
                         ids=[p.label for p in PARAMETERS if p.where == "header"])
def test_bytes_beyond_ascii_in_every_header_are_refused_or_ignored(wire, room, parameter):
    for value in ("\xff\xfe", "caf\xe9", "\xc3\x28"):  # sent as Latin-1 bytes, as a header may carry them
        assert_refused_or_ignored(attack(wire, room, parameter, value, encoded=True), value)


def out_of_range(schema: dict[str, Any]) -> list[str]:
    bounds = {}
    for member in [schema, *schema.get("anyOf", [])]:
        bounds.update({key: member[key] for key in ("maximum", "minimum") if key in member})
    tokens = []
    if "maximum" in bounds:
        tokens.append(repr(bounds["maximum"] + 1))
    if "minimum" in bounds:
        tokens.append(repr(bounds["minimum"] - 1))
    return tokens


NUMERIC = [p for p in PARAMETERS if p.numeric]


def test_every_numeric_parameter_is_attacked():
    assert {p.label for p in NUMERIC} >= {"GET /api/v1/data/points query:points", "GET /api/v1/rooms/{code}/events "
                                          "query:after", "GET /api/v1/data/points query:seed"}


@pytest.mark.parametrize("parameter", NUMERIC, ids=[p.label for p in NUMERIC])
def test_nan_infinity_huge_and_out_of_range_numbers_in_every_numeric_parameter_are_422(wire, room, parameter):
    for token in NOT_FINITE + out_of_range(parameter.schema) + ["2.5e3x", "0x10", "true", ""]:
        answer = attack(wire, room, parameter, token)
        if token == "" and answer.status < 400:
            continue  # an empty optional number is no number: the default
        error = assert_refused(answer, 422)
        assert error["where"]["field"] == f"{parameter.where}.{parameter.name}", (token, error)


# ---- What only the teacher may do ----------------------------------------------------------------

TEACHER_ONLY = [p for p in PARAMETERS if p.name == "X-Presenter-Key"]


def test_every_teacher_only_operation_is_listed():
    assert {f"{p.method} {p.path}" for p in TEACHER_ONLY} == {
        "DELETE /api/v1/rooms/{code}", "POST /api/v1/rooms/{code}/state", "POST /api/v1/rooms/{code}/results",
        "POST /api/v1/rooms/{code}/quiz",
        "GET /api/v1/rooms/{code}/answers", "POST /api/v1/rooms/{code}/quiz/reveal"}


@pytest.mark.parametrize("parameter", TEACHER_ONLY, ids=[f"{p.method} {p.path}" for p in TEACHER_ONLY])
def test_a_teacher_only_operation_without_the_rooms_own_key_is_403_and_changes_nothing(wire, room, parameter):
    other = wire.post("/api/v1/rooms", {"page": "explorer"}).json()
    before = wire.get(f"/api/v1/rooms/{room['code']}").json()
    wrong_keys = [None, "", other["presenter_key"], "x" * len(room["presenter_key"]), room["presenter_key"][:-1],
                  room["presenter_key"].upper() if room["presenter_key"] != room["presenter_key"].upper()
                  else room["presenter_key"].lower()]
    target = parameter.path.replace("{code}", room["code"])
    body = EXAMPLES.get(f"{parameter.method} {parameter.path}")
    for key in wrong_keys:
        headers = {} if key is None else {"X-Presenter-Key": key}
        raw = None if body is None else json.dumps(body).encode()
        if raw is not None:
            headers["Content-Type"] = "application/json"
        error = assert_refused(wire.send(parameter.method, target, raw, headers), 403)
        assert error["code"] == "presenter_key_required"
    assert wire.get(f"/api/v1/rooms/{room['code']}").json() == before
    wire.send("DELETE", f"/api/v1/rooms/{other['code']}", None, {"X-Presenter-Key": other["presenter_key"]})


# ---- What never reaches the app ------------------------------------------------------------------

def test_a_request_line_too_long_for_the_http_server_is_refused_and_the_server_serves_on(wire):
    """NOTE: uvicorn's HTTP parser refuses this before the app sees it (400, its own plain text): no
    envelope is possible there. What matters is that it is quick and the server goes on serving."""
    answer = wire.get("/api/v1/data/points?dataset=xor&" + "a=1&" * 30_000)
    assert 400 <= answer.status < 500 and answer.seconds < 0.1, str(answer)
