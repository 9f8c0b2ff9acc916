"""engine/nn.py: MLPs as engine graphs, layer by layer and neuron by neuron, and the two views agreeing."""
from __future__ import annotations

import json
import warnings
from typing import Any

import numpy as np
import orjson
import pytest

from engine.errors import LimitError, ValueInputError
from engine.gradcheck import gradcheck
from engine.limits import LIMITS
from engine.nn import (MLP, build_graph, check_params, copy_optimizer, first_non_finite, init_params, iteration,
                       largest_relative_update, layer_tensors, mlp_spec, neuron_iteration, neuron_node_count,
                       neuron_trace, non_finite_update, outputs)
from engine.optim import SGD, make_optimizer, taylor_prediction
from engine.trace import EdgeStep, ForwardStep, UpdateStep
from engine.train import loss_of
from engine.values import from_compact, to_json

from .finite_differences import centered_differences

# (sizes, activations, loss, l2): every activation, every loss, with and without L2
NETS = {
    "relu-softmax": ([2, 3, 3], ["relu"], "cross_entropy", 0.0),
    "tanh-sigmoid-bce": ([2, 3, 1], ["tanh"], "bce", 0.0),
    "sigmoid-linear-mse": ([1, 4, 1], ["sigmoid", "linear"], "mse", 0.0),
    "deep-tanh-output-mse": ([2, 3, 2, 2], ["tanh", "relu", "tanh"], "mse", 0.0),
    "l2-softmax": ([3, 4, 2], ["tanh"], "cross_entropy", 0.7),
    "l2-bce-linear-hidden": ([2, 2, 2, 1], ["linear", "sigmoid"], "bce", 0.3),
}
NET_IDS = list(NETS)


def batch(sizes: list[int], loss: str, m: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(sizes[0], m))
    if loss == "cross_entropy":
        y = np.eye(sizes[-1])[:, rng.integers(0, sizes[-1], m)]
    elif loss == "bce":
        y = rng.integers(0, 2, size=(1, m)).astype(float)
    else:
        y = rng.normal(size=(sizes[-1], m))
    return x, y


def net_case(name: str, m: int = 5) -> tuple[Any, dict[str, np.ndarray], np.ndarray, np.ndarray]:
    sizes, activations, loss, l2 = NETS[name]
    spec = mlp_spec(sizes, activations, loss, l2=l2)
    x, y = batch(sizes, loss, m)
    return spec, init_params(spec, seed=7), x, y


def node_by_label(net, label: str) -> int:
    return next(node.index for node in net.graph.nodes if node.label == label or label in node.aliases)


# ---- The architecture and its caps ---------------------------------------------------------------

def test_the_output_activation_follows_from_the_loss() -> None:
    assert mlp_spec([2, 4, 3], ["relu"], "cross_entropy").activations == ("relu", "softmax")
    assert mlp_spec([2, 4, 1], ["tanh"], "bce").activations == ("tanh", "sigmoid")
    assert mlp_spec([1, 4, 1], ["tanh"], "mse").activations == ("tanh", "linear")
    assert mlp_spec([1, 4, 1], ["tanh", "tanh"], "mse").activations == ("tanh", "tanh")
    assert mlp_spec([2, 2], [], "cross_entropy").parameter_count == 6


@pytest.mark.parametrize(("kwargs", "error", "field"), [
    ({"sizes": []}, ValueInputError, "layers"),
    ({"sizes": [2]}, ValueInputError, "layers"),
    ({"sizes": [2, 0, 1]}, ValueInputError, "layers.1"),
    ({"sizes": [2, -3, 1]}, ValueInputError, "layers.1"),
    ({"sizes": [2, 1.5, 1]}, ValueInputError, "layers.1"),
    ({"sizes": [2, True, 1]}, ValueInputError, "layers.1"),
    ({"sizes": [2, 1_000_000, 1]}, LimitError, "layers.1"),
    ({"sizes": [2] + [4] * 1000 + [1], "activations": ["tanh"] * 1000}, LimitError, "layers"),
    ({"sizes": [10_000, 4, 1]}, LimitError, "layers.0"),
    ({"sizes": [784, 256, 256, 1], "activations": ["relu", "relu"]}, LimitError, "layers"),
    ({"sizes": [2, 4, 1], "loss": "cross_entropy"}, ValueInputError, "layers.2"),
    ({"sizes": [2, 4, 2], "loss": "bce"}, ValueInputError, "layers.2"),
    ({"sizes": [2, 4, 1], "loss": "hinge"}, ValueInputError, "loss"),
    ({"sizes": [2, 4, 1], "activations": ["swish"], "loss": "mse"}, ValueInputError, "activations.0"),
    ({"sizes": [2, 4, 1], "activations": ["softmax"], "loss": "mse"}, ValueInputError, "activations.0"),
    ({"sizes": [2, 4, 1], "activations": ["tanh", "relu"], "loss": "bce"}, ValueInputError, "activations.1"),
    ({"sizes": [2, 4, 4, 1], "activations": ["tanh"], "loss": "bce"}, ValueInputError, "activations"),
    ({"sizes": [2, 4, 1], "loss": "bce", "l2": -1.0}, ValueInputError, "l2"),
])
def test_a_bad_architecture_is_refused_naming_the_field(kwargs: dict, error: type, field: str) -> None:
    arguments = {"activations": ["tanh"], "loss": "bce", **kwargs}
    with pytest.raises(error) as caught:
        mlp_spec(arguments.pop("sizes"), **arguments)
    assert caught.value.where == {"field": field}
    if error is LimitError:
        assert caught.value.limit in caught.value.message


def test_the_mnist_sized_benchmark_net_fits_the_caps() -> None:
    spec = mlp_spec([784, 128, 64, 10], ["relu", "relu"], "cross_entropy")
    assert spec.parameter_count == 109_386 <= LIMITS.max_parameters


# ---- Initialisation --------------------------------------------------------------------------------

def test_initialisation_is_seeded_he_for_relu_and_glorot_otherwise() -> None:
    spec = mlp_spec([200, 256, 100, 2], ["relu", "tanh"], "cross_entropy")
    params = init_params(spec, seed=3)
    again = init_params(spec, seed=3)
    other = init_params(spec, seed=4)
    assert all(np.array_equal(params[name], again[name]) for name in params)
    assert not np.array_equal(params["W1"], other["W1"])
    assert [spec.init_scheme(l) for l in (1, 2, 3)] == ["he", "glorot", "glorot"]
    np.testing.assert_allclose(params["W1"].std(), np.sqrt(2 / 200), rtol=0.03)  # He: 2 / fan_in
    np.testing.assert_allclose(params["W2"].std(), np.sqrt(2 / (256 + 100)), rtol=0.03)  # Glorot
    assert params["W1"].shape == (256, 200) and params["b1"].shape == (256, 1)
    assert all(not params[f"b{l}"].any() for l in (1, 2, 3))
    assert spec.describe()["layers"][0]["init_formula"] == "He normal, std = sqrt(2 / fan_in)"


# ---- The layer view: named nodes, shapes and notes ---------------------------------------------------

def test_the_layer_graph_names_every_quantity_of_the_notation() -> None:
    spec, params, x, y = net_case("relu-softmax")
    net = build_graph(spec, 5)
    labels = [node.label for node in net.graph.nodes]
    assert labels == ["X", "W1", "b1", "W1 @ X", "Z1", "A1", "W2", "b2", "W2 @ A1", "Z2", "A2", "Y", "L"]
    assert net.graph.nodes[net.X].aliases == ("A0",)
    assert [net.graph.nodes[net.params[name]].label for name in ("W1", "b1", "W2", "b2")] == ["W1", "b1", "W2", "b2"]
    description = net.describe()
    assert description["node_ids"]["layers"][1] == {"layer": 2, "W": "n6", "b": "n7", "WA": "n8", "Z": "n9",
                                                     "A": "n10"}
    assert (description["node_ids"]["L"], description["loss"], description["m"]) == ("n12", "cross_entropy", 5)


def test_a_linear_layer_names_its_z_node_a_too() -> None:
    spec = mlp_spec([1, 4, 1], ["sigmoid", "linear"], "mse")
    net = build_graph(spec, 3)
    z2 = net.layers[-1].Z
    assert net.layers[-1].A == z2 and net.graph.nodes[z2].aliases == ("A2",)


def test_data_inputs_carry_no_gradient_and_parameters_do() -> None:
    spec, params, x, y = net_case("relu-softmax")
    net, result = MLP(spec).forward_backward(params, x, y, record=True)
    nodes = {node["label"]: node for node in result.to_dict()["nodes"]}
    assert nodes["X"]["grad"] is None and not nodes["X"]["requires_grad"]
    assert nodes["Y"]["grad"] is None and not nodes["Y"]["requires_grad"]
    assert nodes["W1"]["requires_grad"] and np.shape(nodes["W1"]["grad"]) == (3, 2)
    assert not any(step.node == nodes["X"]["id"] for step in result.steps if isinstance(step, EdgeStep))


def test_forward_steps_give_z_and_a_per_layer_with_shapes_and_formulas() -> None:
    spec, params, x, y = net_case("relu-softmax")
    net, result = MLP(spec).forward_backward(params, x, y, record=True)
    forward = {step.node: step.to_dict() for step in result.steps if isinstance(step, ForwardStep)}
    by_label = {node.label: node.id for node in net.graph.nodes}
    z1, a1, z2, loss = (forward[by_label[label]] for label in ("Z1", "A1", "Z2", "L"))
    assert z1["shape"] == [3, 5] and a1["shape"] == [3, 5] and z2["shape"] == [3, 5] and loss["shape"] == []
    assert z1["note"]["formula"] == "Z[1] = W[1] A[0] + b[1]" and z1["note"]["layer"] == 1
    assert a1["note"]["formula"] == "A[1] = relu(Z[1])"
    assert loss["note"]["formula"] == "L = -(1/m) sum(Y * log_softmax(Z[2]))"


def test_backward_steps_name_the_layer_formulas_from_the_loss_down() -> None:
    spec, params, x, y = net_case("relu-softmax")
    net, result = MLP(spec).forward_backward(params, x, y, record=True)
    notes = [(step.note["quantity"], step.note["layer"], step.note["formula"])
             for step in result.steps if isinstance(step, EdgeStep) and step.note]
    assert notes == [
        ("dZ", 2, "dZ[2] = (softmax(Z[2]) - Y) / m = (A[2] - Y) / m"),
        ("dWA", 2, "d(W[2] A[1]) = dZ[2]: a sum passes its gradient on"),
        ("db", 2, "db[2] = sum(dZ[2], 1): b[2] was broadcast over the m columns"),
        ("dW", 2, "dW[2] = dZ[2] A[1]^T"),
        ("dA", 1, "dA[1] = W[2]^T dZ[2]"),
        ("dZ", 1, "dZ[1] = dA[1] * g'(Z[1]) = dA[1] * [Z[1] > 0]"),
        ("dWA", 1, "d(W[1] A[0]) = dZ[1]: a sum passes its gradient on"),
        ("db", 1, "db[1] = sum(dZ[1], 1): b[1] was broadcast over the m columns"),
        ("dW", 1, "dW[1] = dZ[1] A[0]^T"),
    ]
    dw = next(step for step in result.steps if isinstance(step, EdgeStep) and step.note
              and step.note["quantity"] == "dW")
    assert "1/m" in dw.note["textbook"]


def test_a_hidden_layers_dz_note_brackets_g_prime_as_one_factor() -> None:
    cases = {"tanh": r"dZ^{[1]} = dA^{[1]} \odot \left(1 - (A^{[1]})^2\right)",
             "sigmoid": r"dZ^{[1]} = dA^{[1]} \odot A^{[1]} \odot \left(1 - A^{[1]}\right)",
             "relu": r"dZ^{[1]} = dA^{[1]} \odot [Z^{[1]} > 0]"}
    for activation, latex in cases.items():
        spec = mlp_spec([2, 3, 1], [activation], "bce")
        x, y = batch([2, 3, 1], "bce")
        _, result = MLP(spec).forward_backward(init_params(spec), x, y, record=True)
        dz = next(step.note for step in result.steps if isinstance(step, EdgeStep) and step.note
                  and step.note["quantity"] == "dZ" and step.note["layer"] == 1)
        assert dz["latex"] == latex
        assert dz["formula"] == f"dZ[1] = dA[1] * g'(Z[1]) = dA[1] * " + {
            "tanh": "(1 - A[1]^2)", "sigmoid": "A[1] (1 - A[1])", "relu": "[Z[1] > 0]"}[activation]
        loss = next(step.note for step in result.steps if isinstance(step, ForwardStep) and step.note
                    and step.note["quantity"] == "loss")
        assert loss["latex"] == (r"L = -\tfrac{1}{m} \sum \left(Y \odot \log A^{[2]} + (1 - Y) \odot "
                                 r"\log(1 - A^{[2]})\right)")


def test_every_latex_note_is_balanced_and_uses_the_layer_superscripts() -> None:
    for name in NET_IDS:
        spec, params, x, y = net_case(name)
        result, _ = iteration(MLP(spec), params, x, y, make_optimizer("adam", 0.01))
        for step in result.steps:
            note = getattr(step, "note", None)
            if not note or note.get("view") != "layer":
                continue
            latex = note["latex"]
            assert latex, (name, note["formula"])
            assert latex.count("{") == latex.count("}") and latex.count(r"\left(") == latex.count(r"\right)")
            if note["layer"] and note["quantity"] != "Y":
                assert f"^{{[{note['layer']}]}}" in latex or f"^{{[{note['layer'] - 1}]}}" in latex, latex


def test_the_update_steps_note_the_optimizers_rule_in_latex() -> None:
    spec, params, x, y = net_case("tanh-sigmoid-bce")
    result, _ = iteration(MLP(spec), params, x, y, SGD(0.5))
    notes = [step.note for step in result.steps if isinstance(step, UpdateStep)]
    assert [note["latex"] for note in notes] == [r"W^{[1]} \leftarrow W^{[1]} - \eta\, dW^{[1]}",
                                                 r"b^{[1]} \leftarrow b^{[1]} - \eta\, db^{[1]}",
                                                 r"W^{[2]} \leftarrow W^{[2]} - \eta\, dW^{[2]}",
                                                 r"b^{[2]} \leftarrow b^{[2]} - \eta\, db^{[2]}"]


def test_the_layer_formulas_hold_for_the_traced_numbers() -> None:
    spec, params, x, y = net_case("relu-softmax")
    net, result = MLP(spec).forward_backward(params, x, y)
    value = {node.label: result.values[node.index] for node in net.graph.nodes}
    grad = {node.label: result.grads[node.index] for node in net.graph.nodes}
    m = x.shape[1]
    np.testing.assert_allclose(grad["Z2"], (value["A2"] - y) / m, rtol=1e-14)
    np.testing.assert_allclose(grad["W2"], grad["Z2"] @ value["A1"].T, rtol=1e-14)
    np.testing.assert_allclose(grad["b2"], grad["Z2"].sum(axis=1, keepdims=True), rtol=1e-14)
    np.testing.assert_allclose(grad["A1"], params["W2"].T @ grad["Z2"], rtol=1e-14)
    np.testing.assert_array_equal(grad["Z1"], grad["A1"] * (value["Z1"] > 0))
    # the textbook's form: dZ per sample (A - Y) and an explicit 1/m give the same dW
    np.testing.assert_allclose(grad["W2"], (1 / m) * (value["A2"] - y) @ value["A1"].T, rtol=1e-14)


# ---- Gradients against finite differences ----------------------------------------------------------

@pytest.mark.parametrize("name", NET_IDS)
def test_the_mlp_gradient_matches_finite_differences_on_every_parameter(name: str) -> None:
    spec, params, x, y = net_case(name)
    model = MLP(spec)
    net, result = model.forward_backward(params, x, y)
    gradients = model.gradients(net, result)
    names = spec.parameter_names()

    def loss_at(*values: np.ndarray) -> float:
        moved = dict(zip(names, values))
        z, a = outputs(spec, moved, x)
        return loss_of(spec, moved, z, a, y)  # written without the graph: the op table's forwards only

    numeric = centered_differences(loss_at, [params[n] for n in names])
    for parameter, expected in zip(names, numeric):
        np.testing.assert_allclose(gradients[parameter], expected, rtol=1e-6, atol=1e-9, err_msg=parameter)
    checks = gradcheck(net.graph, net.bind(params, x, y), {i: result.grads[i] for i in net.params.values()})
    assert [check.label for check in checks] == names
    assert all(check.verdict == "pass" for check in checks), [(c.label, c.rel_error) for c in checks]


# ---- The neuron view agrees with the layer view, to the last bit ---------------------------------------

# (net, batch size, data seed): every activation, every loss, L2 or not, a batch of one, batches below and
# above NumPy's 8-term pairwise-sum block, odd sizes so that 1/m is not exact
AGREEMENT = [(name, m, seed) for name in NET_IDS for m, seed in ((1, 0), (3, 1), (7, 2), (12, 3))]


def exactly_equal(neuron: Any, layer: Any) -> bool:
    neuron, layer = np.asarray(neuron, dtype=float), np.asarray(layer, dtype=float)
    return neuron.shape == layer.shape and bool((neuron == layer).all())


@pytest.mark.parametrize(("name", "m", "seed"), AGREEMENT)
def test_neuron_view_and_layer_view_agree_bit_for_bit_on_every_value_and_gradient(name: str, m: int,
                                                                                   seed: int) -> None:
    spec, params, _, _ = net_case(name)
    x, y = batch(list(spec.sizes), spec.loss, m=m, seed=seed)
    net, layer = MLP(spec).forward_backward(params, x, y)
    view, neuron = neuron_trace(spec, params, x, y)
    tensors = layer_tensors(view, neuron)
    expected = {"L", "X", "Y", *spec.parameter_names(), *(f"{q}{l}" for l in range(1, spec.layers + 1) for q in "ZA")}
    assert set(tensors) == expected
    for tensor, pair in tensors.items():
        index = node_by_label(net, tensor)
        assert exactly_equal(pair["value"], layer.values[index]), f"{tensor} value"
        if pair["grad"] is None:
            assert layer.grads[index] is None
        else:
            assert exactly_equal(pair["grad"], layer.grads[index]), f"d{tensor}"
    # and every other node: each neuron node holds its element of the layer node it was split from
    for node, (source, at) in zip(view.graph.nodes, view.source):
        assert exactly_equal(neuron.values[node.index], layer.values[source][at]), node.label
        if layer.grads[source] is not None:
            assert exactly_equal(neuron.grads[node.index], layer.grads[source][at]), f"d{node.label}"


def test_parameter_gradients_are_the_same_bytes_in_both_views_signed_zeros_included() -> None:
    # A scalar graph of its own would add rounded products where BLAS fuses them (the views once gave
    # -0.12039363250393247 and -0.12039363250393244 for one gradient); relu's zero slopes make -0.0 too.
    spec, params, x, y = net_case("relu-softmax", m=9)
    net, layer = MLP(spec).forward_backward(params, x, y)
    view, neuron = neuron_trace(spec, params, x, y)
    tensors = layer_tensors(view, neuron)
    for name in ("W1", "b1", "W2", "b2"):
        assert tensors[name]["grad"].tobytes() == layer.grads[net.params[name]].tobytes(), name


def test_every_neuron_step_is_true_arithmetic_and_a_sum_that_differs_term_by_term_says_so() -> None:
    spec, params, _, _ = net_case("l2-softmax")
    x, y = batch(list(spec.sizes), spec.loss, m=9, seed=4)
    view, result = neuron_trace(spec, params, x, y)
    by_id = {node.id: node.index for node in view.graph.nodes}
    edges = [step for step in result.steps if isinstance(step, EdgeStep)]
    incoming = {node_id: sum(1 for step in edges if step.node == node_id) for node_id in by_id}
    one_by_one: dict[str, float] = {}
    seen = dict.fromkeys(by_id, 0)
    noted = 0
    for step in edges:
        assert step.contribution == step.upstream * step.local  # computed from this graph's own numbers
        assert step.upstream == result.grads[by_id[step.source]]
        expected = step.contribution if step.node not in one_by_one else one_by_one[step.node] + step.contribution
        one_by_one[step.node] = expected
        seen[step.node] += 1
        last = seen[step.node] == incoming[step.node]
        if step.note is None:
            assert step.grad == expected
        else:  # only the step completing a sum of several contributions, and only where the orders differ
            noted += 1
            assert last and incoming[step.node] > 1
            assert step.note["one_by_one"] == expected != step.grad
            assert step.note["layer_formula"].startswith(("dW[", "db[", "dA["))
        if last:
            assert step.grad == result.grads[by_id[step.node]]
    assert noted > 0  # 9 samples: BLAS and NumPy's pairwise sums do differ somewhere in the last digit
    for step in result.steps:
        if isinstance(step, ForwardStep):
            assert step.value == result.values[by_id[step.node]]


def test_a_neuron_view_of_overflowing_numbers_agrees_nan_for_nan_without_warnings_as_strict_json() -> None:
    spec, params, x, y = net_case("relu-softmax", m=3)
    params = {name: value * 1e307 for name, value in params.items()}
    x = x * 1e10
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, layer = MLP(spec).forward_backward(params, x, y)
        view, neuron = neuron_trace(spec, params, x, y)
        answer = neuron.to_dict()
    json.dumps(answer, allow_nan=False)
    for node, (source, at) in zip(view.graph.nodes, view.source):
        assert np.array_equal(neuron.values[node.index], layer.values[source][at], equal_nan=True), node.label
    by_label = {node["label"]: node for node in answer["nodes"]}
    assert by_label["Z2[1,1]"]["value"] is None and by_label["Z2[1,1]"]["status"] in ("overflow", "inf", "nan")
    assert by_label["L"]["value"] is None and by_label["W1[1,1]"]["status"] == "ok"


def test_a_neuron_forward_step_writes_out_the_weighted_sum_of_its_unit() -> None:
    spec = mlp_spec([2, 1, 1], ["tanh"], "mse")
    params = {"W1": np.array([[0.5, -0.25]]), "b1": np.array([[0.125]]), "W2": np.array([[2.0]]),
              "b2": np.array([[0.0]])}
    x, y = np.array([[1.0], [2.0]]), np.array([[1.0]])
    view, result = neuron_trace(spec, params, x, y)
    formulas = {step.node: step.formula for step in result.steps if isinstance(step, ForwardStep)}
    nodes = view.graph.nodes
    assert formulas[nodes[view.elements[view.net.layers[0].product][0, 0]].id] == (
        "(W1 @ X)[1,1] = W1[1,1] * X[1,1] + W1[1,2] * X[2,1] = 0.5 * 1 + (-0.25) * 2 = 0")
    assert formulas[nodes[view.index[("Z", 1, 0, 0)]].id] == "Z1[1,1] = (W1 @ X)[1,1] + b1[1] = 0 + 0.125 = 0.125"
    assert formulas[nodes[view.index[("A", 1, 0, 0)]].id] == (
        f"A1[1,1] = tanh(Z1[1,1]) = tanh(0.125) = {np.tanh(0.125):.6g}")
    into_w = [step for step in result.steps if isinstance(step, EdgeStep)
              and step.node == nodes[view.index[("W", 1, 0, 1)]].id]
    (step,) = into_w  # one sample: one contribution, dz * x
    dz = result.grads[view.index[("Z", 1, 0, 0)]]
    assert (step.upstream, step.local, step.contribution, step.local_formula) == (dz, 2.0, dz * 2.0, "X[2,1]")


def test_neuron_view_has_a_scalar_node_per_weight_and_per_sample_z_and_a() -> None:
    spec, params, x, y = net_case("tanh-sigmoid-bce", m=2)
    view, result = neuron_trace(spec, params, x, y)
    labels = {node.label for node in view.graph.nodes}
    assert {"W1[1,1]", "W1[3,2]", "b1[3]", "W2[1,3]", "b2[1]"} <= labels
    assert {"Z1[1,1]", "Z1[3,2]", "A1[2,2]", "Z2[1,2]", "A2[1,1]", "X[2,1]", "Y[1,2]", "L"} <= labels
    assert all(np.ndim(value) == 0 for value in result.values)
    assert sum(1 for node in view.graph.nodes if node.op == "input" and node.requires_grad) == spec.parameter_count
    json.dumps(result.to_dict(), allow_nan=False)


@pytest.mark.parametrize("name", NET_IDS)
def test_the_neuron_view_has_exactly_the_node_count_its_cap_is_checked_against(name: str) -> None:
    spec, params, x, y = net_case(name, m=3)
    view, _ = neuron_trace(spec, params, x, y)
    assert len(view.graph.nodes) == neuron_node_count(spec, 3)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_both_views_take_the_same_update_to_the_last_bit(optimizer: str) -> None:
    spec, params, x, y = net_case("l2-softmax", m=3)
    model = MLP(spec)
    layer_optimizer = make_optimizer(optimizer, 0.1)
    for _ in range(2):  # the second step uses state (velocity; m, v) carried from the first
        neuron_optimizer = copy_optimizer(layer_optimizer)
        layer, after = iteration(model, params, x, y, layer_optimizer)
        view, neuron, neuron_after = neuron_iteration(spec, params, x, y, neuron_optimizer)
        for name in after:
            assert exactly_equal(neuron_after[name], after[name]), f"{name} after the update"
        assert neuron.update == layer.update
        updates = [step for step in neuron.steps if isinstance(step, UpdateStep)]
        assert len(updates) == spec.parameter_count
        params = after


def test_the_neuron_view_is_refused_for_big_nets_and_big_batches() -> None:
    spec = mlp_spec([2, 16, 16, 1], ["tanh", "tanh"], "bce")
    x, y = batch([2, 16, 16, 1], "bce", m=3)
    with pytest.raises(LimitError) as caught:
        neuron_trace(spec, init_params(spec), x, y)
    assert caught.value.limit == "max_neuron_parameters"
    small = mlp_spec([2, 4, 1], ["tanh"], "bce")
    x, y = batch([2, 4, 1], "bce", m=2000)
    with pytest.raises(LimitError) as caught:
        neuron_trace(small, init_params(small), x, y)
    assert caught.value.limit == "max_neuron_nodes" and caught.value.where == {"field": "batch_size"}


# ---- One iteration with its update ----------------------------------------------------------------

def test_an_sgd_iteration_ends_with_one_update_step_per_parameter_and_the_taylor_prediction() -> None:
    spec, params, x, y = net_case("tanh-sigmoid-bce")
    model = MLP(spec)
    result, after = iteration(model, params, x, y, SGD(0.5))
    updates = [step for step in result.steps if isinstance(step, UpdateStep)]
    assert [step.to_dict()["node"] for step in updates] == [f"n{i}" for i in (1, 2, 6, 7)]
    for step, name in zip(updates, spec.parameter_names()):
        np.testing.assert_array_equal(step.after, params[name] - 0.5 * step.grad)
        np.testing.assert_array_equal(after[name], step.after)
    gradients = {name: step.grad for name, step in zip(spec.parameter_names(), updates)}
    assert result.update.loss_predicted == pytest.approx(
        taylor_prediction(result.update.loss_before, gradients, 0.5), rel=1e-13)
    net, moved = model.forward_backward(after, x, y)
    assert result.update.loss_after == moved.values[net.loss]
    assert result.update.loss_after < result.update.loss_before


def test_an_adam_iteration_shows_its_moments_on_each_update_step() -> None:
    spec, params, x, y = net_case("relu-softmax")
    result, _ = iteration(MLP(spec), params, x, y, make_optimizer("adam", 0.01))
    step = next(s for s in result.steps if isinstance(s, UpdateStep)).to_dict()
    assert set(step["state"]) == {"t", "m", "v"} and step["state"]["t"] == 1
    assert np.shape(step["state"]["m"]) == (3, 2)
    assert result.to_dict()["update"]["optimizer"] == "adam"


def test_a_layer_trace_serialises_as_strict_json_and_as_numpy_arrays_alike() -> None:
    spec = mlp_spec([20, 16, 10], ["relu"], "cross_entropy")
    x, y = batch([20, 16, 10], "cross_entropy", m=8)
    result, _ = iteration(MLP(spec), init_params(spec), x, y, make_optimizer("momentum", 0.1))
    plain = result.to_dict()
    fast = result.to_dict("numpy")
    assert any(isinstance(node["value"], np.ndarray) for node in fast["nodes"])
    fast_json = orjson.loads(orjson.dumps(fast, option=orjson.OPT_SERIALIZE_NUMPY))
    assert fast_json.pop("encoding") == "numpy"
    assert fast_json == json.loads(json.dumps(plain, allow_nan=False))


# ---- What went wrong ---------------------------------------------------------------------------------

def test_the_first_non_finite_node_is_found_with_its_layer_and_unit() -> None:
    spec, params, x, y = net_case("relu-softmax")
    params = dict(params, W2=params["W2"] * 1e308)
    net, result = MLP(spec).forward_backward(params, x * 1e10, y)
    where = first_non_finite(net, result)
    with np.errstate(over="ignore", invalid="ignore"):
        product = params["W2"] @ np.maximum(params["W1"] @ (x * 1e10) + params["b1"], 0.0)
    first_bad_unit = int(np.argmax(~np.isfinite(product).any(axis=1)))
    assert not np.isfinite(product).all()
    assert where == {"phase": "forward", "layer": 2, "unit": first_bad_unit, "quantity": "WA",
                     "node": net.graph.nodes[net.layers[1].product].id, "label": "W2 @ A1", "status": "overflow",
                     "rule": "first_non_finite", "growth": None}
    net, fine = MLP(spec).forward_backward(net_case("relu-softmax")[1], x, y)
    assert first_non_finite(net, fine) is None


def test_a_gradient_that_overflows_while_every_value_is_finite_is_named_in_backward_order() -> None:
    # Z1 stays about 1 (W1 tiny, X huge) and Z2 about 1e200, all finite; dA1 = W2^T dZ2 is about 1e200 and
    # dW1 = dZ1 X^T about 1e400: the first number of the backward pass to overflow.
    spec, params, x, y = net_case("relu-softmax")
    params = dict(params, W1=params["W1"] * 1e-200, W2=params["W2"] * 1e200)
    x = x * 1e200
    net, result = MLP(spec).forward_backward(params, x, y)
    assert all(np.isfinite(value).all() for value in result.values)
    a1 = np.maximum(params["W1"] @ x + params["b1"], 0.0)
    z2 = params["W2"] @ a1 + params["b2"]
    softmax = np.exp(z2 - z2.max(axis=0)) / np.exp(z2 - z2.max(axis=0)).sum(axis=0)
    dz1 = (params["W2"].T @ ((softmax - y) / x.shape[1])) * (params["W1"] @ x + params["b1"] > 0)
    with np.errstate(over="ignore", invalid="ignore"):
        dw1 = dz1 @ x.T
    assert np.isfinite(dz1).all() and not np.isfinite(dw1).all()
    where = first_non_finite(net, result)
    assert where == {"phase": "backward", "layer": 1, "unit": int(np.argmax(~np.isfinite(dw1).any(axis=1))),
                     "quantity": "dW", "node": net.graph.nodes[net.params["W1"]].id, "label": "W1",
                     "status": where["status"], "rule": "first_non_finite", "growth": None}
    assert where["status"] in ("overflow", "inf")


def test_a_non_finite_loss_is_placed_at_its_largest_input_unit() -> None:
    spec = mlp_spec([2, 3, 2, 2], ["tanh", "relu", "linear"], "mse")
    x, y = batch([2, 3, 2, 2], "mse")
    params = init_params(spec, seed=7)
    params.update(W2=np.abs(params["W2"]) + 1.0, b2=np.ones((2, 1)), W3=np.array([[1e200, 0.0], [0.0, 1e160]]))
    net, result = MLP(spec).forward_backward(params, x, y)
    where = first_non_finite(net, result)
    a3 = result.values[net.layers[-1].A]
    assert np.isfinite(a3).all() and (where["quantity"], where["label"], where["phase"]) == ("loss", "L", "forward")
    assert (where["layer"], where["unit"]) == (3, int(np.argmax(np.abs(a3).max(axis=1)))) == (3, 0)


def test_an_update_that_overflows_names_the_first_parameter_and_unit_in_forward_order() -> None:
    spec, params, x, y = net_case("tanh-sigmoid-bce")
    net = MLP(spec).graph(x.shape[1])
    after = {name: value.copy() for name, value in params.items()}
    after["b2"][0, 0] = np.inf
    after["W1"][2, 1] = np.nan
    assert non_finite_update(net, after) == {
        "phase": "update", "layer": 1, "unit": 2, "quantity": "W", "node": net.graph.nodes[net.params["W1"]].id,
        "label": "W1", "status": "nan", "rule": "first_non_finite", "growth": None}
    assert non_finite_update(net, params) is None


def test_an_exploding_loss_is_placed_at_the_unit_with_the_largest_update_relative_to_its_size() -> None:
    spec = mlp_spec([2, 3, 1], ["tanh"], "bce")
    net = MLP(spec).graph(4)
    before = {"W1": np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), "b1": np.zeros((3, 1)),
              "W2": np.array([[1.0, 1.0, 1.0]]), "b2": np.zeros((1, 1))}
    after = {name: value.copy() for name, value in before.items()}
    after["W1"][1] += [3.0, 0.0]   # unit 2 of layer 1: moved by sqrt(9 + 16) = 5, its size is 1: growth 5
    after["b1"][1, 0] += 4.0
    after["W2"][0] += [6.0, 0.0, 0.0]  # the output unit: moved by 6, its size is sqrt(3): growth 3.46
    where = largest_relative_update(net, before, after)
    assert where == {"phase": "update", "layer": 1, "unit": 1, "quantity": "W",
                     "node": net.graph.nodes[net.params["W1"]].id, "label": "W1", "status": "exploded",
                     "rule": "largest_relative_update", "growth": 5.0}
    after["W2"][0] += [4.0, 0.0, 0.0]  # now 10 / sqrt(3) = 5.77
    assert (largest_relative_update(net, before, after)["layer"], largest_relative_update(net, before, after)["growth"]
            ) == (2, pytest.approx(10 / np.sqrt(3), rel=1e-15))
    tied = {name: value * 3.0 for name, value in before.items()}  # every unit grows by 2: the first one wins
    assert (largest_relative_update(net, before, tied)["layer"], largest_relative_update(net, before, tied)["unit"]
            ) == (1, 0)
    huge = {name: value * 1e200 for name, value in before.items()}  # squares of these overflow float64
    assert largest_relative_update(net, huge, {name: value * 3.0 for name, value in huge.items()})["growth"] == (
        pytest.approx(2.0, rel=1e-15))
    zero = dict(before, W1=np.zeros((3, 2)))
    assert largest_relative_update(net, zero, after)["growth"] is None  # from all 0: no ratio to give


# ---- Parameters a client sends back --------------------------------------------------------------------

def test_parameters_sent_back_are_checked_against_the_network() -> None:
    spec = mlp_spec([2, 3, 1], ["tanh"], "bce")
    given = {name: value.tolist() for name, value in init_params(spec, 4).items()}
    checked = check_params(spec, given)
    assert list(checked) == ["W1", "b1", "W2", "b2"]
    assert all(np.array_equal(checked[name], init_params(spec, 4)[name]) for name in checked)
    for bad, field in (({**given, "W1": [[0.1, 0.2]] * 2}, "params.W1"), ({**given, "b1": [0.0] * 3}, "params.b1"),
                       ({**given, "W3": [[0.0]]}, "params.W3"),
                       ({k: v for k, v in given.items() if k != "b2"}, "params"),
                       ({**given, "W2": [[0.1, float("inf"), 0.0]]}, "params.W2")):
        with pytest.raises(ValueInputError) as caught:
            check_params(spec, bad)
        assert caught.value.where == {"field": field}


def resolve(encoded: Any, nodes: dict[str, dict[str, Any]]) -> Any:
    """A compact-encoded field back as plain lists: references looked up, base64 tensors decoded."""
    if isinstance(encoded, dict) and "ref" in encoded:
        return resolve(nodes[encoded["ref"]][encoded["field"]], nodes)
    if isinstance(encoded, dict) and "base64" in encoded:
        return from_compact(encoded).tolist()
    return encoded


def test_the_compact_encoding_decodes_to_the_plain_trace() -> None:
    spec = mlp_spec([30, 16, 10], ["relu"], "cross_entropy")
    x, y = batch([30, 16, 10], "cross_entropy", m=20)
    result, _ = iteration(MLP(spec), init_params(spec), x, y, make_optimizer("adam", 0.01))
    plain = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    compact = orjson.loads(orjson.dumps(result.to_dict("compact")))
    assert compact.pop("encoding") == "compact"
    nodes = {node["id"]: node for node in compact["nodes"]}
    w1 = nodes["n1"]
    assert w1["value"]["shape"] == [16, 30] and w1["value"]["dtype"] == "float64"
    forward_w1 = next(step for step in compact["steps"] if step["phase"] == "forward" and step["node"] == "n1")
    assert forward_w1["value"] == {"ref": "n1", "field": "value"}
    for collection in ("nodes", "steps"):
        for item, expected in zip(compact[collection], plain[collection]):
            for key, value in item.items():
                if key == "state":
                    value = {name: resolve(part, nodes) for name, part in value.items()}
                assert resolve(value, nodes) == expected[key], (collection, key)
    assert len(orjson.dumps(result.to_dict("compact"))) < len(json.dumps(plain)) / 2


def test_the_compact_encoding_keeps_non_finite_numbers_bit_for_bit() -> None:
    encoded = to_json(np.array([[np.nan, np.inf, -np.inf] * 100]), "compact")
    decoded = from_compact(encoded)
    assert np.isnan(decoded[0, 0]) and decoded[0, 1] == np.inf and decoded[0, 2] == -np.inf
    assert to_json(np.arange(10.0), "compact") == list(np.arange(10.0))  # small tensors stay plain lists
