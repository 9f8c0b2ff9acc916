"""POST /api/v1/network/iteration, /network/train and /network/compare: real numbers through the API, and
what a run does when its client goes away (over a real connection)."""
from __future__ import annotations

import re
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Iterator

import httpx
import numpy as np
import pytest

from app import compute
from app.main import create_app
from app.routes import network
from app.settings import Settings, get_settings
from engine.train import Trainer, batch_rows
from engine.values import from_compact

from .conftest import strict_json
from .test_network_stream import serve

ITERATION = "/api/v1/network/iteration"
TRAIN = "/api/v1/network/train"
COMPARE = "/api/v1/network/compare"

XOR = {"layers": [{"units": 8, "activation": "tanh"}, {"units": 1, "activation": "sigmoid"}], "loss": "bce",
       "data": {"dataset": "xor", "points": 200, "seed": 0}, "optimizer": {"name": "adam", "learning_rate": 0.05},
       "seed": 0}
MOONS = {"layers": [{"units": 16, "activation": "tanh"}, {"units": 16, "activation": "tanh"}, {"units": 1}],
         "loss": "bce", "data": {"dataset": "moons", "points": 200, "seed": 0},
         "optimizer": {"name": "adam", "learning_rate": 0.03}, "seed": 0}
SMALL_SOFTMAX = {"layers": [{"units": 3, "activation": "tanh"}, {"units": 3}], "loss": "cross_entropy",
                 "data": {"dataset": "blobs", "points": 60, "classes": 3, "seed": 1}, "l2": 0.1, "seed": 2,
                 "optimizer": {"name": "momentum", "learning_rate": 0.5}, "batch_size": 4}


def post(client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(path, json=body)
    assert response.status_code == 200, response.text[:500]
    return strict_json(response.text)


def nodes_by_label(trace: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {node["label"]: node for node in trace["nodes"]}


# ---- One iteration: the layer view -----------------------------------------------------------------

def test_the_layer_view_shows_z_and_a_per_layer_with_shapes_then_every_update(client):
    answer = post(client, ITERATION, {**XOR, "batch_size": 5, "optimizer": {"name": "sgd", "learning_rate": 0.5}})
    assert answer["view"] == "layer"
    assert answer["network"]["sizes"] == [2, 8, 1] and answer["network"]["activations"] == ["tanh", "sigmoid"]
    rows = answer["data"].pop("batch_rows")
    assert answer["data"] == {"dataset": "xor", "kind": "classification", "features": 2, "classes": 2, "size": 200,
                              "train_size": 160, "test_size": 40, "batch_size": 5, "batch_index": 0}
    assert rows == batch_rows(160, 5, 0, 0).tolist()
    nodes = nodes_by_label(answer["trace"])
    shapes = {label: nodes[label]["shape"] for label in ("X", "W1", "b1", "Z1", "A1", "W2", "b2", "Z2", "A2", "Y")}
    assert shapes == {"X": [2, 5], "W1": [8, 2], "b1": [8, 1], "Z1": [8, 5], "A1": [8, 5], "W2": [1, 8],
                      "b2": [1, 1], "Z2": [1, 5], "A2": [1, 5], "Y": [1, 5]}
    ids = answer["network"]["node_ids"]["layers"][0]
    assert nodes["W1"]["id"] == ids["W"] and nodes["Z1"]["id"] == ids["Z"]
    # Z1 = W1 X + b1 with the numbers the answer shows
    x, w1, b1 = (np.array(nodes[label]["value"]) for label in ("X", "W1", "b1"))
    np.testing.assert_allclose(nodes["Z1"]["value"], w1 @ x + b1, rtol=1e-12)
    np.testing.assert_allclose(nodes["A1"]["value"], np.tanh(w1 @ x + b1), rtol=1e-12)
    # dZ2 = (A2 - Y) / m reaches b2 as sum(dZ2, 1)
    a2, y = np.array(nodes["A2"]["value"]), np.array(nodes["Y"]["value"])
    np.testing.assert_allclose(nodes["b2"]["grad"], np.sum((a2 - y) / 5, axis=1, keepdims=True), rtol=1e-10)
    updates = [step for step in answer["trace"]["steps"] if step["phase"] == "update"]
    assert [step["node"] for step in updates] == [nodes[name]["id"] for name in ("W1", "b1", "W2", "b2")]
    for name in ("W1", "b1", "W2", "b2"):
        expected = np.array(answer["params"][name]) - 0.5 * np.array(nodes[name]["grad"])
        np.testing.assert_allclose(answer["params_after"][name], expected, rtol=1e-12, atol=1e-15)
    update = answer["trace"]["update"]
    assert update["loss_after"] < update["loss_before"] and update["optimizer"] == "sgd"
    assert answer["non_finite"] is None
    assert answer["optimizer"]["name"] == "sgd" and answer["optimizer"]["state"] == {}


def test_the_default_weights_are_the_seeded_ones_the_same_for_every_optimizer(client):
    first = post(client, ITERATION, {**XOR, "optimizer": {"name": "sgd", "learning_rate": 0.1}})
    again = post(client, ITERATION, {**XOR, "optimizer": {"name": "adam", "learning_rate": 0.01}})
    other = post(client, ITERATION, {**XOR, "seed": 1})
    assert first["params"] == again["params"]
    assert first["params"]["W1"] != other["params"]["W1"]
    assert np.shape(first["params"]["b1"]) == (8, 1) and not np.any(first["params"]["b1"])


# ---- The neuron view agrees with the layer view, bit for bit ------------------------------------------

SCALAR = re.compile(r"^([A-Za-z]+\d*)\[(\d+),(\d+)\]$|^([Wb]\d+)\[(\d+)\]$")


def gathered(trace: dict[str, Any]) -> dict[str, dict[str, np.ndarray]]:
    """The neuron view's scalar nodes (W1[i,j], b1[i], Z1[i,s], A1[i,s], X[j,s], ...) gathered into matrices."""
    cells: dict[str, dict[tuple[int, int], tuple[Any, Any]]] = {}
    for node in trace["nodes"]:
        match = SCALAR.match(node["label"])
        if match is None:
            continue
        if match[1]:
            name, at = match[1], (int(match[2]) - 1, int(match[3]) - 1)
        else:
            name, at = match[4], (int(match[5]) - 1, 0)
        cells.setdefault(name, {})[at] = (node["value"], node["grad"])
    tensors = {}
    for name, entries in cells.items():
        shape = tuple(max(at[k] for at in entries) + 1 for k in (0, 1))
        value, grad = np.full(shape, np.nan), np.full(shape, np.nan)
        for at, (v, g) in entries.items():
            value[at], grad[at] = v, np.nan if g is None else g
        tensors[name] = {"value": value, "grad": grad}
    return tensors


RELU_SIGMOID = {**XOR, "layers": [{"units": 3, "activation": "relu"}, {"units": 1}], "batch_size": 3}


@pytest.mark.parametrize("body", [SMALL_SOFTMAX, RELU_SIGMOID, {**SMALL_SOFTMAX, "batch_index": 17},
                                  {**RELU_SIGMOID, "batch_index": 60}],
                         ids=["tanh-softmax-l2-momentum", "relu-sigmoid-adam", "batch-17", "batch-60-second-pass"])
def test_the_neuron_view_equals_the_layer_view_bit_for_bit_on_every_value_gradient_and_update(client, body):
    layer = post(client, ITERATION, {**body, "view": "layer"})
    neuron = post(client, ITERATION, {**body, "view": "neuron"})
    assert neuron["view"] == "neuron" and neuron["network"]["m"] == layer["network"]["m"]
    layer_nodes = nodes_by_label(layer["trace"])
    scalars = gathered(neuron["trace"])
    sizes = layer["network"]["sizes"]
    expected = {"X", *(f"{kind}{l}" for l in range(1, len(sizes)) for kind in ("W", "b", "Z", "A"))}
    assert expected <= set(scalars)
    # Bit for bit: every number of the neuron view is the layer view's own (engine.nn).
    for name in sorted(expected):
        value = np.array(layer_nodes[name]["value"], dtype=float)
        np.testing.assert_array_equal(scalars[name]["value"], value, err_msg=name, strict=True)
        if name != "X":
            grad = np.array(layer_nodes[name]["grad"], dtype=float)
            np.testing.assert_array_equal(scalars[name]["grad"], grad, err_msg=f"d{name}", strict=True)
    assert nodes_by_label(neuron["trace"])["L"]["value"] == layer_nodes["L"]["value"]
    for name, after in layer["params_after"].items():
        assert neuron["params_after"][name] == after, name
    assert neuron["trace"]["update"]["loss_after"] == layer["trace"]["update"]["loss_after"]
    neuron_updates = [step for step in neuron["trace"]["steps"] if step["phase"] == "update"]
    assert len(neuron_updates) == layer["network"]["parameters"]


# ---- Which batch one iteration takes ------------------------------------------------------------------

def points_of(client, body: dict[str, Any]) -> np.ndarray:
    """The training points as /data/points lists them: rows of x1, x2, label."""
    return np.array(post(client, "/api/v1/data/points", {"data": body["data"]})["train"])


@pytest.mark.parametrize("index", [0, 1, 31, 32, 1000])
def test_one_iteration_takes_the_batch_of_its_index_in_the_runs_seeded_order(client, index):
    body = {**MOONS, "batch_size": 5, "seed": 3, "batch_index": index}
    answer = post(client, ITERATION, body)
    rows = batch_rows(160, 5, 3, index)  # 160 training points: 32 batches of 5 per pass
    assert answer["data"]["batch_rows"] == rows.tolist() and answer["data"]["batch_index"] == index
    x = np.array(nodes_by_label(answer["trace"])["X"]["value"])
    assert x.shape == (2, 5)
    np.testing.assert_array_equal(x.T, points_of(client, body)[rows, :2])
    other = post(client, ITERATION, {**body, "batch_index": index + 1})
    assert other["data"]["batch_rows"] != answer["data"]["batch_rows"]
    assert other["params"] == answer["params"]  # the same weights: only the batch moved on


def test_the_full_batch_ignores_the_batch_index(client):
    first, later = post(client, ITERATION, XOR), post(client, ITERATION, {**XOR, "batch_index": 7})
    assert first["data"]["batch_rows"] == later["data"]["batch_rows"] == list(range(160))
    assert first["trace"]["update"] == later["trace"]["update"]


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_minibatch_iterations_continued_with_their_batch_index_are_the_training_run(client, optimizer):
    body = {**MOONS, "batch_size": 16, "optimizer": {"name": optimizer, "learning_rate": 0.05}}
    params, state, losses = None, None, []
    for index in range(12):  # past the 10 batches of the first pass over the 160 points
        step = {**body, "batch_index": index}
        if params is not None:
            step.update(params=params, optimizer_state=state)
        answer = post(client, ITERATION, step)
        params, state = answer["params_after"], answer["optimizer"]["state"]
        losses.append(answer["trace"]["update"]["loss_before"])
    trained = post(client, TRAIN, {**body, "iterations": 12})
    np.testing.assert_allclose(losses, trained["history"]["batch_loss"], rtol=1e-12)
    for name, value in trained["params"].items():
        np.testing.assert_allclose(params[name], value, rtol=1e-12, atol=1e-15, err_msg=name)
    resumed = post(client, TRAIN, {**body, "iterations": 3, "params": params, "optimizer_state": state,
                                   "batch_index": 12})
    again = post(client, TRAIN, {**body, "iterations": 15})
    np.testing.assert_allclose(resumed["history"]["batch_loss"], again["history"]["batch_loss"][12:], rtol=1e-12)


# ---- Every optimizer setting in a request ---------------------------------------------------------------

def test_rmsprop_takes_rho_and_eps_from_the_request(client):
    body = {**XOR, "optimizer": {"name": "rmsprop", "learning_rate": 0.01, "rho": 0.5, "eps": 1e-4}}
    answer = post(client, ITERATION, body)
    assert answer["optimizer"]["rho"] == 0.5 and answer["optimizer"]["eps"] == 1e-4
    nodes = nodes_by_label(answer["trace"])
    gradient = np.array(nodes["W1"]["grad"])
    expected = np.array(answer["params"]["W1"]) - 0.01 * gradient / (np.sqrt(0.5 * gradient ** 2) + 1e-4)
    np.testing.assert_allclose(answer["params_after"]["W1"], expected, rtol=1e-13)
    np.testing.assert_allclose(answer["optimizer"]["state"]["mean_square"]["W1"], 0.5 * gradient ** 2, rtol=1e-13)
    trained = {rho: post(client, TRAIN, {**body, "iterations": 20, "optimizer": {**body["optimizer"], "rho": rho}})
               for rho in (0.5, 0.99)}
    assert trained[0.5]["optimizer"]["rho"] == 0.5 and trained[0.99]["optimizer"]["rho"] == 0.99
    assert trained[0.5]["history"]["batch_loss"][1] == pytest.approx(answer["trace"]["update"]["loss_after"], rel=1e-12)
    assert trained[0.5]["params"] != trained[0.99]["params"]


def test_compare_entries_take_their_own_rho(client):
    answer = post(client, COMPARE, {**XOR, "iterations": 5, "optimizers": [
        {"name": "rmsprop", "rho": 0.3}, "rmsprop"]})
    assert [run["optimizer"]["rho"] for run in answer["runs"]] == [0.3, 0.9]


# ---- Encodings and continuing ------------------------------------------------------------------------

def decoded(value: Any, nodes: dict[str, dict[str, Any]]) -> Any:
    if isinstance(value, dict) and "ref" in value:
        return decoded(nodes[value["ref"]][value["field"]], nodes)
    if isinstance(value, dict) and "base64" in value:
        return from_compact(value).tolist()
    return value


def test_the_compact_encoding_decodes_to_the_list_encoding(client):
    body = {**MOONS, "batch_size": 32}
    plain = post(client, ITERATION, body)
    compact_response = client.post(ITERATION, json={**body, "encoding": "compact"})
    assert len(compact_response.content) < len(client.post(ITERATION, json=body).content) / 2
    compact = strict_json(compact_response.text)
    assert compact["trace"]["encoding"] == "compact"
    nodes = {node["id"]: node for node in compact["trace"]["nodes"]}
    assert any(isinstance(node["value"], dict) for node in nodes.values())
    for node, expected in zip(compact["trace"]["nodes"], plain["trace"]["nodes"]):
        assert decoded(node["value"], nodes) == expected["value"] and decoded(node["grad"], nodes) == expected["grad"]
    for step, expected in zip(compact["trace"]["steps"], plain["trace"]["steps"]):
        for key in ("value", "grad", "contribution", "before", "after"):
            if key in step:
                assert decoded(step[key], nodes) == expected[key], (step["index"], key)
    for part in ("params", "params_after"):
        assert {name: decoded(value, nodes) for name, value in compact[part].items()} == plain[part]
    assert compact["params"]["W2"]["shape"] == [16, 16]  # 256 numbers: compact; smaller tensors stay lists
    state = compact["optimizer"]["state"]
    assert from_compact(state["v"]["W2"]).tolist() == plain["optimizer"]["state"]["v"]["W2"]


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_iterations_continued_from_params_and_optimizer_state_are_the_training_run(client, optimizer):
    body = {**XOR, "optimizer": {"name": optimizer, "learning_rate": 0.1}}
    first = post(client, ITERATION, body)
    second = post(client, ITERATION, {**body, "params": first["params_after"],
                                      "optimizer_state": first["optimizer"]["state"]})
    trained = post(client, TRAIN, {**body, "iterations": 2})
    for name, value in trained["params"].items():
        np.testing.assert_allclose(second["params_after"][name], value, rtol=1e-12, atol=1e-15, err_msg=name)
    assert second["trace"]["update"]["loss_before"] == pytest.approx(trained["history"]["batch_loss"][1], rel=1e-12)
    if optimizer == "adam":
        assert second["optimizer"]["state"]["t"] == 2
    restarted = post(client, ITERATION, {**body, "params": first["params_after"]})
    if optimizer != "sgd":  # without its state the second step is a first step again
        assert restarted["params_after"] != second["params_after"]


def test_training_can_start_from_given_params(client):
    start = post(client, ITERATION, XOR)["params_after"]
    trained = post(client, TRAIN, {**XOR, "iterations": 3, "params": start})
    assert trained["initial_params"] == start


# ---- Training ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("body", [XOR, MOONS], ids=["xor", "moons"])
def test_xor_and_two_moons_reach_97_percent_training_accuracy_from_a_fixed_seed(client, body):
    answer = post(client, TRAIN, {**body, "iterations": 300})
    assert answer["status"] == "finished" and answer["stop_reason"] is None and answer["iterations"] == 300
    assert answer["metrics"]["train_accuracy"] >= 0.97
    history = answer["history"]
    assert history["train_loss"][-1] < history["train_loss"][0] / 5
    assert len(history["batch_loss"]) == 300 and history["iteration"][-1] == 300
    boundary = answer["boundary"]
    assert boundary["kind"] == "grid" and len(boundary["x1"]) == len(boundary["x2"]) == 50
    assert np.shape(boundary["probabilities"]) == (2, 50, 50) and np.shape(boundary["predicted"]) == (50, 50)
    assert answer["divergence"] is None
    assert answer["data"]["train_size"] == 160 and answer["network"]["parameters"] == (33 if body is XOR else 337)


def test_identical_requests_give_identical_runs(client):
    body = {**MOONS, "iterations": 60, "batch_size": 16, "optimizer": {"name": "momentum", "learning_rate": 0.1}}
    first, again = client.post(TRAIN, json=body), client.post(TRAIN, json=body)
    assert first.status_code == 200 and first.content == again.content
    other = post(client, TRAIN, {**body, "seed": 5})
    assert other["initial_params"] != strict_json(first.text)["initial_params"]


def test_a_regression_answers_its_curve_and_no_accuracy(client):
    body = {"layers": [{"units": 16, "activation": "tanh"}, {"units": 1}], "loss": "mse",
            "data": {"dataset": "sine", "seed": 0}, "optimizer": {"name": "adam", "learning_rate": 0.02},
            "iterations": 400, "grid": 20}
    answer = post(client, TRAIN, body)
    assert answer["metrics"]["train_accuracy"] is None and answer["metrics"]["train_loss"] < 0.02
    assert answer["boundary"]["kind"] == "curve" and len(answer["boundary"]["x"]) == 80


def test_custom_points_train_like_generated_ones(client):
    rows = [[x, y, int(x * y > 0)] for x in (-1.0, -0.5, 0.5, 1.0) for y in (-1.0, -0.6, 0.6, 1.0)]
    answer = post(client, TRAIN, {**XOR, "data": {"custom": rows}, "test_fraction": 0, "iterations": 200})
    assert answer["data"]["dataset"] == "own" and answer["data"]["size"] == 16 and answer["data"]["test_size"] == 0
    assert answer["metrics"]["train_accuracy"] == 1.0 and answer["metrics"]["test_accuracy"] is None


def test_a_learning_rate_of_a_million_trains_into_a_clear_diverged_answer(client):
    answer = post(client, TRAIN, {**MOONS, "optimizer": {"name": "sgd", "learning_rate": 1e6}, "iterations": 300})
    assert answer["status"] == "diverged" and answer["iterations"] < 300
    divergence = answer["divergence"]
    assert divergence["learning_rate"] == 1e6 and divergence["reason"] == "loss_exploded"
    assert "learning rate 1e+06" in divergence["message"] and "smaller learning rate" in divergence["message"]
    assert "学习率 1e+06 太大" in divergence["message_zh"]
    assert all(np.isfinite(np.array(value)).all() for value in answer["params"].values())
    assert answer["boundary"]["kind"] == "grid"


def test_the_loss_exploding_at_a_learning_rate_of_a_million_names_a_layer_and_unit(client):
    # the example of the issue: 8 tanh units, one sigmoid, bce, 100 moons, SGD at 1e6
    body = {"layers": [{"units": 8, "activation": "tanh"}, {"units": 1, "activation": "sigmoid"}], "loss": "bce",
            "data": {"dataset": "moons", "points": 100}, "optimizer": {"name": "sgd", "learning_rate": 1e6}}
    answer = post(client, TRAIN, body)
    divergence = answer["divergence"]
    assert (answer["status"], divergence["reason"], divergence["iteration"]) == ("diverged", "loss_exploded", 2)
    # the run stopped before its second update: params are after the first one, initial_params before it
    growth = {}
    for layer in (1, 2):
        before = np.hstack([answer["initial_params"][f"W{layer}"], answer["initial_params"][f"b{layer}"]])
        after = np.hstack([answer["params"][f"W{layer}"], answer["params"][f"b{layer}"]])
        for unit in range(before.shape[0]):
            growth[layer, unit] = np.linalg.norm(after[unit] - before[unit]) / np.linalg.norm(before[unit])
    (layer, unit), largest = max(growth.items(), key=lambda item: item[1])
    where = divergence["where"]
    node_ids = post(client, ITERATION, {key: value for key, value in body.items()})["network"]["node_ids"]
    assert where == {"phase": "update", "layer": layer, "unit": unit, "quantity": "W",
                     "node": node_ids["layers"][layer - 1]["W"], "label": f"W{layer}", "status": "exploded",
                     "rule": "largest_relative_update", "growth": pytest.approx(largest, rel=1e-9)}
    assert largest > 1e5
    assert f"unit {unit + 1} of layer {layer}" in divergence["message"]
    assert f"第 {layer} 层的单元 {unit + 1}" in divergence["message_zh"]


def test_a_diverged_run_let_go_to_overflow_names_the_first_layer_and_node(client):
    body = {"layers": [{"units": 16, "activation": "relu"}, {"units": 16, "activation": "relu"}, {"units": 1}],
            "loss": "mse", "data": {"dataset": "sine", "seed": 0}, "optimizer": {"name": "sgd", "learning_rate": 1e6},
            "iterations": 300, "divergence_factor": 1e300}
    answer = post(client, TRAIN, body)
    divergence = answer["divergence"]
    assert answer["status"] == "diverged"
    assert divergence["reason"] in ("non_finite_loss", "non_finite_gradient", "non_finite_parameter")
    where = divergence["where"]
    assert isinstance(where["layer"], int) and where["node"].startswith("n") and where["label"]
    assert where["status"] in ("overflow", "inf", "nan", "div0") and where["phase"] in ("forward", "backward", "update")
    assert 1 <= where["layer"] <= 3 and isinstance(where["unit"], int) and where["rule"] == "first_non_finite"
    assert where["growth"] is None and set(where) == {"phase", "layer", "unit", "quantity", "node", "label", "status",
                                                      "rule", "growth"}
    assert "learning rate 1e+06" in divergence["message"] and "first number to become" in divergence["message"]
    assert "最先变成" in divergence["message_zh"]


def test_one_iteration_at_a_huge_learning_rate_answers_with_the_numbers_not_a_500(client):
    body = {**SMALL_SOFTMAX, "optimizer": {"name": "sgd", "learning_rate": 1e6}}
    first = post(client, ITERATION, body)
    assert first["trace"]["update"]["loss_after"] > 1000 * first["trace"]["update"]["loss_before"]
    second = post(client, ITERATION, {**body, "params": first["params_after"]})
    assert second["trace"]["update"]["learning_rate"] == 1e6


def test_a_run_is_stopped_by_the_wall_clock_bound(client, monkeypatch):
    monkeypatch.setattr(get_settings(), "max_run_seconds", 0.05)
    answer = post(client, TRAIN, {**MOONS, "iterations": 20_000})
    assert answer["status"] == "stopped" and answer["stop_reason"] == "max_run_seconds"
    assert 0 < answer["iterations"] < 20_000 and answer["boundary"]["kind"] == "grid"


# ---- Comparing optimizers --------------------------------------------------------------------------------

def test_compare_runs_every_optimizer_from_identical_initial_weights(client):
    body = {**MOONS, "iterations": 100, "optimizer": {"name": "sgd", "learning_rate": 0.1},
            "optimizers": ["sgd", "momentum", {"name": "adam", "learning_rate": 0.03}]}
    answer = post(client, COMPARE, body)
    runs = answer["runs"]
    assert [run["optimizer"]["name"] for run in runs] == ["sgd", "momentum", "adam"]
    assert [run["optimizer"]["learning_rate"] for run in runs] == [0.1, 0.1, 0.03]
    first_losses = {run["history"]["batch_loss"][0] for run in runs}
    assert len(first_losses) == 1  # the same initial weights give the same initial loss
    # momentum's first step is plain SGD's (its velocity starts at 0); from the second on they part
    assert runs[0]["history"]["batch_loss"][1] == runs[1]["history"]["batch_loss"][1]
    assert len({run["history"]["batch_loss"][2] for run in runs}) == 3
    alone = post(client, TRAIN, {**MOONS, "iterations": 100, "optimizer": {"name": "momentum", "learning_rate": 0.1}})
    assert answer["initial_params"] == alone["initial_params"]
    assert runs[1]["history"] == alone["history"] and runs[1]["params"] == alone["params"]
    assert all(run["status"] == "finished" and np.shape(run["boundary"]["probabilities"]) == (2, 50, 50)
               for run in runs)
    assert runs[2]["metrics"]["train_accuracy"] >= 0.9


def test_compare_defaults_to_sgd_momentum_and_adam(client):
    answer = post(client, COMPARE, {**XOR, "iterations": 5})
    assert [run["optimizer"]["name"] for run in answer["runs"]] == ["sgd", "momentum", "adam"]


# ---- Compact answers of training ---------------------------------------------------------------------

BIGGER = {**MOONS, "layers": [{"units": 32, "activation": "tanh"}, {"units": 32, "activation": "tanh"}, {"units": 1}]}


def undo_compact(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"dtype", "shape", "base64"}:
        return from_compact(value).tolist()
    if isinstance(value, dict):
        return {key: undo_compact(item) for key, item in value.items()}
    return value


def test_a_compact_train_answer_decodes_to_the_list_answer_and_is_smaller(client):
    body = {**BIGGER, "iterations": 20}
    plain_response = client.post(TRAIN, json=body)
    compact_response = client.post(TRAIN, json={**body, "encoding": "compact"})
    assert len(compact_response.content) < 0.6 * len(plain_response.content)  # the boundary's classes stay lists
    plain, compact = strict_json(plain_response.text), strict_json(compact_response.text)
    assert compact["params"]["W2"]["dtype"] == "float64" and compact["params"]["W2"]["shape"] == [32, 32]
    assert compact["optimizer"]["state"]["m"]["W2"]["shape"] == [32, 32]
    assert compact["boundary"]["probabilities"]["shape"] == [2, 50, 50]
    assert undo_compact(compact) == plain


def test_a_compact_compare_answer_decodes_to_the_list_answer(client):
    body = {**BIGGER, "iterations": 5, "optimizers": ["sgd", "adam"]}
    plain, compact = post(client, COMPARE, body), post(client, COMPARE, {**body, "encoding": "compact"})
    assert compact["initial_params"]["W2"]["shape"] == [32, 32]
    assert undo_compact(compact["initial_params"]) == plain["initial_params"]
    assert [undo_compact(run) for run in compact["runs"]] == plain["runs"]


# ---- Clients that go away: a real connection (uvicorn), the long-run lane one thread wide --------------

SLOW = {**XOR, "iterations": 20_000}  # 20,000 iterations at 10 ms each (slowed_down): far longer than any test


@pytest.fixture
def slowed_down(monkeypatch) -> None:
    """Every training iteration takes 10 ms more, so that a run lasts until it is stopped."""
    step = Trainer.step

    def slow_step(self: Trainer) -> bool:
        time.sleep(0.01)
        return step(self)

    monkeypatch.setattr(Trainer, "step", slow_step)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    yield from serve(create_app(Settings(rate_limit_enabled=False)))


@dataclass
class Runs:
    started: list[int] = field(default_factory=list)  # the seeds of the runs that began training
    trained: list[tuple[int, float]] = field(default_factory=list)  # (seed, seconds) of those that ended


@pytest.fixture
def one_thread_lane(monkeypatch) -> Runs:
    """Long runs one at a time in a fresh lane, each one recorded."""
    monkeypatch.setattr(get_settings(), "long_run_threads", 1)
    monkeypatch.setattr(get_settings(), "long_run_queue", 4)
    monkeypatch.setattr(compute, "_LONG_RUNS", weakref.WeakKeyDictionary())
    runs, train = Runs(), network._train

    def recorded(request: Any, stop: threading.Event) -> dict[str, Any]:
        runs.started.append(request.seed)
        began = time.monotonic()
        try:
            return train(request, stop)
        finally:
            runs.trained.append((request.seed, time.monotonic() - began))

    monkeypatch.setattr(network, "_train", recorded)
    return runs


def leave_after(base: str, body: dict[str, Any], seconds: float) -> None:
    """POST /network/train and hang up after `seconds` without reading the answer."""
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(base + TRAIN, json=body, timeout=httpx.Timeout(30, read=seconds))


def until(condition: Any, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_training_run_whose_client_leaves_stops_and_frees_the_lane(server, one_thread_lane, slowed_down,
                                                                     monkeypatch):
    monkeypatch.setattr(get_settings(), "max_run_seconds", 30.0)
    leave_after(server, {**SLOW, "seed": 1}, 0.5)
    until(lambda: one_thread_lane.trained)
    (seed, seconds), = one_thread_lane.trained
    assert seed == 1 and seconds < 2.0  # not the 30 s its iterations would take
    answer = httpx.post(server + TRAIN, json={**XOR, "iterations": 5, "seed": 2}, timeout=5)
    assert answer.status_code == 200 and answer.json()["iterations"] == 5


def test_a_queued_training_run_whose_client_leaves_never_runs(server, one_thread_lane, slowed_down, monkeypatch):
    monkeypatch.setattr(get_settings(), "max_run_seconds", 1.5)
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(httpx.post, server + TRAIN, json={**SLOW, "seed": 1}, timeout=30)
        until(lambda: one_thread_lane.started)  # the first is training; the second waits for the one thread
        leave_after(server, {**XOR, "iterations": 5, "seed": 2}, 0.3)
        assert first.result().json()["status"] == "stopped"
    time.sleep(0.3)
    assert one_thread_lane.started == [1]
    assert all(lane.admitted == 0 for lane in compute._LONG_RUNS.values())


def test_a_compare_whose_client_leaves_stops_every_run(server, one_thread_lane, slowed_down, monkeypatch):
    monkeypatch.setattr(get_settings(), "max_run_seconds", 30.0)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(server + COMPARE, json={**SLOW, "optimizers": ["sgd", "momentum", "adam"]},
                   timeout=httpx.Timeout(30, read=0.5))
    started = time.monotonic()
    answer = httpx.post(server + TRAIN, json={**XOR, "iterations": 5, "seed": 2}, timeout=10)
    assert answer.status_code == 200 and time.monotonic() - started < 3.0
