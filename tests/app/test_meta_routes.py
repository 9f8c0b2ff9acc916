"""GET /api/v1/ops, /examples, /limits, /health, and the API's own documentation."""
from __future__ import annotations

from typing import Any

import pytest

from app import __version__
from engine.limits import LIMITS

from .conftest import strict_json

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


def _resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _unbounded(schema: dict[str, Any], spec: dict[str, Any], where: str) -> list[str]:
    """Every place in a request schema where a string, number, list or object has no upper bound."""
    schema = _resolve(schema, spec)
    if "anyOf" in schema:
        return [problem for k, member in enumerate(schema["anyOf"])
                for problem in _unbounded(member, spec, f"{where}|{k}")]
    kind = schema.get("type")
    if kind == "string":
        return [] if "maxLength" in schema or "enum" in schema or "const" in schema else [f"{where}: maxLength"]
    if kind in ("number", "integer"):
        return [f"{where}: {key}" for key in ("maximum", "minimum")
                if key not in schema and f"exclusive{key.title()}" not in schema]
    if kind == "array":
        problems = [] if "maxItems" in schema else [f"{where}: maxItems"]
        return problems + _unbounded(schema.get("items", {}), spec, f"{where}[]")
    if kind == "object":
        problems = []
        if "properties" in schema:
            if schema.get("additionalProperties") is not False:
                problems.append(f"{where}: additionalProperties")
            for name, member in schema["properties"].items():
                problems += _unbounded(member, spec, f"{where}.{name}")
            return problems
        if "maxProperties" not in schema:
            problems.append(f"{where}: maxProperties")
        names = schema.get("propertyNames", {})
        if "maxLength" not in names and "pattern" not in names and not schema.get("patternProperties"):
            problems.append(f"{where}: key length")
        for pattern, member in schema.get("patternProperties", {}).items():
            problems += _unbounded(member, spec, f"{where}.<{pattern}>")
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            problems += _unbounded(extra, spec, f"{where}.*")
        return problems
    if kind in ("boolean", "null"):
        return []
    return [f"{where}: no type"]


NETWORK_MODELS = ["IterationRequest", "TrainRequest", "CompareRequest", "DataParseRequest", "DataPointsRequest"]


@pytest.mark.parametrize("model", ["TraceRequest", "StateRequest", *NETWORK_MODELS])
def test_every_request_field_is_bounded_in_the_openapi_schema(client, model):
    spec = get(client, "/openapi.json")
    schema = spec["components"]["schemas"][model]
    assert schema.get("additionalProperties") is False
    assert _unbounded(schema, spec, model) == []


def test_request_bounds_in_the_schema_are_the_engine_limits(client):
    spec = get(client, "/openapi.json")
    fields = spec["components"]["schemas"]["StateRequest"]["properties"]
    assert fields["source"]["maxLength"] == LIMITS.max_source_chars
    assert fields["values"]["maxProperties"] == LIMITS.max_inputs
    assert fields["values"]["propertyNames"]["maxLength"] == LIMITS.max_name_chars
    assert fields["params"]["maxItems"] == LIMITS.max_params
    assert fields["params"]["items"]["pattern"] == "^[A-Za-z_][A-Za-z0-9_]*$"
    rate = next(member for member in fields["learning_rate"]["anyOf"] if member.get("type") == "number")
    assert (rate["minimum"], rate["maximum"]) == (LIMITS.min_learning_rate, LIMITS.max_learning_rate)
    assert fields["step"]["maximum"] == LIMITS.max_steps


def test_every_query_parameter_of_the_points_route_is_bounded(client):
    spec = get(client, "/openapi.json")
    parameters = spec["paths"]["/api/v1/data/points"]["get"]["parameters"]
    assert {parameter["name"] for parameter in parameters} == {"dataset", "points", "noise", "classes", "seed",
                                                              "test_fraction"}
    for parameter in parameters:
        assert _unbounded(parameter["schema"], spec, parameter["name"]) == []


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
    assert row["maxItems"] == LIMITS.max_features + 1


def test_limits_include_the_network_caps(client):
    limits = get(client, "/api/v1/limits")
    for name in ("max_layers", "max_units", "max_points", "max_iterations", "max_upload_chars", "max_grid",
                 "max_l2", "max_test_fraction", "max_noise", "max_neuron_parameters", "max_seed"):
        assert limits[name] == getattr(LIMITS, name)


def test_ops_explains_tensors_matmul_axes_and_samples_as_columns(client):
    tensors = get(client, "/api/v1/ops")["language"]["tensors"]
    assert "@" in tensors and "sum(x, 1)" in tensors and "COLUMNS" in tensors
