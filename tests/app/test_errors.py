"""One error envelope for every bad input, a 4xx status, and a server that keeps serving.

Bad programs and bad values get {"error": {"code", "message", "where"}}; legal programs whose
numbers break (exp(1000), log(0), ...) are not errors: they answer 200 with null values and a
status on the node where it happened.
"""
from __future__ import annotations

import json
import logging

import pytest
from fastapi import Depends
from pydantic import BaseModel

from app.main import create_app
from app.routes import trace as trace_route
from app.settings import Settings
from engine.limits import LIMITS
from engine.ops import function_ops

from .conftest import WORKED_EXAMPLE, TestClient, assert_envelope, by_label, strict_json

TRACE = "/api/v1/trace"
STATE = "/api/v1/trace/state"
JSON = {"content-type": "application/json"}


def assert_still_serves(client):
    response = client.post(TRACE, json=WORKED_EXAMPLE)
    assert response.status_code == 200
    assert by_label(response.json())["f"]["value"] == -12


def post_raw(client, body: bytes, path=TRACE, headers=JSON):
    return client.post(path, content=body, headers=headers)


# ---- Programs that are not the language -------------------------------------------------------

SOURCE_ERRORS = [
    # id, source, values, code, (line, column) or None when any place will do
    ("syntax-dangling-operator", "x +", {"x": 1}, "syntax_error", (1, 4)),
    ("syntax-second-line", "q = x + y\nf = q * * z", {"x": 1, "y": 1, "z": 1}, "syntax_error", (2, 9)),
    ("syntax-semicolons", "q = x + y; f = q * * z", {"x": 1, "y": 1, "z": 1}, "syntax_error", (1, 20)),
    ("syntax-unclosed-paren", "(x + 1", {"x": 1}, "syntax_error", (1, 7)),
    ("syntax-stray-paren", "x + 1)", {"x": 1}, "syntax_error", (1, 6)),
    ("syntax-two-operands", "x y", {"x": 1, "y": 1}, "syntax_error", (1, 3)),
    ("syntax-assign-twice", "x = 1\nx = 2", {}, "bad_assignment", (2, 1)),
    ("unknown-function", "foo(x)", {"x": 1}, "unknown_function", (1, 1)),
    ("function-as-name", "exp + 1", {}, "bad_call", (1, 1)),
    ("wrong-arity", "max(x)", {"x": 1}, "bad_call", (1, 1)),
    ("attribute-access", "x.real", {"x": 1}, "not_the_language", (1, 2)),
    ("attribute-dunder", "x.__class__", {"x": 1}, "not_the_language", (1, 2)),
    ("indexing", "x[0]", {"x": 1}, "not_the_language", (1, 2)),
    ("lambda", "f = lambda x: x", {}, "not_the_language", (1, 5)),
    ("string-single", "'abc'", {}, "not_the_language", (1, 1)),
    ("string-double", 'x + "abc"', {"x": 1}, "not_the_language", (1, 5)),
    ("keyword-import", "import os", {}, "not_the_language", (1, 1)),
    ("keyword-true", "True + 1", {}, "not_the_language", (1, 1)),
    ("keyword-inline-if", "x if x else x", {"x": 1}, None, (1, 3)),
    ("keyword-match", "match = 1", {}, "not_the_language", (1, 1)),
    ("double-underscore-name", "__builtins__ + 1", {}, "not_the_language", (1, 1)),
    ("double-underscore-call", "__import__(x)", {"x": 1}, "not_the_language", (1, 1)),
    ("dunder-import-os", "__import__('os').system('ls')", {}, "not_the_language", (1, 1)),
    ("comparison", "x == 1", {"x": 1}, "not_the_language", (1, 3)),
    ("floor-division", "x // 2", {"x": 1}, "not_the_language", (1, 3)),
    ("braces", "{x}", {"x": 1}, "not_the_language", (1, 1)),
    ("lookalike-minus", "x \u2212 1", {"x": 1}, "not_the_language", (1, 3)),
    ("lookalike-times", "x \u00d7 y", {"x": 1, "y": 1}, "not_the_language", (1, 3)),
    ("lookalike-cyrillic-x", "\u0445 + 1", {}, "not_the_language", (1, 1)),
    ("lookalike-fullwidth-paren", "\uff08x + 1\uff09", {"x": 1}, "not_the_language", (1, 1)),
    ("lookalike-no-break-space", "x\u00a0+ 1", {"x": 1}, "not_the_language", (1, 2)),
    ("zero-width-space", "x\u200b+ 1", {"x": 1}, "not_the_language", (1, 2)),
    ("control-character", "x\x00", {"x": 1}, "not_the_language", (1, 2)),
    ("number-too-large", "1e400 * x", {"x": 1}, "bad_number", (1, 1)),
    ("empty-program", "  # only a comment\n;", {}, "empty_program", (1, 1)),
]


@pytest.mark.parametrize("source, values, code, place", [case[1:] for case in SOURCE_ERRORS],
                         ids=[case[0] for case in SOURCE_ERRORS])
def test_a_program_outside_the_language_gets_the_envelope_with_line_and_column(client, source, values, code,
                                                                               place):
    error = assert_envelope(client.post(TRACE, json={"source": source, "values": values}), 422)
    if code is not None:
        assert error["code"] == code
    assert set(error["where"]) == {"line", "column"}
    if place is not None:
        assert (error["where"]["line"], error["where"]["column"]) == place
        assert error["message"].startswith(f"line {place[0]}, column {place[1]}: ")
    assert_still_serves(client)


def test_unknown_function_message_lists_the_allowed_functions(client):
    error = assert_envelope(client.post(TRACE, json={"source": "softplus(x)", "values": {"x": 1}}), 422)
    assert "softplus" in error["message"]
    for name in function_ops():
        assert name in error["message"]


def test_lookalike_character_message_names_it_and_says_what_to_type(client):
    error = assert_envelope(client.post(TRACE, json={"source": "x \u2212 1", "values": {"x": 1}}), 422)
    assert "U+2212" in error["message"] and "'-'" in error["message"]


def test_an_unknown_name_is_an_input_whose_value_is_missing(client):
    error = assert_envelope(client.post(TRACE, json={"source": "x * y", "values": {"x": 1}}), 422)
    assert error["code"] == "missing_value"
    assert error["where"] == {"field": "values.y"}
    assert "'y'" in error["message"]


def test_missing_values_name_the_first_missing_input(client):
    error = assert_envelope(client.post(TRACE, json={"source": "q = x + y\nf = q * z"}), 422)
    assert error["code"] == "missing_value"
    assert error["where"] == {"field": "values.x"}
    assert all(f"'{name}'" in error["message"] for name in "xyz")


def test_a_value_for_a_name_the_program_does_not_use_is_refused(client):
    body = {**WORKED_EXAMPLE, "values": {**WORKED_EXAMPLE["values"], "w": 1}}
    error = assert_envelope(client.post(TRACE, json=body), 422)
    assert error["code"] == "unused_value"
    assert error["where"] == {"field": "values.w"}
    assert_still_serves(client)


def test_a_value_for_an_assigned_name_is_refused(client):
    body = {**WORKED_EXAMPLE, "values": {**WORKED_EXAMPLE["values"], "q": 3}}
    error = assert_envelope(client.post(TRACE, json=body), 422)
    assert error["where"] == {"field": "values.q"}


# ---- Programs that are too big ----------------------------------------------------------------

def test_a_100_kb_source_is_refused_by_field(client):
    error = assert_envelope(client.post(TRACE, json={"source": "x + " * 25_000 + "x", "values": {"x": 1}}), 422)
    assert error["where"] == {"field": "source", "limit": "max_source_chars"}
    assert str(LIMITS.max_source_chars) in error["message"]
    assert_still_serves(client)


def test_ten_thousand_nested_parentheses_stop_at_the_depth_cap(client):
    source = "(" * 10_000 + "x" + ")" * 10_000
    error = assert_envelope(client.post(TRACE, json={"source": source, "values": {"x": 1}}), 422)
    assert error["code"] == "limit_exceeded"
    assert "max_depth" in error["message"]
    assert error["where"]["line"] == 1
    assert_still_serves(client)


def test_ten_thousand_nested_unary_minuses_stop_at_the_depth_cap(client):
    error = assert_envelope(client.post(TRACE, json={"source": "-" * 10_000 + "x", "values": {"x": 1}}), 422)
    assert error["code"] == "limit_exceeded"


def test_a_100000_term_chain_is_refused(client):
    source = "+".join(["x"] * 100_000)
    assert_envelope(client.post(TRACE, json={"source": source, "values": {"x": 1}}), 422)
    assert_still_serves(client)


def test_a_chain_within_the_source_cap_but_over_the_node_cap_is_refused(client):
    source = "+".join(["x"] * 20_000)  # 40 KB, 20,000 nodes
    assert len(source) <= LIMITS.max_source_chars
    error = assert_envelope(client.post(TRACE, json={"source": source, "values": {"x": 1}}), 422)
    assert error["code"] == "limit_exceeded"
    assert "max_nodes" in error["message"]
    assert_still_serves(client)


def test_more_statements_than_the_node_cap_are_refused(client):
    source = "\n".join(f"a{i} = x * {i}" for i in range(LIMITS.max_nodes // 2 + 1))
    error = assert_envelope(client.post(TRACE, json={"source": source, "values": {"x": 1}}), 422)
    assert error["code"] == "limit_exceeded"
    assert "max_nodes" in error["message"]


def test_more_statements_than_the_statement_cap_are_refused(client):
    source = ";".join(["x"] * (LIMITS.max_statements + 1))
    error = assert_envelope(client.post(TRACE, json={"source": source, "values": {"x": 1}}), 422)
    assert error["code"] == "limit_exceeded"
    assert "max_statements" in error["message"]


def test_overlong_names_and_numbers_are_refused(client):
    name = "a" * (LIMITS.max_name_chars + 1)
    error = assert_envelope(client.post(TRACE, json={"source": f"{name} = 1", "values": {}}), 422)
    assert "max_name_chars" in error["message"]
    number = "1" * (LIMITS.max_number_chars + 1)
    error = assert_envelope(client.post(TRACE, json={"source": f"x * {number}", "values": {"x": 1}}), 422)
    assert "max_number_chars" in error["message"]


@pytest.mark.parametrize("source", ["x " + "y" * 40_000, "x " + "1" * 40_000, "x " + "1." + "5" * 40_000,
                                    "(x " + "1" * 40_000 + ")"],
                         ids=["name-after-name", "number-after-name", "decimal-after-name", "number-in-parens"])
def test_error_messages_do_not_echo_a_huge_token(client, source):
    response = client.post(TRACE, json={"source": source, "values": {"x": 1}})
    assert_envelope(response, 422)
    assert len(response.content) < 2_000


# ---- Numbers where numbers belong -------------------------------------------------------------

NOT_NUMBERS = [
    ("nan", b'{"source": "x", "values": {"x": NaN}}', "values.x", b"NaN"),
    ("infinity", b'{"source": "x", "values": {"x": Infinity}}', "values.x", b"Infinity"),
    ("minus-infinity", b'{"source": "x", "values": {"x": -Infinity}}', "values.x", b"Infinity"),
    ("1e400", b'{"source": "x", "values": {"x": 1e400}}', "values.x", b"1e400"),
    ("nan-in-a-list", b'{"source": "x", "values": {"x": [1, NaN]}}', "values.x", b"NaN"),
    ("infinity-in-a-matrix", b'{"source": "x", "values": {"x": [[1], [Infinity]]}}', "values.x", b"Infinity"),
    ("string", b'{"source": "x", "values": {"x": "3"}}', "values.x", b'"3"'),
    ("string-in-a-list", b'{"source": "x", "values": {"x": [1, "2"]}}', "values.x", b'"2"'),
    ("true", b'{"source": "x", "values": {"x": true}}', "values.x", b"true"),
    ("null", b'{"source": "x", "values": {"x": null}}', "values.x", b"null,"),
    ("too-large", b'{"source": "x", "values": {"x": 1e16}}', "values.x", b"1e16"),
    ("learning-rate-nan", b'{"source": "x", "values": {"x": 1}, "params": ["x"], "learning_rate": NaN}',
     "learning_rate", b"NaN"),
    ("learning-rate-string", b'{"source": "x", "values": {"x": 1}, "params": ["x"], "learning_rate": "0.1"}',
     "learning_rate", b'"0.1"'),
    ("step-string", b'{"source": "x", "values": {"x": 1}, "step": "1"}', "step", b'"1"'),
    ("gradcheck-string", b'{"source": "x", "values": {"x": 1}, "gradcheck": "yes"}', "gradcheck", b'"yes"'),
]


@pytest.mark.parametrize("body, field, raw", [case[1:] for case in NOT_NUMBERS], ids=[c[0] for c in NOT_NUMBERS])
def test_a_non_number_where_a_number_belongs_is_422_naming_the_field_without_echoing_it(client, body, field, raw):
    path = STATE if field == "step" else TRACE
    response = post_raw(client, body, path)
    error = assert_envelope(response, 422)  # strict JSON: a NaN or Infinity token in the answer fails here
    cap = "max_abs_value" if raw == b"1e16" else None  # the one number here that is a number, over its cap
    assert error["where"] == ({"field": field, "limit": cap} if cap else {"field": field})
    assert error["message"].startswith(f"{field}: ")
    if raw not in (b"true", b"null,"):
        assert raw not in response.content
    assert b'"input"' not in response.content
    assert_still_serves(client)


@pytest.mark.parametrize("value, hint", [
    ([[1, 2], [3]], "ragged"),
    ([[[1]]], "list"),
    ([], "list"),
], ids=["ragged", "three-dimensional", "empty"])
def test_a_value_that_is_not_a_number_vector_or_matrix_is_refused(client, value, hint):
    error = assert_envelope(client.post(TRACE, json={"source": "x", "values": {"x": value}}), 422)
    assert error["where"] == {"field": "values.x"}
    assert hint in error["message"].lower()


def test_a_tensor_over_the_element_cap_is_refused(client):
    side = int(LIMITS.max_tensor_elements ** 0.5) + 1
    error = assert_envelope(client.post(TRACE, json={"source": "x", "values": {"x": [[1] * side] * side}}), 422)
    assert error["where"] == {"field": "values.x", "limit": "max_tensor_elements"}
    assert "max_tensor_elements" in error["message"]


def test_tensors_whose_shapes_do_not_broadcast_are_refused_not_a_server_error(client):
    response = client.post(TRACE, json={"source": "x * y", "values": {"x": [1, 2, 3], "y": [1, 2]}})
    assert_envelope(response, 422)
    assert_still_serves(client)


def test_more_values_than_the_cap_are_refused(client):
    values = {f"v{i}": 1 for i in range(LIMITS.max_inputs + 1)}
    error = assert_envelope(client.post(TRACE, json={"source": "v0", "values": values}), 422)
    assert error["where"] == {"field": "values", "limit": "max_inputs"}
    assert error["message"].count("(max_inputs)") == 1


def test_a_value_name_that_is_not_a_name_is_refused_and_not_echoed_at_length(client):
    error = assert_envelope(client.post(TRACE, json={"source": "x", "values": {"1x": 1}}), 422)
    assert error["where"] == {"field": "values.1x"}
    response = client.post(TRACE, json={"source": "x", "values": {"k" * 100_000: 1}})
    error = assert_envelope(response, 422)
    assert error["where"]["field"].startswith("values.kkk")
    assert len(response.content) < 2_000


# ---- Bodies that are not a request ------------------------------------------------------------

def test_a_body_over_the_cap_with_content_length_is_413(client):
    body = json.dumps({"source": "x" * (LIMITS.max_body_bytes + 10), "values": {}}).encode()
    request = client.build_request("POST", TRACE, content=body, headers=JSON)
    assert int(request.headers["content-length"]) > LIMITS.max_body_bytes
    error = assert_envelope(client.send(request), 413)
    assert error["code"] == "body_too_large"
    assert_still_serves(client)


def test_a_body_over_the_cap_sent_chunked_without_content_length_is_413(client):
    def chunks():
        yield b'{"source": "'
        for _ in range(LIMITS.max_body_bytes // 65_536 + 2):
            yield b"x" * 65_536
        yield b'", "values": {}}'

    request = client.build_request("POST", TRACE, content=chunks(), headers=JSON)
    assert "content-length" not in request.headers
    assert request.headers.get("transfer-encoding") == "chunked"
    error = assert_envelope(client.send(request), 413)
    assert error["code"] == "body_too_large"
    assert_still_serves(client)


def test_a_small_chunked_body_is_served(client):
    def chunks():
        yield json.dumps(WORKED_EXAMPLE).encode()

    response = client.send(client.build_request("POST", TRACE, content=chunks(), headers=JSON))
    assert response.status_code == 200


@pytest.mark.parametrize("body", [
    b'{"source": ',
    b'{"source": "x", "values": {"x": 1},}',
    b"{'source': 'x'}",
    b"",
    b"[1, 2]",
    b"null",
    b'"x"',
], ids=["truncated", "trailing-comma", "single-quotes", "empty", "array", "null", "string"])
def test_a_body_that_is_not_a_json_object_gets_the_envelope(client, body):
    error = assert_envelope(post_raw(client, body))
    assert error["code"] in ("invalid_request", "bad_request")
    assert "JSON" in error["message"]
    assert_still_serves(client)


def test_invalid_utf8_gets_the_envelope(client):
    assert_envelope(post_raw(client, b'{"source": "x\xff\xfe", "values": {"x": 1}}'))
    assert_envelope(post_raw(client, b'{"source": "x", "values": {"\xc3\x28": 1}}'))
    assert_still_serves(client)


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_deeply_nested_json_arrays_get_the_envelope(client, depth):
    body = b'{"source": "x", "values": {"x": ' + b"[" * depth + b"1" + b"]" * depth + b"}}"
    assert_envelope(post_raw(client, body))
    assert_still_serves(client)


def test_a_body_that_is_not_json_at_all_gets_the_envelope(client):
    assert_envelope(post_raw(client, b"source=x", headers={"content-type": "application/x-www-form-urlencoded"}))


# ---- Fields with bad content ----------------------------------------------------------------

@pytest.mark.parametrize("rate, cap", [(0, "min_learning_rate"), (-0.1, "min_learning_rate"),
                                       (LIMITS.min_learning_rate / 10, "min_learning_rate"),
                                       (LIMITS.max_learning_rate * 10, "max_learning_rate")])
def test_a_learning_rate_out_of_range_is_refused_naming_the_bound(client, rate, cap):
    body = {**WORKED_EXAMPLE, "params": ["x"], "learning_rate": rate}
    error = assert_envelope(client.post(TRACE, json=body), 422)
    assert error["where"] == {"field": "learning_rate", "limit": cap}
    assert error["message"].count(f"({cap})") == 1


def test_params_without_a_learning_rate_are_refused(client):
    error = assert_envelope(client.post(TRACE, json={**WORKED_EXAMPLE, "params": ["x"]}), 422)
    assert error["where"] == {"field": "learning_rate"}


@pytest.mark.parametrize("params", [["q"], ["w"], ["f"]], ids=["assigned-name", "absent-name", "output"])
def test_params_naming_a_non_input_are_refused_and_the_message_lists_the_inputs(client, params):
    body = {**WORKED_EXAMPLE, "params": params, "learning_rate": 0.1}
    error = assert_envelope(client.post(TRACE, json=body), 422)
    assert error["where"] == {"field": "params"}
    assert "x, y, z" in error["message"]


def test_params_naming_an_input_twice_are_refused(client):
    body = {**WORKED_EXAMPLE, "params": ["x", "x"], "learning_rate": 0.1}
    error = assert_envelope(client.post(TRACE, json=body), 422)
    assert error["where"] == {"field": "params"}


def test_a_param_that_is_not_a_name_is_refused(client):
    body = {**WORKED_EXAMPLE, "params": ["x.y"], "learning_rate": 0.1}
    error = assert_envelope(client.post(TRACE, json=body), 422)
    assert error["where"] == {"field": "params.0"}


@pytest.mark.parametrize("path", [TRACE, STATE])
def test_unknown_extra_fields_are_refused_by_name(client, path):
    body = {**WORKED_EXAMPLE, "step": 0, "learningrate": 0.1}
    if path == TRACE:
        body.pop("step")
    error = assert_envelope(client.post(path, json=body), 422)
    assert error["where"] == {"field": "learningrate"}
    assert "spelling" in error["message"]


def test_step_on_the_trace_route_is_an_unknown_field(client):
    error = assert_envelope(client.post(TRACE, json={**WORKED_EXAMPLE, "step": 1}), 422)
    assert error["where"] == {"field": "step"}


@pytest.mark.parametrize("step, cap", [(10, None), (999, None), (LIMITS.max_steps, None),
                                       (LIMITS.max_steps + 1, "max_steps"), (-1, None), (10**12, "max_steps"),
                                       (2.5, None), (True, None)])
def test_a_step_out_of_range_is_refused(client, step, cap):
    error = assert_envelope(client.post(STATE, json={**WORKED_EXAMPLE, "step": step}), 422)
    assert error["where"] == ({"field": "step", "limit": cap} if cap else {"field": "step"})
    assert_still_serves(client)


def test_a_missing_step_is_refused(client):
    error = assert_envelope(client.post(STATE, json=WORKED_EXAMPLE), 422)
    assert error["where"] == {"field": "step"}


def test_a_missing_source_is_refused(client):
    error = assert_envelope(client.post(TRACE, json={"values": {"x": 1}}), 422)
    assert error["where"] == {"field": "source"}


def test_gradcheck_over_the_work_cap_is_refused(client):
    source = "x" + " + 1" * 2499
    values = {"x": [[1.0] * 100] * 100}
    error = assert_envelope(client.post(TRACE, json={"source": source, "values": values, "gradcheck": True}), 422)
    assert error["where"] == {"field": "gradcheck", "limit": "max_gradcheck_work"}
    assert "max_gradcheck_work" in error["message"]


# ---- A value over a cap: where.limit names the cap, as GET /api/v1/limits does ------------------

_NET = {"layers": [{"units": 4}, {"units": 1}], "loss": "bce", "data": {"dataset": "xor", "points": 40},
        "iterations": 5}
OVER_A_CAP = [
    ("source", TRACE, {"source": "x" * (LIMITS.max_source_chars + 1)}, "source", "max_source_chars"),
    ("tensor-side", TRACE, {"source": "x", "values": {"x": [1] * (LIMITS.max_tensor_side + 1)}}, "values.x",
     "max_tensor_side"),
    ("step", STATE, {**WORKED_EXAMPLE, "step": LIMITS.max_steps + 1}, "step", "max_steps"),
    ("units", "/api/v1/network/iteration", {**_NET, "layers": [{"units": LIMITS.max_units + 1}, {"units": 1}]},
     "layers.0.units", "max_units"),
    ("grid", "/api/v1/network/compare", {**_NET, "grid": LIMITS.max_grid + 1}, "grid", "max_grid"),
    ("learning-rate-floor", "/api/v1/network/train", {**_NET, "optimizer": {"learning_rate": 1e-20}},
     "optimizer.learning_rate", "min_learning_rate"),
    ("adam-steps", "/api/v1/network/train", {**_NET, "optimizer_state": {"t": LIMITS.max_steps_taken + 1}},
     "optimizer_state.t", "max_steps_taken"),
    ("noise", "/api/v1/data/points", {"data": {"dataset": "moons", "noise": LIMITS.max_noise * 2}}, "data.noise",
     "max_noise"),
    ("points-query", f"/api/v1/data/points?dataset=moons&points={LIMITS.max_points + 1}", None, "query.points",
     "max_points"),
    ("room-url", "/api/v1/rooms", {"page": "explorer", "url": "/" + "a" * LIMITS.max_room_url_chars}, "url",
     "max_room_url_chars"),
]


@pytest.mark.parametrize("path, body, field, cap", [case[1:] for case in OVER_A_CAP],
                         ids=[case[0] for case in OVER_A_CAP])
def test_a_value_over_a_cap_names_the_cap_in_where_as_the_limits_route_does(client, path, body, field, cap):
    response = client.get(path) if body is None else client.post(path, json=body)
    error = assert_envelope(response, 422)
    assert error["where"] == {"field": field, "limit": cap}
    assert error["message"].count(f"({cap})") == 1  # named once, by the request model, not again by the envelope
    assert cap in client.get("/api/v1/limits").json()


# ---- Routes and methods -----------------------------------------------------------------------

@pytest.mark.parametrize("method, path, status", [
    ("GET", "/api/v1/nope", 404),
    ("GET", TRACE, 405),
    ("PUT", STATE, 405),
    ("DELETE", "/api/v1/health", 405),
])
def test_unknown_routes_and_methods_get_the_envelope(client, method, path, status):
    assert_envelope(client.request(method, path), status)


# ---- Legal programs whose numbers break -------------------------------------------------------

NUMERICALLY_BAD = [
    # source, values, the node's label, its status
    ("exp(1000)", {}, "exp(1000)", "overflow"),
    ("log(0)", {}, "log(0)", "div0"),
    ("1/0", {}, "1/0", "div0"),
    ("sqrt(-1)", {}, "sqrt(-1)", "nan"),
    ("9**9**9", {}, "9**9**9", "overflow"),
    ("0*log(0)", {}, "log(0)", "div0"),
    ("y = exp(x)", {"x": 1000}, "y", "overflow"),
    ("y = log(x)", {"x": 0}, "y", "div0"),
    ("y = x / 0", {"x": 1}, "y", "div0"),
    ("y = sqrt(x)", {"x": -1}, "y", "nan"),
    ("y = x ** 9 ** 9", {"x": 9}, "y", "overflow"),
]


@pytest.mark.parametrize("source, values, label, status", NUMERICALLY_BAD,
                         ids=[f"{case[0]}@{case[1]}" for case in NUMERICALLY_BAD])
def test_a_numerically_bad_program_answers_200_with_null_and_a_status_on_the_exact_node(client, source, values,
                                                                                        label, status):
    response = client.post(TRACE, json={"source": source, "values": values})
    assert response.status_code == 200
    assert b"NaN" not in response.content and b"Infinity" not in response.content
    answer = strict_json(response.text)
    nodes = by_label(answer)
    assert nodes[label]["value"] is None
    assert nodes[label]["status"] == status
    assert nodes[label]["bad_from"] == nodes[label]["id"]  # it began here
    broken = [node["label"] for node in answer["nodes"] if node["bad_from"] == node["id"]]
    assert broken == [label]  # and nowhere else
    for node in answer["nodes"]:
        assert (node["value"] is None) == (node["status"] != "ok")


def test_zero_times_log_zero_is_nan_and_points_back_to_the_log(client):
    nodes = by_label(strict_json(client.post(TRACE, json={"source": "0*log(0)", "values": {}}).text))
    assert nodes["0*log(0)"]["value"] is None
    assert nodes["0*log(0)"]["status"] == "nan"
    assert nodes["0*log(0)"]["bad_from"] == nodes["log(0)"]["id"]


def test_a_non_finite_gradient_is_null_with_a_status_and_its_origin(client):
    response = client.post(TRACE, json={"source": "u = log(x)\nf = x * u", "values": {"x": 0}})
    assert response.status_code == 200
    answer = strict_json(response.text)
    nodes = by_label(answer)
    assert nodes["u"]["status"] == "div0" and nodes["f"]["status"] == "nan"
    assert nodes["x"]["grad"] is None and nodes["x"]["grad_status"] != "ok"
    for step in answer["steps"]:
        for key in ("value", "grad", "upstream", "local", "contribution"):
            assert step.get(key, 0) is None or isinstance(step.get(key, 0), (int, float, list))


def test_numerically_bad_programs_with_an_update_and_gradcheck_stay_strict_json(client):
    body = {"source": "y = log(x) * w", "values": {"x": 0, "w": 2}, "params": ["w", "x"], "learning_rate": 0.1,
            "gradcheck": True}
    response = client.post(TRACE, json=body)
    assert response.status_code == 200
    answer = strict_json(response.text)
    assert answer["update"]["loss_before"] is None
    assert {row["verdict"] for row in answer["gradcheck"]} <= {"undefined", "fail", "warn", "pass"}
    state = client.post(STATE, json={**body, "step": 3})
    assert state.status_code == 200
    strict_json(state.text)


# ---- An unexpected exception: still the envelope, still the security headers, nothing echoed -----

POLICY = Settings.model_fields["content_security_policy"].default
SECRET = "<script>secret-detail</script>"  # an exception's text may hold the input: it never goes out
SECURITY_HEADERS = ("content-security-policy", "x-content-type-options", "referrer-policy", "x-frame-options",
                    "cross-origin-opener-policy", "permissions-policy")


class Body(BaseModel):
    n: int


def broken_dependency() -> None:
    raise LookupError(SECRET)


class RaisingMiddleware:
    """A middleware that fails on one path: the failure is in the app's own stack, not in a route."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["path"] == "/test/middleware":
            raise RuntimeError(SECRET)
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def raising_app():
    """The real app (production headers), plus test-only routes that raise in each place a bug can hide."""
    app = create_app(Settings(content_security_policy=POLICY, rate_limit_enabled=False))

    @app.get("/test/async")
    async def raises_in_the_loop() -> None:
        raise RuntimeError(SECRET)

    @app.get("/test/sync")
    def raises_in_a_worker_thread() -> None:
        raise KeyError(SECRET)

    @app.post("/test/body")
    async def raises_after_validation(body: Body) -> None:
        raise ZeroDivisionError(SECRET)

    @app.get("/test/dependency")
    async def raises_in_its_dependency(_: None = Depends(broken_dependency)) -> None:
        return None

    app.add_middleware(RaisingMiddleware)
    return app


@pytest.fixture
def raising(raising_app):
    return TestClient(raising_app, raise_server_exceptions=False)


def assert_internal_error(response) -> None:
    assert response.status_code == 500, response.text
    assert response.headers["content-type"] == "application/json"
    assert strict_json(response.text) == {"error": {
        "code": "internal_error", "message": "something went wrong on the server; the request was not processed",
        "where": {}}}
    assert "secret-detail" not in response.text
    for name in SECURITY_HEADERS:
        assert name in response.headers, (name, dict(response.headers))
    assert response.headers["content-security-policy"] == POLICY
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("method, path, body", [
    ("GET", "/test/async", None),
    ("GET", "/test/sync", None),
    ("POST", "/test/body", {"n": 1}),
    ("GET", "/test/dependency", None),
    ("GET", "/test/middleware", None),
], ids=["async-route", "sync-route", "after-validation", "dependency", "middleware"])
def test_an_unexpected_exception_is_a_500_envelope_with_the_security_headers(raising, caplog, method, path, body):
    with caplog.at_level(logging.ERROR, logger="backprop_explorer"):
        response = raising.request(method, path, json=body)
    assert_internal_error(response)
    # the traceback is in the server's log (not in the answer), with the request that caused it
    logged = [record for record in caplog.records if record.name == "backprop_explorer"]
    assert len(logged) == 1 and logged[0].exc_info is not None, caplog.text
    assert f"{method} {path}" in logged[0].getMessage()
    assert SECRET in caplog.text
    assert_still_serves(raising)


def test_a_bad_body_on_a_raising_route_is_still_the_4xx_it_was(raising):
    error = assert_envelope(raising.post("/test/body", json={"n": "many"}), 422)
    assert error["where"] == {"field": "n"}


def test_a_real_route_whose_engine_fails_unexpectedly_answers_the_500_envelope(raising, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError(SECRET)

    monkeypatch.setattr(trace_route, "trace_graph", broken)
    assert_internal_error(raising.post(TRACE, json=WORKED_EXAMPLE))
    monkeypatch.undo()
    assert_still_serves(raising)


def test_the_security_headers_wrap_the_last_resort_error_handler(raising_app):
    """Not a user middleware (those sit inside Starlette's ServerErrorMiddleware, which answers the 500)."""
    assert all(entry.cls.__name__ != "SecurityHeaders" for entry in raising_app.user_middleware)
    assert type(raising_app.build_middleware_stack()).__name__ == "SecurityHeaders"
