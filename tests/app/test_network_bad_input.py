"""Bad network requests: every one is a 4xx envelope naming the field (and the cap it passed), never a 500."""
from __future__ import annotations

import json
from typing import Any

import pytest

from engine.limits import LIMITS

from .conftest import assert_envelope

ITERATION = "/api/v1/network/iteration"
TRAIN = "/api/v1/network/train"
COMPARE = "/api/v1/network/compare"
STREAM = "/api/v1/network/train/stream"
JSON = {"content-type": "application/json"}

BASE = {"layers": [{"units": 4, "activation": "tanh"}, {"units": 1}], "loss": "bce",
        "data": {"dataset": "xor", "points": 40, "seed": 0}, "iterations": 5}


def with_(path: str, value: Any, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """BASE (or body) with the field at a dotted path set to value."""
    body = json.loads(json.dumps(body or BASE))
    *parents, last = path.split(".")
    target = body
    for part in parents:
        target = target[int(part)] if part.isdigit() else target.setdefault(part, {})
    if last.isdigit():
        target[int(last)] = value
    else:
        target[last] = value
    return body


def for_route(path: str, body: dict[str, Any]) -> dict[str, Any]:
    """The body without the training fields when it goes to /network/iteration."""
    return {key: value for key, value in body.items() if key != "iterations"} if path == ITERATION else body


def assert_still_serves(client) -> None:
    response = client.post(TRAIN, json=BASE)
    assert response.status_code == 200 and response.json()["status"] == "finished"


# ---- Out of bounds: 0, negative, fractional, huge -------------------------------------------------

FIELDS = [
    # (dotted path, bad values, the field the answer names, the cap named for the huge value)
    ("layers.0.units", [0, -3, 2.5, "8", True, None, 10**6], "layers.0.units", "max_units"),
    ("layers.1.units", [0, 10**6], "layers.1.units", "max_units"),
    ("data.points", [0, -1, 1, 2.5, 10**6], "data.points", "max_points"),
    ("data.noise", [-0.1, 2.0, "0.1"], "data.noise", "max_noise"),
    ("data.classes", [1, 2.5, 1000], "data.classes", "max_classes"),
    ("data.seed", [-1, 0.5, 2**40], "data.seed", "max_seed"),
    ("iterations", [0, -5, 2.5, 10**9], "iterations", "max_iterations"),
    ("batch_size", [0, -1, 2.5, 10**6], "batch_size", "max_points"),
    ("seed", [-1, 1.5, 2**40], "seed", "max_seed"),
    ("l2", [-1.0, 1e6], "l2", "max_l2"),
    ("test_fraction", [-0.1, 0.9], "test_fraction", "max_test_fraction"),
    ("grid", [0, 1, 10**4], "grid", "max_grid"),
    ("eval_every", [0, 10**9], "eval_every", "max_iterations"),
    ("optimizer.learning_rate", [0, -0.1, 1e7, "0.1", None], "optimizer.learning_rate", None),
    ("optimizer.beta", [-0.1, 1.0, 2], "optimizer.beta", None),
    ("optimizer.eps", [0, -1, 2], "optimizer.eps", None),
    ("optimizer.rho", [-0.1, 1.0, 2, "0.9"], "optimizer.rho", None),
    ("optimizer.beta1", [-0.1, 1.0], "optimizer.beta1", None),
    ("optimizer.beta2", [-0.1, 1.0], "optimizer.beta2", None),
    ("batch_index", [-1, 2.5, "3", 2**40], "batch_index", "max_steps_taken"),
    ("divergence_factor", [1, 0.5, 1e301], "divergence_factor", None),
]
CASES = [(path, value, field, cap if value == max(v for v in values if isinstance(v, (int, float))) else None)
         for path, values, field, cap in FIELDS for value in values]


@pytest.mark.parametrize("path, value, field, cap", CASES, ids=[f"{case[0]}={case[1]!r}" for case in CASES])
def test_an_out_of_bounds_field_is_422_naming_it_and_its_cap(client, path, value, field, cap):
    error = assert_envelope(client.post(TRAIN, json=with_(path, value)), 422)
    assert error["where"]["field"] == field, error
    assert error["message"].startswith(field)
    if cap is not None:
        assert error["where"]["limit"] == cap and f"({cap})" in error["message"]


# The issue's list, on every route that takes a network: 0, negative, fractional, a million units, a
# thousand layers, a million points.
ISSUE_LIST = [
    ("zero-units", with_("layers.0.units", 0), "layers.0.units", None),
    ("negative-units", with_("layers.0.units", -4), "layers.0.units", None),
    ("fractional-units", with_("layers.0.units", 2.5), "layers.0.units", None),
    ("a-million-units", with_("layers.0.units", 10**6), "layers.0.units", "max_units"),
    ("a-thousand-layers", {**BASE, "layers": [{"units": 2}] * 1000}, "layers", "max_layers"),
    ("a-million-points", with_("data.points", 10**6), "data.points", "max_points"),
    ("a-million-batch", with_("batch_size", 10**6), "batch_size", "max_points"),
    ("zero-iterations", with_("iterations", 0), "iterations", None),
    ("a-billion-iterations", with_("iterations", 10**9), "iterations", "max_iterations"),
]


ROUTES = {"iteration": ITERATION, "train": TRAIN, "compare": COMPARE, "stream": STREAM}
ON_EVERY_ROUTE = [(route, *case[1:]) for case in ISSUE_LIST for route in ROUTES.values()
                  if not (route == ITERATION and case[2] == "iterations")]


@pytest.mark.parametrize("route, body, field, cap", ON_EVERY_ROUTE,
                         ids=[f"{name}-{case[0]}" for case in ISSUE_LIST for name, route in ROUTES.items()
                              if not (route == ITERATION and case[2] == "iterations")])
def test_the_issues_bad_sizes_are_422_on_every_route_naming_the_field_and_cap(client, route, body, field, cap):
    error = assert_envelope(client.post(route, json=for_route(route, body)), 422)
    assert error["where"]["field"] == field, error
    if cap is not None:
        assert error["where"]["limit"] == cap and f"({cap})" in error["message"]


def test_a_thousand_layers_is_422_naming_max_layers(client):
    error = assert_envelope(client.post(TRAIN, json={**BASE, "layers": [{"units": 2}] * 1000}), 422)
    assert error["where"] == {"field": "layers", "limit": "max_layers"}
    assert "max_layers" in error["message"] and str(LIMITS.max_layers) in error["message"]


def test_no_layers_at_all_is_422(client):
    error = assert_envelope(client.post(TRAIN, json={**BASE, "layers": []}), 422)
    assert error["where"]["field"] == "layers"


@pytest.mark.parametrize("token, path", [("NaN", "data.noise"), ("Infinity", "optimizer.learning_rate"),
                                         ("-Infinity", "l2"), ("NaN", "data.custom")])
def test_nan_and_infinity_are_not_numbers_here(client, token, path):
    body = with_(path, "__TOKEN__")
    if path == "data.custom":
        body["data"] = {"custom": [[0, 0, 0], [1, "__TOKEN__", 1]]}
    raw = json.dumps(body).replace('"__TOKEN__"', token)
    error = assert_envelope(client.post(TRAIN, content=raw, headers=JSON), 422)
    assert error["where"]["field"].startswith(path)
    if path == "data.custom":
        assert error["where"] == {"field": "data.custom.1.1", "row": 2, "column": 2}


def test_a_million_points_of_ones_own_is_refused_before_it_is_read(client):
    rows = "[" + "[0.5, 0.5, 1], " * (10**6 - 1) + "[0.5, 0.5, 1]]"
    raw = json.dumps({**BASE, "data": {"custom": "__ROWS__"}}).replace('"__ROWS__"', rows)
    error = assert_envelope(client.post(TRAIN, content=raw, headers=JSON), 413)
    assert "max_body_bytes" in error["message"]


def test_own_points_over_the_point_cap_name_max_points(client):
    rows = [[0, 0, 0], [1, 1, 1]] * (LIMITS.max_points // 2 + 1)
    error = assert_envelope(client.post(TRAIN, json={**BASE, "data": {"custom": rows}}), 422)
    assert error["where"] == {"field": "data.custom", "limit": "max_points"}


@pytest.mark.parametrize("rows, where", [
    ([[0, 0, 0], [1, 1], [0, 1, 1]], {"field": "data.custom", "row": 2}),
    ([[0, 0, 0], [1, 1, 0.5]], {"field": "data.custom", "row": 2, "column": 3}),
    ([[0, 0, 0], [1, 1, 0]], {"field": "data.custom"}),
    ([[0, 0, 0], [1, True, 1]], {"field": "data.custom.1.1", "row": 2, "column": 2}),
    ([[0, 0, 0], [1, 1e16, 1]], {"field": "data.custom.1.1", "row": 2, "column": 2, "limit": "max_abs_value"}),
    ([[0, 0, 0], [1, "one", 1]], {"field": "data.custom.1.1", "row": 2, "column": 2}),
    ([[0, 0, 0], [1, None, 1]], {"field": "data.custom.1.1", "row": 2, "column": 2}),
], ids=["ragged", "fractional-label", "one-class", "boolean", "too-large", "not-a-number", "null"])
def test_bad_own_points_name_their_row(client, rows, where):
    error = assert_envelope(client.post(TRAIN, json={**BASE, "data": {"custom": rows}}), 422)
    assert error["where"] == where


# ---- Fields that do not fit together --------------------------------------------------------------------

MISFITS = [
    ("unknown-activation", with_("layers.0.activation", "swish"), "layers.0.activation"),
    ("softmax-output-with-bce", with_("layers.1.activation", "softmax"), "layers.1.activation"),
    ("softmax-hidden", with_("layers.0.activation", "softmax"), "layers.0.activation"),
    ("bce-with-two-outputs", with_("layers.1.units", 2), "layers.1.units"),
    ("cross-entropy-with-one-output", with_("loss", "cross_entropy"), "layers.1.units"),
    ("three-classes-with-bce", with_("data", {"dataset": "spiral", "classes": 3}), "loss"),
    ("three-classes-two-outputs", {**with_("data", {"dataset": "spiral", "classes": 3}), "loss": "cross_entropy",
                                   "layers": [{"units": 4}, {"units": 2}]}, "layers.1.units"),
    ("mse-on-classes", with_("loss", "mse"), "loss"),
    ("bce-on-a-regression", with_("data", {"dataset": "sine"}), "loss"),
    ("unknown-loss", with_("loss", "hinge"), "loss"),
    ("unknown-dataset", with_("data", {"dataset": "mnist"}), "data.dataset"),
    ("classes-for-moons", with_("data", {"dataset": "moons", "classes": 3}), "data.classes"),
    ("dataset-and-custom", with_("data", {"dataset": "xor", "custom": [[0, 0, 0], [1, 1, 1]]}), "data"),
    ("no-data-source", with_("data", {"points": 100}), "data"),
    ("custom-with-noise", with_("data", {"custom": [[0, 0, 0], [1, 1, 1]], "noise": 0.1}), "data"),
    ("unknown-optimizer", with_("optimizer.name", "lbfgs"), "optimizer.name"),
    ("extra-field", with_("learningrate", 0.1), "learningrate"),
    ("extra-layer-field", with_("layers.0.dropout", 0.5), "layers.0.dropout"),
    ("too-much-work", {**BASE, "layers": [{"units": 256}, {"units": 256}, {"units": 1}], "iterations": 20_000,
                       "data": {"dataset": "moons", "points": 5000}}, "iterations"),
    ("too-many-parameters", {**BASE, "layers": [{"units": 256}] * 3 + [{"units": 1}]}, "layers"),
]


@pytest.mark.parametrize("body, field", [case[1:] for case in MISFITS], ids=[case[0] for case in MISFITS])
def test_fields_that_do_not_fit_together_are_422_naming_the_field(client, body, field):
    error = assert_envelope(client.post(TRAIN, json=body), 422)
    assert error["where"]["field"] == field, error
    assert_still_serves(client)


def test_the_work_cap_is_named(client):
    body = dict(MISFITS[-2][1])
    error = assert_envelope(client.post(TRAIN, json=body), 422)
    assert error["where"]["limit"] == "max_training_work" and "max_training_work" in error["message"]


# ---- Starting from given parameters and optimizer state ------------------------------------------------

GOOD_PARAMS = {"W1": [[0.1, 0.2]] * 4, "b1": [[0.0]] * 4, "W2": [[0.1, -0.1, 0.2, -0.2]], "b2": [[0.0]]}


@pytest.mark.parametrize("params, field", [
    ({**GOOD_PARAMS, "W1": [[0.1, 0.2, 0.3]] * 4}, "params.W1"),
    ({**GOOD_PARAMS, "W1": [[0.1, 0.2]] * 3}, "params.W1"),
    ({**GOOD_PARAMS, "b1": [0.0] * 4}, "params.b1"),
    ({**GOOD_PARAMS, "W3": [[0.1]]}, "params.W3"),
    ({key: value for key, value in GOOD_PARAMS.items() if key != "b2"}, "params"),
    ({**GOOD_PARAMS, "W1": [[0.1, None]] * 4}, "params.W1"),
    ({**GOOD_PARAMS, "V1": [[0.1]]}, "params.V1"),
], ids=["too-many-columns", "too-few-rows", "bias-as-a-vector", "unknown-layer", "missing-b2", "null", "bad-name"])
def test_params_that_do_not_fit_the_network_are_422(client, params, field):
    for path in (ITERATION, TRAIN):
        error = assert_envelope(client.post(path, json=for_route(path, {**BASE, "params": params})), 422)
        assert error["where"]["field"].startswith(field), error


@pytest.mark.parametrize("optimizer, state, field", [
    ("adam", {"velocity": {"W1": [[0.0, 0.0]] * 4}}, "optimizer_state.velocity"),
    ("sgd", {"t": 1}, "optimizer_state.t"),
    ("momentum", {"velocity": {"W1": [[0.0, 0.0]] * 3}}, "optimizer_state.velocity.W1"),
    ("momentum", {"velocity": {"W5": [[0.0]]}}, "optimizer_state.velocity.W5"),
    ("adam", {"t": 1, "m": {"W1": [[0.0, 0.0]] * 4}}, "optimizer_state.v"),
    ("adam", {"m": {"W1": [[0.0, 0.0]] * 4}, "v": {"W1": [[0.0, 0.0]] * 4}}, "optimizer_state.t"),
    ("adam", {"t": -1}, "optimizer_state.t"),
    ("adam", {"s": 1}, "optimizer_state.s"),
    ("adam", {"t": 2**31}, "optimizer_state.t"),
    ("adam", {"t": 1, "m": {"W1": [[0.0, 0.0]] * 4}, "v": {"W1": [[0.0, -0.1]] * 4}}, "optimizer_state.v.W1"),
    ("rmsprop", {"mean_square": {"b1": [[-1.0]] * 4}}, "optimizer_state.mean_square.b1"),
    ("momentum", {"velocity": {"W1": [[0.0, 1e16]] * 4}}, "optimizer_state.velocity.W1.0.1"),
])
def test_optimizer_state_that_does_not_fit_is_422(client, optimizer, state, field):
    body = {**BASE, "optimizer": {"name": optimizer, "learning_rate": 0.1}, "optimizer_state": state}
    for path in (ITERATION, TRAIN):
        error = assert_envelope(client.post(path, json=for_route(path, body)), 422)
        assert error["where"]["field"] == field, error


# ---- Route-specific fields ----------------------------------------------------------------------------------

def test_the_neuron_view_of_a_big_net_is_refused_naming_the_cap(client):
    body = {**for_route(ITERATION, BASE), "layers": [{"units": 16}, {"units": 16}, {"units": 1}], "view": "neuron"}
    error = assert_envelope(client.post(ITERATION, json=body), 422)
    assert error["where"] == {"field": "layers", "limit": "max_neuron_parameters"}


def test_the_neuron_view_of_a_big_batch_is_refused_naming_the_batch(client):
    body = {**for_route(ITERATION, BASE), "layers": [{"units": 4}, {"units": 4}, {"units": 1}], "view": "neuron",
            "data": {"dataset": "xor", "points": 1000}}
    error = assert_envelope(client.post(ITERATION, json=body), 422)
    assert error["where"] == {"field": "batch_size", "limit": "max_neuron_nodes"}


@pytest.mark.parametrize("body, field", [
    ({"view": "matrix"}, "view"),
    ({"encoding": "numpy"}, "encoding"),
    ({"iterations": 5}, "iterations"),
    ({"batch_index": -1}, "batch_index"),
])
def test_iteration_only_takes_its_own_fields(client, body, field):
    error = assert_envelope(client.post(ITERATION, json={**for_route(ITERATION, BASE), **body}), 422)
    assert error["where"]["field"] == field


@pytest.mark.parametrize("body, field", [
    ({"optimizers": ["sgd", "newton"]}, "optimizers.1.name"),
    ({"optimizers": []}, "optimizers"),
    ({"optimizers": ["sgd"] * 20}, "optimizers"),
    ({"optimizers": [{"name": "adam", "learning_rate": 1e9}]}, "optimizers.0.learning_rate"),
    ({"optimizer_state": {"t": 1}}, "optimizer_state"),
])
def test_bad_compare_requests_are_422(client, body, field):
    error = assert_envelope(client.post(COMPARE, json={**BASE, **body}), 422)
    assert error["where"]["field"] == field, error


@pytest.mark.parametrize("path", [TRAIN, COMPARE, STREAM])
def test_training_answers_come_in_two_encodings_only(client, path):
    error = assert_envelope(client.post(path, json={**BASE, "encoding": "numpy"}), 422)
    assert error["where"]["field"] == "encoding"


def test_a_learning_rate_of_a_million_in_a_comparison_diverges_every_run_without_a_500(client):
    body = {**BASE, "data": {"dataset": "moons", "points": 100}, "iterations": 50,
            "optimizer": {"name": "sgd", "learning_rate": 1e6}, "optimizers": ["sgd", "momentum", "nesterov"]}
    response = client.post(COMPARE, json=body)
    assert response.status_code == 200
    runs = response.json()["runs"]
    assert [run["status"] for run in runs] == ["diverged"] * 3
    for run in runs:
        where = run["divergence"]["where"]
        assert run["divergence"]["learning_rate"] == 1e6 and where["layer"] in (1, 2) and where["unit"] >= 0
    assert_still_serves(client)


@pytest.mark.parametrize("raw", [b"[]", b"7", b"{", b"null", b'{"layers": "many"}'])
def test_bodies_that_are_not_requests_are_422(client, raw):
    for path in (ITERATION, TRAIN, COMPARE, STREAM):
        assert_envelope(client.post(path, content=raw, headers=JSON), 422)


def test_a_bad_stream_request_is_a_json_envelope_not_a_stream(client):
    response = client.post(STREAM, json=with_("layers.0.units", 10**6))
    error = assert_envelope(response, 422)
    assert error["where"] == {"field": "layers.0.units", "limit": "max_units"}
