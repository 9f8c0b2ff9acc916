"""Bad input over a real socket: every refusal a 4xx in the envelope within 100 ms, the server serving after.

The bad inputs of the earlier issues are replayed from their own tests' tables (tests/app), so a case
added there is replayed here too; then, on every operation that takes a body (read from the OpenAPI
document): oversized bodies, deep JSON, wrong content types, invalid UTF-8; NaN, Infinity, huge, out
of range and non-numbers in every numeric field; and every list and string one past its bounds.
Parameters outside the body (path, query, header, cookie) are attacked in test_parameters.py.
"""
from __future__ import annotations

import json
from typing import Any, Callable
from urllib.parse import urlencode

import pytest

from engine.limits import LIMITS
from tests.app import test_classroom_rooms, test_data_routes, test_descent_routes, test_errors, \
    test_network_bad_input

from .fields import KEY, Field, Operation, operations, target, with_key, with_value
from .wire import REFUSAL_SECONDS, WORKED_EXAMPLE, assert_refused

OPERATIONS = operations()
BODY_OPERATIONS = [pytest.param(operation, id=operation.label) for operation in OPERATIONS]


def parametrized(test: Callable[..., Any]) -> list[Any]:
    """The cases of an earlier test's @pytest.mark.parametrize table."""
    mark = next(mark for mark in test.pytestmark if mark.name == "parametrize")
    return list(mark.args[1])


# ---- The earlier issues' bad inputs, replayed -------------------------------------------------------

@pytest.mark.parametrize("case", test_errors.SOURCE_ERRORS, ids=[case[0] for case in test_errors.SOURCE_ERRORS])
def test_programs_outside_the_language(wire, case):
    _, source, values, _, _ = case
    error = assert_refused(wire.post("/api/v1/trace", {"source": source, "values": values}), 422)
    assert set(error["where"]) == {"line", "column"}


@pytest.mark.parametrize("case", test_errors.NOT_NUMBERS, ids=[case[0] for case in test_errors.NOT_NUMBERS])
def test_non_numbers_where_numbers_belong(wire, case):
    _, body, field, _ = case
    path = "/api/v1/trace/state" if field == "step" else "/api/v1/trace"
    assert assert_refused(wire.post(path, body), 422)["where"]["field"] == field


@pytest.mark.parametrize("case", test_network_bad_input.CASES,
                         ids=[f"{case[0]}={case[1]!r}" for case in test_network_bad_input.CASES])
def test_network_fields_out_of_bounds(wire, case):
    path, value, field, _ = case
    answer = wire.post("/api/v1/network/train", test_network_bad_input.with_(path, value))
    assert assert_refused(answer, 422)["where"]["field"] == field


def test_a_thousand_layers_is_refused_and_a_learning_rate_of_a_million_diverges_plainly(wire):
    base = test_network_bad_input.BASE
    error = assert_refused(wire.post("/api/v1/network/train", {**base, "layers": [{"units": 2}] * 1000}), 422)
    assert error["where"] == {"field": "layers", "limit": "max_layers"}
    answer = wire.post("/api/v1/network/train", {**base, "optimizer": {"name": "sgd", "learning_rate": 1e6}})
    assert answer.status == 200 and answer.json()["status"] == "diverged", str(answer)


@pytest.mark.parametrize("case", parametrized(test_descent_routes.test_bad_input_is_422_naming_the_field))
def test_descent_bad_input(wire, case):
    path, text, field = case
    assert assert_refused(wire.post(path, text.encode()), 422)["where"]["field"] == field


@pytest.mark.parametrize("case", parametrized(test_data_routes.test_bad_points_queries_name_the_parameter))
def test_data_points_bad_queries(wire, case):
    params, field = case
    answer = wire.get("/api/v1/data/points?" + urlencode(params))
    assert assert_refused(answer, 422)["where"]["field"].endswith(field)


@pytest.mark.parametrize("case", [
    *parametrized(test_data_routes.test_an_upload_that_is_not_numbers_ragged_or_nan_is_422_naming_the_row),
    *parametrized(test_data_routes.test_bad_parse_fields_are_422_naming_the_field)])
def test_data_uploads_that_are_not_points(wire, case):
    body = {"text": case[0]} if isinstance(case[0], str) else case[0]
    assert_refused(wire.post("/api/v1/data/parse", body), 422)


@pytest.mark.parametrize("case", parametrized(
    test_classroom_rooms.test_the_state_is_a_bounded_object_and_the_url_stays_on_this_server))
def test_room_states_out_of_bounds(wire, room, case):
    state, field = case
    answer = wire.post(f"/api/v1/rooms/{room['code']}/state", state, {"X-Presenter-Key": room["presenter_key"]})
    assert assert_refused(answer, 422)["where"]["field"] == field


@pytest.mark.parametrize("source, limit", [
    ("(" * 10_000 + "x" + ")" * 10_000, "max_depth"), ("-" * 10_000 + "x", "max_depth"),
    ("+".join(["x"] * 20_000), "max_nodes"), ("x " + "y" * 40_000, "max_name_chars"),
    ("x + " * 25_000 + "x", "max_source_chars"), (" + ".join(["x"] * 100_000), "max_source_chars"),
    ("x;" * 20_000, "max_statements"),
], ids=["parentheses", "minuses", "chain", "long-token", "100-kb", "100000-term-chain", "statements"])
def test_programs_at_the_caps(wire, source, limit):
    answer = wire.post("/api/v1/trace", {"source": source, "values": {"x": 1}})
    # NOTE: up to 300 KB of program crosses the socket: a little more time for the biggest.
    error = assert_refused(answer, 422, seconds=REFUSAL_SECONDS * (1 + len(source) // 100_000))
    if limit == "max_source_chars":  # refused by the request model before the parser sees it
        assert error["where"]["field"] == "source" and f"{LIMITS.max_source_chars}" in error["message"], error
    else:
        assert error["code"] == "limit_exceeded" and error["where"].get("limit") == limit, error
        assert limit in error["message"]


@pytest.mark.parametrize("values, code, field", [
    ({"x": -2, "y": 5}, "missing_value", "values.z"),
    ({"x": -2, "y": 5, "z": -4, "w": 1}, "unused_value", "values.w"),
    ({"x": -2, "y": 5, "z": -4, "q": 1}, "unused_value", "values.q"),
], ids=["missing", "unused", "for-an-assigned-name"])
def test_values_that_do_not_fit_the_program(wire, values, code, field):
    error = assert_refused(wire.post("/api/v1/trace", {**WORKED_EXAMPLE, "values": values}), 422)
    assert (error["code"], error["where"]) == (code, {"field": field})


@pytest.mark.parametrize("case", test_errors.NUMERICALLY_BAD, ids=[case[0] for case in test_errors.NUMERICALLY_BAD])
def test_legal_programs_whose_numbers_break_answer_200_with_the_status_on_the_node(wire, case):
    source, values, label, status = case
    answer = wire.post("/api/v1/trace", {"source": source, "values": values, "gradcheck": True})
    assert answer.status == 200, str(answer)
    nodes = [node for node in json.loads(answer.body, parse_constant=lambda token: pytest.fail(token))["nodes"]
             if node["label"] == label]
    assert nodes and nodes[0]["status"] == status and nodes[0]["value"] is None, nodes


# ---- Bodies that are not requests, on every operation -----------------------------------------------

@pytest.mark.parametrize("operation", BODY_OPERATIONS)
def test_a_body_declared_over_the_cap_is_413_before_it_is_sent(wire, room, operation):
    path, key = target(operation, room)
    declared = {"Content-Type": "application/json", "Content-Length": str(LIMITS.max_body_bytes + 1), **key}
    answer = wire.send("POST", path, None, declared)  # the headers alone: the answer comes before any body
    assert assert_refused(answer, 413)["code"] == "body_too_large"


@pytest.mark.parametrize("operation", BODY_OPERATIONS)
def test_an_oversized_chunked_body_is_413(wire, room, operation):
    path, key = target(operation, room)
    body = json.dumps({"blob": "x" * (LIMITS.max_body_bytes + 1)}).encode()
    answer = wire.send("POST", path, body, {"Content-Type": "application/json", **key}, chunked=True)
    # NOTE: a megabyte crosses the socket before the server can count it, so this one gets more time.
    assert assert_refused(answer, 413, seconds=1.0)["code"] == "body_too_large"


@pytest.mark.parametrize("operation", BODY_OPERATIONS)
@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_deep_json_is_refused(wire, room, operation, depth):
    path, key = target(operation, room)
    for body in (b"[" * depth + b"]" * depth, b'{"a": ' * depth + b"1" + b"}" * depth):
        assert_refused(wire.post(path, body, key), 422)


@pytest.mark.parametrize("operation", BODY_OPERATIONS)
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", "application/xml", "text/json",
                                          "application/javascript", "image/svg+xml"])
def test_a_body_that_is_not_declared_json_is_415(wire, room, operation, content_type):
    path, key = target(operation, room)
    answer = wire.send("POST", path, json.dumps(operation.example).encode(), {"Content-Type": content_type, **key})
    error = assert_refused(answer, 415)
    assert error["code"] == "unsupported_media_type" and "application/json" in error["message"]


@pytest.mark.parametrize("operation", BODY_OPERATIONS)
def test_json_with_a_charset_or_a_json_suffix_is_json(wire, room, operation):
    path, key = target(operation, room)
    for content_type in ("application/json; charset=utf-8", "application/problem+json", "APPLICATION/JSON"):
        answer = wire.send("POST", path, b"[1]", {"Content-Type": content_type, **key})
        assert_refused(answer, 422)  # read as JSON: a list is not a request object


@pytest.mark.parametrize("operation", BODY_OPERATIONS)
@pytest.mark.parametrize("body", [b'{"source": "x\xff\xfe"}', b'{"\xc3\x28": 1}', b'{"a": "\xc0\xaf"}',
                                  b'\xef\xbb\xbf{"a": 1}', b'{"a": "\xed\xa0\x80"}'],
                         ids=["invalid-bytes", "invalid-key", "overlong", "byte-order-mark", "encoded-surrogate"])
def test_invalid_utf8_is_refused(wire, room, operation, body):
    path, key = target(operation, room)
    assert_refused(wire.post(path, body, key), 422)


# ---- Numbers: NaN, Infinity, huge, out of range, in every numeric field of every operation --------------

NOT_FINITE = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1" + "0" * 400, "-1" + "0" * 400]


def numeric_fields() -> list[Any]:
    return [pytest.param(operation, field, id=f"{operation.label} {field.name}")
            for operation in OPERATIONS for field in operation.fields if field.kind in ("number", "integer")]


def out_of_range(field: Field) -> list[str]:
    """Just past each bound the schema gives."""
    schema, tokens = field.schema, []
    if "maximum" in schema:
        tokens.append(repr(schema["maximum"] + max(1, abs(schema["maximum"]) * 1e-9)))
    if "exclusiveMaximum" in schema:
        tokens.append(repr(schema["exclusiveMaximum"]))
    if "minimum" in schema:
        tokens.append(repr(schema["minimum"] - max(1, abs(schema["minimum"]) * 1e-9)))
    if "exclusiveMinimum" in schema:
        tokens.append(repr(schema["exclusiveMinimum"]))
    if field.kind == "integer":
        tokens += ["2.5"]
    return tokens + ['"3"', "true", "{}"]  # not numbers at all


def body_with_token(operation: Operation, field: Field, token: str) -> bytes:
    text = json.dumps(with_value(operation.example, field.path, "__TOKEN__"))
    return text.replace('"__TOKEN__"', token).encode()


@pytest.mark.parametrize("operation, field", numeric_fields())
def test_nan_infinity_huge_and_out_of_range_numbers_are_refused_naming_the_field(wire, room, operation, field):
    path, key = target(operation, room)
    top = next(step for step in field.path if step is not KEY)
    for token in NOT_FINITE + out_of_range(field):
        answer = wire.post(path, body_with_token(operation, field, token), key)
        error = assert_refused(answer, 422)
        assert error["where"].get("field", "").startswith(str(top)), (token, error)
        if token in ("NaN", "Infinity", "-Infinity"):
            assert token.encode() not in answer.body  # strict JSON out, and the input is not echoed


# ---- Sizes: one item or character past each bound the schema gives, in every list and string ----------

def value_at(example: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        if isinstance(step, int):
            example = example[step] if isinstance(example, list) and example else None
        else:
            example = example.get(step) if isinstance(example, dict) else None
    return example


def an_item(operation: Operation, field: Field) -> Any:
    """An item that would fit the list: the example's own first item, else the simplest number or list."""
    present = value_at(operation.example, field.path)
    if isinstance(present, list) and present:
        return present[0]
    items = field.schema.get("items", {})
    members = [items, *items.get("anyOf", [])]
    if any(member.get("type") == "array" for member in members):
        return [1.0] * max(1, next(m for m in members if m.get("type") == "array").get("minItems", 1))
    return 1.0


def size_cases() -> list[Any]:
    cases = []
    for operation in OPERATIONS:
        for field in operation.fields:
            if field.kind == "array" and "maxItems" in field.schema:
                cases.append(pytest.param(operation, field, field.schema["maxItems"] + 1,
                                          id=f"{operation.label} {field.name} maxItems+1"))
            if field.kind == "array" and field.schema.get("minItems", 0) > 0:
                cases.append(pytest.param(operation, field, field.schema["minItems"] - 1,
                                          id=f"{operation.label} {field.name} minItems-1"))
            if field.kind == "string" and "maxLength" in field.schema:
                cases.append(pytest.param(operation, field, field.schema["maxLength"] + 1,
                                          id=f"{operation.label} {field.name} maxLength+1"))
    return cases


@pytest.mark.parametrize("operation, field, size", size_cases())
def test_lists_and_strings_one_past_their_bounds_are_refused_naming_the_field(wire, room, operation, field, size):
    path, key = target(operation, room)
    if field.kind == "string" and field.path[-1] is KEY:
        body = with_key(operation.example, field.path, "k" * size)
    elif field.kind == "string":
        body = with_value(operation.example, field.path, "x" * size)
        if field.path == ("source",) and "surface" in body:
            body["surface"] = "custom"  # a surface's program is read only for the custom surface
    else:
        body = with_value(operation.example, field.path, [an_item(operation, field)] * size)
    raw = json.dumps(body).encode()
    # NOTE: the largest of these (a text of a million characters) takes a while to cross the socket.
    error = assert_refused(wire.post(path, raw, key), 422, seconds=REFUSAL_SECONDS * (1 + len(raw) // 100_000))
    top = next(step for step in field.path if step is not KEY)
    assert error["where"].get("field", "").startswith(str(top)), error


@pytest.mark.parametrize("query", ["points=NaN", "noise=Infinity", "noise=-inf", "seed=1e400", "points=" + "9" * 400,
                                   "classes=2.5", "test_fraction=nan", "points=-1", "seed=-0"])
def test_query_numbers_that_are_not_numbers_are_refused(wire, query):
    answer = wire.get(f"/api/v1/data/points?dataset=spiral&{query}")
    if query == "seed=-0":
        assert answer.status == 200  # minus zero is zero
        return
    assert assert_refused(answer, 422)["where"]["field"].startswith("query.")


def test_the_refusal_bound_is_a_functional_bound(wire):
    """The 100 ms bound is met by a wide margin: the worst refusal above is a parse of one small body."""
    times = sorted(wire.post("/api/v1/trace", {"source": "x +", "values": {"x": 1}}).seconds for _ in range(50))
    assert times[len(times) // 2] < REFUSAL_SECONDS / 5
    assert wire.post("/api/v1/trace", WORKED_EXAMPLE).status == 200
