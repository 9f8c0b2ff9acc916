"""GET /api/v1/ops, /examples, /limits, /health, and the API's own documentation."""
from __future__ import annotations

import re
from typing import Any, Iterator

import pytest

from app import __version__
from engine.limits import LIMITS
from tests.security.fields import KEY, Field, operations, with_key, with_value

from .conftest import app as APP, assert_envelope, strict_json

REQUIRED_FUNCTIONS = {"exp", "log", "sqrt", "tanh", "sigmoid", "relu", "sin", "cos", "abs", "max", "min"}


def get(client, path):
    response = client.get(path)
    assert response.status_code == 200, response.text[:500]
    return strict_json(response.text)


# ---- /ops -----------------------------------------------------------------------------------

def test_ops_lists_the_arithmetic_and_every_function_the_design_asks_for(client):
    ops = {op["name"]: op for op in get(client, "/api/v1/ops")["ops"]}
    assert REQUIRED_FUNCTIONS <= set(ops)
    assert {"add", "sub", "mul", "div", "neg", "pow"} <= set(ops)
    assert ops["pow"]["symbols"] == ["**", "^"] and ops["pow"]["right_associative"] is True
    assert ops["mul"]["local_text"] == ["{b}", "{a}"]
    for op in ops.values():
        assert len(op["local_text"]) == op["arity"]
        assert op["text"] and op["latex"]
        assert set(op["doc"]) == {"en", "zh"}


def test_ops_describes_the_language(client):
    language = get(client, "/api/v1/ops")["language"]
    assert {"statements", "inputs", "power"} <= set(language)


def test_every_listed_function_can_be_called_in_a_program(client):
    for op in get(client, "/api/v1/ops")["ops"]:
        if op["notation"] != "call":
            continue
        arguments = ", ".join("ab"[:op["arity"]])
        body = {"source": f"{op['name']}({arguments})", "values": {name: 0.5 for name in "ab"[:op["arity"]]}}
        response = client.post("/api/v1/trace", json=body)
        assert response.status_code == 200, (op["name"], response.text[:300])


def test_every_listed_infix_symbol_can_be_used_in_a_program(client):
    for op in get(client, "/api/v1/ops")["ops"]:
        for symbol in op["symbols"] if op["notation"] == "infix" else ():
            response = client.post("/api/v1/trace", json={"source": f"a {symbol} b", "values": {"a": 2, "b": 3}})
            assert response.status_code == 200, (symbol, response.text[:300])


# ---- /examples ------------------------------------------------------------------------------

def test_examples_include_the_worked_example(client):
    examples = {example["id"]: example for example in get(client, "/api/v1/examples")["examples"]}
    worked = examples["worked-example"]
    assert worked["source"] == "q = x + y\nf = q * z"
    assert worked["values"] == {"x": -2, "y": 5, "z": -4}
    assert set(worked["title"]) == {"en", "zh"}


def test_every_example_runs_as_a_trace_request(client):
    for example in get(client, "/api/v1/examples")["examples"]:
        body = {key: example[key] for key in ("source", "values", "params", "learning_rate") if key in example}
        response = client.post("/api/v1/trace", json=body)
        assert response.status_code == 200, (example["id"], response.text[:300])
        assert ("update" in response.json()) == ("params" in example)


# ---- /limits and /health --------------------------------------------------------------------

def test_limits_are_the_engine_limits(client):
    assert get(client, "/api/v1/limits") == LIMITS.as_dict()


def test_health_says_ok_and_the_version(client):
    assert get(client, "/api/v1/health") == {"status": "ok", "version": __version__}


# ---- /docs and /openapi.json ----------------------------------------------------------------

def test_docs_page_is_served(client):
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")


def test_openapi_lists_the_trace_routes_and_their_error_envelope(client):
    spec = get(client, "/openapi.json")
    for path in ("/api/v1/trace", "/api/v1/trace/state"):
        post = spec["paths"][path]["post"]
        assert "422" in post["responses"] and "413" in post["responses"]
    for path in ("/api/v1/ops", "/api/v1/examples", "/api/v1/limits", "/api/v1/health"):
        assert "get" in spec["paths"][path]
    assert "/" not in spec["paths"]  # pages stay out of the API description


# ---- Every bound of every request in the schema, every cap named ------------------------------
# The schema is what clients read and what Schemathesis fuzzes: a bound only a validator knows is
# never tested, and a cap the schema does not name cannot be looked up in /limits.

SPEC = APP.openapi()
OPERATIONS = [(f"{method.upper()} {path}", operation) for path, methods in SPEC["paths"].items()
              for method, operation in methods.items()]
REQUEST_OPERATIONS = [(label, operation) for label, operation in OPERATIONS
                      if "requestBody" in operation or operation.get("parameters")]
UPPER = ("maxLength", "maxItems", "maxProperties", "maximum", "exclusiveMaximum")
LOWER = ("minimum", "exclusiveMinimum")
# Caps that a bound stands for without being equal to it.
DERIVED = {"max_layers": {2 * LIMITS.max_layers},  # W[l] and b[l] of each layer
           "max_features": {LIMITS.max_features + 1}}  # a point: its features, then its label
# Bounds that are part of what a value is, not caps (a place's name ends with the key, "." before it).
INTRINSIC = {
    ("beta", "exclusiveMaximum"): "a decay rate is below 1", ("beta1", "exclusiveMaximum"): "a decay rate",
    ("beta2", "exclusiveMaximum"): "a decay rate", ("rho", "exclusiveMaximum"): "a decay rate",
    ("eps", "maximum"): "a guard against dividing by 0, at most 1",
    ("tolerance", "maximum"): "a relative tolerance, or a gradient norm, at most 1",
    ("angle", "maximum"): "degrees", ("angle", "minimum"): "degrees",
    ("parameter", "maximum"): "0 is a, 1 is b",
    ("CompareRequest.optimizers", "maxItems"): "one entry per optimizer of the catalogue",
    ("include", "maxItems"): "its two parts, state and taylor",
    ("path.code", "maxLength"): "a room code's format", ("header.X-Presenter-Key", "maxLength"): "a key's format",
    ("header.Last-Event-ID", "maxLength"): "an event number", ("cookie.bpx_student", "maxLength"): "a student id",
    ("query.after", "maximum"): "JSON's largest exact integer",
}
# The one exception: a room's free-form page state (and results, the same kind of JSON) holds any JSON;
# its size as JSON and its depth are bounds JSON Schema cannot state (app.schemas._bounded_room_json).
FREE_FORM = {"RoomState.state", "RoomResults.results"}


def _resolve(schema: dict[str, Any], spec: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    model = None
    while "$ref" in schema:
        model = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][model]
    return schema, model


def _places(schema: dict[str, Any], spec: dict[str, Any], where: str,
            seen: set[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every place of a request schema: its name (Model.field[].key ...) and its schema, a union's
    members taken one by one with the keywords written beside the union (x-limit, title)."""
    schema, model = _resolve(schema, spec)
    if model is not None:
        if model in seen:
            return
        seen.add(model)
        where = model
    if "anyOf" in schema:
        beside = {key: value for key, value in schema.items() if key != "anyOf"}
        for member in schema["anyOf"]:
            member = member if "$ref" in member else {**beside, **member}
            yield from _places(member, spec, where, seen)
        return
    yield where, schema
    for position, member in enumerate(schema.get("prefixItems", [])):
        yield from _places(member, spec, f"{where}[{position}]", seen)
    if isinstance(schema.get("items"), dict):
        yield from _places(schema["items"], spec, f"{where}[]", seen)
    for name, member in schema.get("properties", {}).items():
        yield from _places(member, spec, f"{where}.{name}", seen)
    if "propertyNames" in schema:
        yield from _places({"type": "string", **schema["propertyNames"]}, spec, f"{where}.<key>", seen)
    if isinstance(schema.get("additionalProperties"), dict) and where not in FREE_FORM:
        yield from _places(schema["additionalProperties"], spec, f"{where}.*", seen)


def _unbounded(where: str, schema: dict[str, Any]) -> list[str]:
    """What this place lacks: maxLength, maxItems, a bound on each side, or a bound on its entries."""
    kind = schema.get("type")
    if "enum" in schema or "const" in schema or kind in ("boolean", "null"):
        return []
    if kind == "string":
        return [] if "maxLength" in schema else [f"{where}: maxLength"]
    if kind in ("number", "integer"):
        return [f"{where}: {side}" for side in ("maximum", "minimum")
                if side not in schema and f"exclusive{side.title()}" not in schema]
    if kind == "array":
        return [] if "maxItems" in schema else [f"{where}: maxItems"]
    if kind == "object" and "properties" in schema:
        return [] if schema.get("additionalProperties") is False else [f"{where}: additionalProperties"]
    if kind == "object":
        problems = [] if "maxProperties" in schema else [f"{where}: maxProperties"]
        if "maxLength" not in schema.get("propertyNames", {}):
            problems.append(f"{where}: propertyNames.maxLength")
        extra = schema.get("additionalProperties")
        if where not in FREE_FORM and not (isinstance(extra, dict) and ("type" in extra or "anyOf" in extra)):
            problems.append(f"{where}: any JSON in its entries")
        return problems
    return [f"{where}: no type"]


def _format_bounds_its_length(pattern: str) -> bool:
    """A pattern such as ^[Wb][1-9][0-9]?$ or ^[a-z][a-z0-9_-]{0,31}$ bounds the length by itself."""
    return not re.search(r"[*+]|\{\d+,\}", pattern)


def _unnamed(where: str, schema: dict[str, Any]) -> list[str]:
    """The bounds of this place that name no cap of engine.limits and are not part of what the value is."""
    limits = LIMITS.as_dict()
    cap, floor = schema.get("x-limit"), schema.get("x-limit-minimum")
    problems = [f"{where}: {key} {name} is not in engine.limits" for key, name in
                (("x-limit", cap), ("x-limit-minimum", floor)) if name is not None and name not in limits]
    for keyword in UPPER + LOWER:
        if keyword not in schema:
            continue
        bound = schema[keyword]
        intrinsic = any(keyword == known and (where == suffix or where.endswith("." + suffix))
                        for suffix, known in INTRINSIC)
        if keyword in UPPER:
            named = cap in limits and (limits[cap] == bound or bound in DERIVED.get(cap, ()))
            shape = keyword == "maxItems" and schema.get("minItems") == bound  # [a, b]: a pair, not a cap
            fixed = keyword == "maxLength" and _format_bounds_its_length(schema.get("pattern", "*"))
            named = named or shape or fixed
        else:
            named = (floor in limits and limits[floor] == bound) or (cap in limits and limits[cap] == -bound)
            named = named or bound in (0, 1, 2)  # counts and positive quantities: at least one layer, above 0
        if not (named or intrinsic):
            problems.append(f"{where}: {keyword} {bound} names no cap of engine.limits (x-limit)")
    return problems


def _request_places(label: str, operation: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    seen: set[str] = set()
    places = []
    for content in operation.get("requestBody", {}).get("content", {}).values():
        places += _places(content["schema"], SPEC, label, seen)
    for parameter in operation.get("parameters", []):
        places += _places(parameter["schema"], SPEC, f"{parameter['in']}.{parameter['name']}", seen)
    return places


@pytest.mark.parametrize("label, operation", REQUEST_OPERATIONS, ids=[label for label, _ in REQUEST_OPERATIONS])
def test_every_string_list_number_and_object_of_every_request_is_bounded_in_the_schema(label, operation):
    places = _request_places(label, operation)
    assert places
    assert [problem for where, schema in places for problem in _unbounded(where, schema)] == []


@pytest.mark.parametrize("label, operation", REQUEST_OPERATIONS, ids=[label for label, _ in REQUEST_OPERATIONS])
def test_every_bound_from_engine_limits_names_its_cap_in_the_schema(label, operation):
    places = _request_places(label, operation)
    assert [problem for where, schema in places for problem in _unnamed(where, schema)] == []


def test_the_bounds_walk_finds_an_unnamed_cap_and_a_list_of_lists_without_max_items():
    """The two gaps found by hand before this walk existed: a trace source whose maxLength named no cap,
    and own points (a list of lists, inside anyOf with null) whose outer list had no maxItems."""
    number = {"type": "number", "minimum": -LIMITS.max_abs_value, "maximum": LIMITS.max_abs_value,
              "x-limit": "max_abs_value"}
    row = {"type": "array", "maxItems": LIMITS.max_features + 1, "x-limit": "max_features", "items": number}
    spec = {"components": {"schemas": {"Before": {
        "type": "object", "additionalProperties": False, "properties": {
            "source": {"type": "string", "maxLength": LIMITS.max_source_chars},
            "custom": {"anyOf": [{"type": "array", "items": row}, {"type": "null"}], "x-limit": "max_points"}}}}}}
    places = list(_places({"$ref": "#/components/schemas/Before"}, spec, "", set()))
    assert {where for where, _ in places} == {"Before", "Before.source", "Before.custom", "Before.custom[]",
                                              "Before.custom[][]"}
    assert [problem for where, schema in places for problem in _unbounded(where, schema)] == [
        "Before.custom: maxItems"]
    assert [problem for where, schema in places for problem in _unnamed(where, schema)] == [
        "Before.source: maxLength 50000 names no cap of engine.limits (x-limit)"]


def _any_json_in_entries(schema: dict[str, Any]) -> bool:
    extra = schema.get("additionalProperties", True)
    return schema.get("type") == "object" and "properties" not in schema and not (isinstance(extra, dict) and extra)


def test_the_room_state_and_results_are_the_one_place_whose_entries_are_any_json(client):
    assert get(client, "/openapi.json") == SPEC  # the document clients are served is the one walked here
    free = {where for label, operation in REQUEST_OPERATIONS for where, schema in _request_places(label, operation)
            if _any_json_in_entries(schema)}
    assert free == FREE_FORM


# One past each cap the schema names, in every request: the 422 names that cap.

def _fitting(schema: dict[str, Any]) -> Any:
    """The simplest value a place of the schema accepts (for the items of a list made too long)."""
    schema = _resolve(schema, SPEC)[0]
    if "anyOf" in schema:
        return _fitting(next(member for member in schema["anyOf"] if member.get("type") != "null"))
    if "enum" in schema or "const" in schema:
        return schema["enum"][0] if "enum" in schema else schema["const"]
    kind = schema.get("type")
    if kind in ("number", "integer"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0) + (1 if "exclusiveMinimum" in schema else 0))
        return max(low, 0) if kind == "integer" else float(max(low, 0.0))
    if kind == "string":
        return _fitting_text(schema, max(1, schema.get("minLength", 1)))
    if kind == "array":
        if "prefixItems" in schema:
            return [_fitting(member) for member in schema["prefixItems"]]
        return [_fitting(schema.get("items", {}))] * max(1, schema.get("minItems", 1))
    if kind == "object":
        return {name: _fitting(member) for name, member in schema.get("properties", {}).items()
                if name in schema.get("required", [])}
    return 1.0


def _fitting_text(schema: dict[str, Any], length: int, distinct: int = 0) -> str:
    """A text of this length that matches the place's pattern (a name, W1, a path), number `distinct` of its kind."""
    pattern = re.compile(schema.get("pattern", ".*"))
    for start in ("x", "W", "/", "n"):
        text = (start + str(distinct) if distinct else start).ljust(length, "1" if start == "W" else "a")
        if pattern.search(text):
            return text
    raise AssertionError(f"no text fits {pattern.pattern}")


def _one_past(field: Field, keyword: str) -> Any:
    bound, schema = field.schema[keyword], field.schema
    if keyword == "maxLength":
        return _fitting_text(schema, bound + 1)
    if keyword == "maxItems":
        return [_fitting(schema.get("items", {}))] * (bound + 1)
    if keyword == "maxProperties":
        names = {"type": "string", **schema.get("propertyNames", {})}
        extra = schema.get("additionalProperties")
        entry = _fitting(extra) if isinstance(extra, dict) else 1
        return {_fitting_text(names, 2, distinct=number + 1): entry for number in range(bound + 1)}
    if keyword == "exclusiveMaximum":
        return bound
    if keyword == "maximum":
        return bound + 1 if field.kind == "integer" else bound * 2 if bound > 0 else bound + 1
    return bound / 2 if bound > 0 else bound * 2  # minimum: under min_learning_rate, or under -max_abs_value


def _capped_fields() -> list[Any]:
    cases, seen = [], set()
    for operation in operations(SPEC):
        for field in operation.fields:
            cap, floor = field.schema.get("x-limit"), field.schema.get("x-limit-minimum")
            for keyword in (*UPPER, *LOWER):
                if keyword not in field.schema or (cap is None and floor is None):
                    continue
                limit = floor if keyword in LOWER and floor is not None else cap
                if keyword in LOWER and getattr(LIMITS, limit) not in (field.schema[keyword], -field.schema[keyword]):
                    continue  # a lower bound of its own (at least one), not a cap
                if (operation.label, field.name, keyword) not in seen:
                    seen.add((operation.label, field.name, keyword))
                    cases.append(pytest.param(operation, field, keyword, limit,
                                              id=f"{operation.label} {field.name} {keyword}"))
    return cases


@pytest.mark.parametrize("operation, field, keyword, limit", _capped_fields())
def test_a_request_one_past_a_cap_is_422_naming_the_cap(client, operation, field, keyword, limit):
    if field.path[-1] is KEY:
        body = with_key(operation.example, field.path, _one_past(field, keyword))
    else:
        body = with_value(operation.example, field.path, _one_past(field, keyword))
    response = client.request(operation.method, operation.path.replace("{code}", "ABCDEF"), json=body)
    error = assert_envelope(response, 422)
    assert f"({limit})" in error["message"], error


def test_trace_bounds_in_the_schema_are_the_engine_limits_and_name_them(client):
    spec = get(client, "/openapi.json")
    fields = spec["components"]["schemas"]["StateRequest"]["properties"]
    assert (fields["source"]["maxLength"], fields["source"]["x-limit"]) == (LIMITS.max_source_chars, "max_source_chars")
    assert (fields["values"]["maxProperties"], fields["values"]["x-limit"]) == (LIMITS.max_inputs, "max_inputs")
    names = fields["values"]["propertyNames"]
    assert (names["maxLength"], names["x-limit"]) == (LIMITS.max_name_chars, "max_name_chars")
    assert (fields["params"]["maxItems"], fields["params"]["x-limit"]) == (LIMITS.max_params, "max_params")
    assert fields["params"]["items"]["pattern"] == "^[A-Za-z_][A-Za-z0-9_]*$"
    rate = next(member for member in fields["learning_rate"]["anyOf"] if member.get("type") == "number")
    assert (rate["minimum"], rate["maximum"]) == (LIMITS.min_learning_rate, LIMITS.max_learning_rate)
    assert (rate["x-limit-minimum"], rate["x-limit"]) == ("min_learning_rate", "max_learning_rate")
    assert (fields["step"]["maximum"], fields["step"]["x-limit"]) == (LIMITS.max_steps, "max_steps")
    vector, matrix = [member for member in fields["values"]["additionalProperties"]["anyOf"]
                      if member["type"] == "array"]
    assert (vector["maxItems"], vector["x-limit"]) == (LIMITS.max_tensor_side, "max_tensor_side")
    assert (matrix["items"]["maxItems"], matrix["items"]["x-limit"]) == (LIMITS.max_tensor_side, "max_tensor_side")
    assert (vector["items"]["maximum"], vector["items"]["x-limit"]) == (LIMITS.max_abs_value, "max_abs_value")


def test_network_bounds_in_the_schema_are_the_engine_limits_and_name_them(client):
    spec = get(client, "/openapi.json")
    schemas = spec["components"]["schemas"]
    train = schemas["TrainRequest"]["properties"]

    def bound(field: dict[str, Any], key: str) -> Any:
        return next(member[key] for member in [field, *field.get("anyOf", [])] if key in member)

    data, parse = schemas["DataSpec"]["properties"], schemas["DataParseRequest"]["properties"]
    expected = [  # (field, bound, its cap)
        (schemas["LayerSpec"]["properties"]["units"], "maximum", "max_units"),
        (train["layers"], "maxItems", "max_layers"),
        (train["iterations"], "maximum", "max_iterations"),
        (train["batch_size"], "maximum", "max_points"),
        (train["seed"], "maximum", "max_seed"),
        (train["l2"], "maximum", "max_l2"),
        (train["test_fraction"], "maximum", "max_test_fraction"),
        (train["grid"], "maximum", "max_grid"),
        (data["points"], "maximum", "max_points"),
        (data["custom"], "maxItems", "max_points"),
        (data["noise"], "maximum", "max_noise"),
        (data["classes"], "maximum", "max_classes"),
        (data["seed"], "maximum", "max_seed"),
        (parse["text"], "maxLength", "max_upload_chars"),
    ]
    for field, key, limit in expected:
        assert bound(field, key) == getattr(LIMITS, limit), limit
        assert field["x-limit"] == limit
    rate = schemas["OptimizerSpec"]["properties"]["learning_rate"]
    assert (rate["minimum"], rate["maximum"]) == (LIMITS.min_learning_rate, LIMITS.max_learning_rate)
    row = schemas["DataSpec"]["properties"]["custom"]["anyOf"][0]["items"]
    assert (row["maxItems"], row["x-limit"]) == (LIMITS.max_features + 1, "max_features")
    factor = train["divergence_factor"]
    assert (factor["maximum"], factor["x-limit"]) == (LIMITS.max_training_divergence_factor,
                                                      "max_training_divergence_factor")


def test_limits_include_the_network_caps(client):
    limits = get(client, "/api/v1/limits")
    for name in ("max_layers", "max_units", "max_points", "max_iterations", "max_upload_chars", "max_grid",
                 "max_l2", "max_test_fraction", "max_noise", "max_neuron_parameters", "max_seed"):
        assert limits[name] == getattr(LIMITS, name)


def test_ops_explains_tensors_matmul_axes_and_samples_as_columns(client):
    tensors = get(client, "/api/v1/ops")["language"]["tensors"]
    assert "@" in tensors and "sum(x, 1)" in tensors and "COLUMNS" in tensors
