"""engine/trace.py: forward values, the backward pass edge by edge, the update, and bad numbers."""
from __future__ import annotations

import gc
import json
import weakref
from typing import Any

import numpy as np
import pytest

from engine.errors import SourceError, ValueInputError
from engine.limits import LIMITS
from engine.parse import parse
from engine.evaluate import LATER
from engine.trace import EdgeStep, ForwardStep, SeedStep, Trace, UpdateStep, run, trace, trace_graph
from engine.values import bind

WORKED_EXAMPLE = "q = x + y\nf = q * z"
WORKED_VALUES = {"x": -2, "y": 5, "z": -4}


def by_label(result: Trace) -> dict[str, dict[str, Any]]:
    return by_label_of(result.to_dict())


def by_label_of(answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {node["label"]: node for node in answer["nodes"]}


def index_of(result: Trace, node_id: str) -> int:
    return next(node.index for node in result.graph.nodes if node.id == node_id)


def label_of(result: Trace, node_id: str) -> str:
    return result.graph.nodes[index_of(result, node_id)].label


def edge_steps(result: Trace) -> list[EdgeStep]:
    return [step for step in result.steps if isinstance(step, EdgeStep)]


# ---- The worked example --------------------------------------------------------------------------

def test_worked_example_forward_values_and_gradients() -> None:
    nodes = by_label(trace(WORKED_EXAMPLE, WORKED_VALUES))
    assert {label: node["value"] for label, node in nodes.items()} == {"x": -2.0, "y": 5.0, "q": 3.0, "z": -4.0,
                                                                        "f": -12.0}
    assert {label: node["grad"] for label, node in nodes.items()} == {"x": -4.0, "y": -4.0, "q": -4.0, "z": 3.0,
                                                                       "f": 1.0}
    assert all(node["status"] == "ok" and node["grad_status"] == "ok" for node in nodes.values())


def test_worked_example_roles_inputs_and_output() -> None:
    answer = trace(WORKED_EXAMPLE, WORKED_VALUES).to_dict()
    assert answer["output"] == "n4"
    assert [(n["id"], n["label"], n["op"], n["inputs"], n["role"], n["shape"]) for n in answer["nodes"]] == [
        ("n0", "x", "input", [], "input", []),
        ("n1", "y", "input", [], "input", []),
        ("n2", "q", "add", ["n0", "n1"], "intermediate", []),
        ("n3", "z", "input", [], "input", []),
        ("n4", "f", "mul", ["n2", "n3"], "output", []),
    ]


def test_worked_example_forward_steps_fill_in_the_numbers() -> None:
    steps = [step.to_dict() for step in trace(WORKED_EXAMPLE, WORKED_VALUES).steps[:5]]
    assert [(s["phase"], s["node"], s["value"], s["formula"]) for s in steps] == [
        ("forward", "n0", -2.0, "x = -2"),
        ("forward", "n1", 5.0, "y = 5"),
        ("forward", "n2", 3.0, "q = x + y = -2 + 5 = 3"),
        ("forward", "n3", -4.0, "z = -4"),
        ("forward", "n4", -12.0, "f = q * z = 3 * (-4) = -12"),
    ]


def test_worked_example_backward_starts_with_the_seed_then_one_step_per_edge() -> None:
    steps = [step.to_dict() for step in trace(WORKED_EXAMPLE, WORKED_VALUES).steps[5:]]
    assert steps[0] == {"index": 5, "phase": "backward", "node": "n4", "grad": 1.0, "status": "ok",
                        "formula": "df/df = 1"}
    edges = [(s["node"], s["from"], s["upstream"], s["local"], s["contribution"], s["grad"]) for s in steps[1:]]
    assert edges == [
        ("n2", "n4", 1.0, -4.0, -4.0, -4.0),   # df/dq = z
        ("n3", "n4", 1.0, 3.0, 3.0, 3.0),      # df/dz = q
        ("n0", "n2", -4.0, 1.0, -4.0, -4.0),   # df/dx = df/dq * dq/dx
        ("n1", "n2", -4.0, 1.0, -4.0, -4.0),   # df/dy = df/dq * dq/dy
    ]
    assert all(s["upstream"] * s["local"] == s["contribution"] for s in steps[1:])
    assert [s["local_formula"] for s in steps[1:]] == ["z", "q", "1", "1"]
    assert [s["index"] for s in steps] == [5, 6, 7, 8, 9]


@pytest.mark.parametrize(("source", "values"), [
    (WORKED_EXAMPLE, WORKED_VALUES),
    ("z = w0 * x0 + w1 * x1 + b\na = sigmoid(z)", {"w0": 2, "x0": -1, "w1": -3, "x1": -2, "b": -3}),
    ("z = w * x + b\na = tanh(z)\nL = (a - t) ** 2", {"w": 0.5, "x": 1.5, "b": -0.2, "t": 0.8}),
    ("f = x * x * x / (1 + exp(-x))", {"x": 0.7}),
])
def test_every_edge_step_carries_upstream_times_local(source: str, values: dict) -> None:
    result = trace(source, values)
    edges = edge_steps(result)
    assert edges, "no backward edges recorded"
    for step in edges:
        assert step.contribution == step.upstream * step.local
        assert step.upstream == result.grads[index_of(result, step.source)]  # from's gradient, already final


def test_edge_steps_visit_nodes_in_reverse_topological_order() -> None:
    result = trace("a = x * y\nb = a + y\nc = b * a", {"x": 2, "y": 3})
    sources = [index_of(result, step.source) for step in edge_steps(result)]
    assert sources == sorted(sources, reverse=True)
    # each edge's upstream is already final: no edge into a node comes after an edge out of it
    for k, step in enumerate(edge_steps(result)):
        assert all(later.node != step.source for later in edge_steps(result)[k + 1:])


# ---- A value used twice --------------------------------------------------------------------------

def test_x_times_x_accumulates_two_contributions_into_six() -> None:
    result = trace("f = x * x", {"x": 3})
    into_x = [step for step in edge_steps(result) if step.node == "n0"]
    assert [(s.upstream, s.local, s.contribution, s.grad) for s in into_x] == [(1.0, 3.0, 3.0, 3.0),
                                                                             (1.0, 3.0, 3.0, 6.0)]
    assert result.grads[0] == 6.0
    assert into_x[1].grad == into_x[0].grad + into_x[1].contribution


def test_a_plus_a_twice_gives_gradient_four() -> None:
    nodes = by_label(trace("b = a + a\nc = b + b", {"a": 3}))
    assert (nodes["b"]["value"], nodes["c"]["value"]) == (6.0, 12.0)
    assert (nodes["a"]["grad"], nodes["b"]["grad"], nodes["c"]["grad"]) == (4.0, 2.0, 1.0)


def test_a_name_used_in_two_statements_sums_both_paths() -> None:
    nodes = by_label(trace("u = x * 2\nv = x * x\nf = u + v", {"x": 5}))
    assert nodes["x"]["grad"] == 2.0 + 2 * 5.0


# ---- A trace is a pure function of its request ---------------------------------------------------

def test_the_same_request_twice_gives_identical_traces() -> None:
    first = trace("f = x * x + y", {"x": 3, "y": [1.0, 2.0]}, params=["x"], learning_rate=0.1).to_dict()
    second = trace("f = x * x + y", {"x": 3, "y": [1.0, 2.0]}, params=["x"], learning_rate=0.1).to_dict()
    assert first == second
    assert by_label_of(first)["x"]["grad"] == 12.0  # 2 * 3 per element of y, two elements


def test_tracing_one_parsed_graph_twice_does_not_double_the_gradients() -> None:
    graph = parse("b = a + a\nc = b + b")
    first = trace_graph(graph, {"a": 3})
    second = trace_graph(graph, {"a": 3})
    assert first.grads[0] == second.grads[0] == 4.0
    assert first.to_dict() == second.to_dict()


def test_tracing_leaves_the_request_values_untouched() -> None:
    values = {"x": [[1.0, 2.0], [3.0, 4.0]], "w": np.array([0.5, -0.5])}
    trace("f = x * w", values, params=["w"], learning_rate=0.1)
    assert values["x"] == [[1.0, 2.0], [3.0, 4.0]]
    assert values["w"].tolist() == [0.5, -0.5]


def test_without_recording_the_numbers_are_the_same_and_there_are_no_steps() -> None:
    recorded = trace(WORKED_EXAMPLE, WORKED_VALUES)
    silent = trace(WORKED_EXAMPLE, WORKED_VALUES, record=False)
    assert silent.steps == []
    assert [float(v) for v in silent.values] == [float(v) for v in recorded.values]
    assert [float(g) for g in silent.grads] == [float(g) for g in recorded.grads]


# ---- Gradients that do not flow ------------------------------------------------------------------

def test_a_node_that_does_not_reach_the_output_has_gradient_zero() -> None:
    nodes = by_label(trace("a = x * 2\nf = y + 1", {"x": 1, "y": 2}))
    assert (nodes["a"]["grad"], nodes["x"]["grad"], nodes["y"]["grad"]) == (0.0, 0.0, 1.0)
    assert nodes["a"]["grad_status"] == "ok" and nodes["a"]["requires_grad"]


def test_constants_carry_no_gradient() -> None:
    nodes = trace("f = 2 * 3", {}).to_dict()["nodes"]
    assert [(n["value"], n["grad"], n["grad_status"], n["requires_grad"]) for n in nodes] == [
        (2.0, None, "none", False), (3.0, None, "none", False), (6.0, None, "none", False)]


def test_a_constant_subexpression_carries_no_gradient_but_its_consumer_does() -> None:
    nodes = trace("f = x * (2 + 3)", {"x": 4}).to_dict()["nodes"]
    assert [(n["label"], n["value"], n["grad"]) for n in nodes] == [
        ("x", 4.0, 5.0), ("2", 2.0, None), ("3", 3.0, None), ("2 + 3", 5.0, None), ("f", 20.0, 1.0)]


# ---- Tensors and broadcasting --------------------------------------------------------------------

def test_tensor_edges_give_a_formula_instead_of_a_jacobian_and_unbroadcast_the_contribution() -> None:
    result = trace("f = x * y", {"x": [[1, 2, 3], [4, 5, 6]], "y": [1, 2, 3]})
    steps = [step.to_dict() for step in edge_steps(result)]
    into_x, into_y = steps
    assert (into_x["node"], into_x["local"], into_x["local_formula"]) == ("n0", None, "y")
    assert into_x["contribution"] == [[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]
    assert (into_y["node"], into_y["local"], into_y["local_formula"]) == ("n1", None, "x")
    assert into_y["contribution"] == into_y["grad"] == [5.0, 7.0, 9.0]
    nodes = by_label(result)
    assert nodes["f"]["shape"] == [2, 3] and nodes["y"]["shape"] == [3]
    assert nodes["f"]["grad"] == [[1.0] * 3] * 2


def test_a_tensor_output_is_summed_into_the_loss() -> None:
    result = trace("f = w * x", {"w": 2, "x": [1, 2, 3]}, params=["w"], learning_rate=0.1)
    assert result.update.loss_before == 12.0
    assert result.grads[0] == 6.0


def test_shapes_that_do_not_broadcast_are_refused_where_they_meet() -> None:
    with pytest.raises(SourceError) as caught:
        trace("a = x + 1\nf = a * y", {"x": [[1, 2, 3], [4, 5, 6]], "y": [1, 2]})
    error = caught.value
    assert (error.code, error.line, error.column) == ("shape_mismatch", 2, 5)
    assert "a (shape [2, 3]) and y (shape [2])" in error.message


# ---- Numerically bad, but legal ------------------------------------------------------------------

BAD_PROGRAMS = [
    pytest.param("exp(1000)", {}, "n1", "overflow", id="exp-overflow"),
    pytest.param("log(0)", {}, "n1", "div0", id="log-of-zero"),
    pytest.param("1/0", {}, "n2", "div0", id="divide-by-zero"),
    pytest.param("sqrt(-1)", {}, "n2", "nan", id="sqrt-of-negative"),
    pytest.param("9**9**9", {}, "n4", "overflow", id="power-tower"),
    pytest.param("0*log(0)", {}, "n2", "div0", id="zero-times-log-zero"),
    pytest.param("u = log(x)\nf = x * u", {"x": 0}, "n1", "div0", id="x-log-x-at-zero"),
    pytest.param("u = log(x)\nv = u * 2\nf = v + 1", {"x": 0}, "n1", "div0", id="downstream-chain"),
    pytest.param("e = exp(x)\nf = e - e", {"x": 1000}, "n1", "overflow", id="inf-minus-inf"),
    pytest.param("f = (x - 1) / (x - 1) + y", {"x": 1, "y": 2}, "n5", "nan", id="zero-over-zero"),
]


@pytest.mark.parametrize(("source", "values", "origin", "status"), BAD_PROGRAMS)
def test_a_bad_number_is_marked_where_it_began_and_downstream(source: str, values: dict, origin: str,
                                                              status: str) -> None:
    result = trace(source, values)
    answer = result.to_dict()
    json.dumps(answer, allow_nan=False)
    nodes = {node["id"]: node for node in answer["nodes"]}
    began = nodes[origin]
    assert (began["status"], began["bad_from"], began["value"]) == (status, origin, None)
    for node in answer["nodes"]:
        if index_of(result, node["id"]) < index_of(result, origin):
            assert (node["status"], node["bad_from"]) == ("ok", None), node
        if node["status"] != "ok":
            assert node["value"] is None and node["bad_from"] == origin, node
    assert nodes[answer["output"]]["status"] != "ok"
    assert nodes[answer["output"]]["bad_from"] == origin
    for node in answer["nodes"]:
        if node["grad_status"] not in ("ok", "none"):
            assert node["grad"] is None and node["grad_bad_from"] is not None, node
        if node["grad_status"] == "ok":
            assert node["grad"] is not None, node


def test_x_log_x_at_zero_poisons_the_gradient_of_x_with_nan_from_the_log() -> None:
    nodes = by_label(trace("u = log(x)\nf = x * u", {"x": 0}))
    assert (nodes["u"]["status"], nodes["u"]["bad_from"]) == ("div0", "n1")
    assert (nodes["f"]["status"], nodes["f"]["bad_from"], nodes["f"]["value"]) == ("nan", "n1", None)
    assert (nodes["x"]["grad"], nodes["x"]["grad_status"], nodes["x"]["grad_bad_from"]) == (None, "nan", "n1")
    assert (nodes["u"]["grad"], nodes["u"]["grad_status"]) == (0.0, "ok")  # df/du = x = 0


def test_an_overflow_poisons_the_gradient_of_its_input() -> None:
    nodes = by_label(trace("f = exp(x)", {"x": 1000}))
    assert (nodes["f"]["status"], nodes["f"]["bad_from"]) == ("overflow", "n1")
    assert (nodes["x"]["grad"], nodes["x"]["grad_status"], nodes["x"]["grad_bad_from"]) == (None, "inf", "n1")


def test_a_finite_forward_with_an_infinite_slope_marks_the_gradient_only() -> None:
    nodes = by_label(trace("f = sqrt(x)", {"x": 0}))
    assert (nodes["f"]["value"], nodes["f"]["status"]) == (0.0, "ok")
    assert (nodes["x"]["grad"], nodes["x"]["grad_status"], nodes["x"]["grad_bad_from"]) == (None, "div0", "n1")


def test_bad_steps_serialise_as_null_with_a_status() -> None:
    result = trace("u = log(x)\nf = x * u", {"x": 0})
    steps = [step.to_dict() for step in result.steps]
    json.dumps(steps, allow_nan=False)
    assert steps[1]["value"] is None and steps[1]["status"] == "div0"
    assert steps[1]["formula"] == "u = log(x) = log(0) = -inf"
    into_x = [s for s in steps if s["phase"] == "backward" and s.get("node") == "n0"]
    assert [s["grad"] for s in into_x] == [None, None]
    assert [s["status"] for s in into_x] == ["inf", "nan"]


# ---- One gradient-descent step -------------------------------------------------------------------

def test_update_moves_each_parameter_against_its_gradient() -> None:
    result = trace("p = w * x\nL = (p - y) ** 2", {"w": 0.2, "x": 2, "y": 3}, params=["w"], learning_rate=0.05)
    steps = [step.to_dict() for step in result.steps if isinstance(step, UpdateStep)]
    assert len(steps) == 1
    step = steps[0]
    assert (step["node"], step["before"], step["learning_rate"]) == ("n0", 0.2, 0.05)
    assert step["grad"] == pytest.approx(2 * (0.4 - 3) * 2, rel=1e-15)  # dL/dw = 2 (p - y) x = -10.4
    assert step["after"] == pytest.approx(0.2 - 0.05 * -10.4, rel=1e-15)
    assert step["formula"] == "w = 0.2 - 0.05 * (-10.4) = 0.72"
    update = result.update.to_dict()
    assert update["loss_before"] == pytest.approx(6.76, rel=1e-15)
    assert update["loss_after"] == pytest.approx((0.72 * 2 - 3) ** 2, rel=1e-15)
    assert update["loss_predicted"] == pytest.approx(6.76 - 0.05 * 10.4 ** 2, rel=1e-14)


def test_a_small_step_lowers_the_loss_as_first_order_taylor_predicts() -> None:
    learning_rate = 1e-4
    result = trace("p = w * x\nL = (p - y) ** 2", {"w": 0.2, "x": 2, "y": 3}, params=["w"],
                   learning_rate=learning_rate)
    update = result.update
    assert update.loss_after < update.loss_before
    assert update.loss_predicted == pytest.approx(update.loss_before - learning_rate * 10.4 ** 2, rel=1e-14)
    # L is quadratic in w, so the gap to the prediction is exactly the second-order term (eta g x)^2.
    assert update.loss_after - update.loss_predicted == pytest.approx((learning_rate * 10.4 * 2) ** 2, rel=1e-6)


def test_several_parameters_move_together_and_taylor_is_close_for_a_small_step() -> None:
    values = {"w0": 2, "x0": -1, "w1": -3, "x1": -2, "b": -3}
    source = "z = w0 * x0 + w1 * x1 + b\na = sigmoid(z)"
    learning_rate = 1e-3
    result = trace(source, values, params=["w0", "w1", "b"], learning_rate=learning_rate)
    grads = {result.graph.nodes[i].label: float(result.grads[i]) for i in result.graph.inputs.values()}
    steps = {label_of(result, step.node): step for step in result.steps if isinstance(step, UpdateStep)}
    assert list(steps) == ["w0", "w1", "b"]
    for label, step in steps.items():
        assert step.after == step.before - learning_rate * grads[label]
    squared_norm = grads["w0"] ** 2 + grads["w1"] ** 2 + grads["b"] ** 2
    update = result.update
    assert update.loss_after < update.loss_before
    assert update.loss_predicted == pytest.approx(update.loss_before - learning_rate * squared_norm, rel=1e-15)
    assert abs(update.loss_after - update.loss_predicted) < 1e-3 * learning_rate * squared_norm
    moved = trace(source, {**values, **{label: float(step.after) for label, step in steps.items()}})
    assert float(moved.values[moved.graph.output]) == update.loss_after


def test_a_tensor_parameter_moves_element_by_element() -> None:
    result = trace("L = (w * x) ** 2", {"w": [1, 2], "x": [3, 4]}, params=["w"], learning_rate=0.01)
    step = next(step for step in result.steps if isinstance(step, UpdateStep))
    assert step.grad.tolist() == [18.0, 64.0]  # 2 w x^2
    np.testing.assert_allclose(step.after, [0.82, 1.36], rtol=1e-15)
    assert result.update.loss_before == 73.0
    assert result.update.loss_after == pytest.approx((0.82 * 3) ** 2 + (1.36 * 4) ** 2, rel=1e-14)


def test_without_params_there_is_no_update() -> None:
    result = trace(WORKED_EXAMPLE, WORKED_VALUES, learning_rate=0.1)
    assert result.update is None
    assert "update" not in result.to_dict()
    assert not any(isinstance(step, UpdateStep) for step in result.steps)


@pytest.mark.parametrize(("params", "learning_rate", "code", "field"), [
    (["w"], None, "missing_value", "learning_rate"),
    (["w"], 0.0, "invalid_value", "learning_rate"),
    (["w"], 1e7, "invalid_value", "learning_rate"),
    (["q"], 0.1, "unknown_param", "params"),
    (["p"], 0.1, "unknown_param", "params"),
    (["w", "w"], 0.1, "invalid_value", "params"),
])
def test_bad_update_requests_are_refused(params: list[str], learning_rate: float | None, code: str,
                                         field: str) -> None:
    with pytest.raises(ValueInputError) as caught:
        trace("p = w * x\nL = (p - y) ** 2", {"w": 0.2, "x": 2, "y": 3}, params=params,
              learning_rate=learning_rate)
    assert (caught.value.code, caught.value.where) == (code, {"field": field})


def test_too_many_params_is_refused() -> None:
    with pytest.raises(ValueInputError) as caught:
        trace("f = w * 2", {"w": 1}, params=["w", "w"], learning_rate=0.1, limits=LIMITS.raised(max_params=1))
    assert caught.value.code == "limit_exceeded"


def test_gradcheck_runs_on_request_and_passes_for_a_smooth_program() -> None:
    result = trace("z = w * x + b\na = tanh(z)\nL = (a - t) ** 2", {"w": 0.5, "x": 1.5, "b": -0.2, "t": 0.8},
                   gradcheck=True)
    checks = result.to_dict()["gradcheck"]
    assert [check["label"] for check in checks] == ["w", "x", "b", "t"]
    assert [check["verdict"] for check in checks] == ["pass"] * 4
    assert trace(WORKED_EXAMPLE, WORKED_VALUES).gradcheck is None


# ---- Long chains: no recursion anywhere ----------------------------------------------------------

CHAIN_LIMITS = LIMITS.raised(max_nodes=50_000, max_statements=20_000, max_source_chars=1_000_000)


def test_a_10000_statement_chain_evaluates_and_backpropagates() -> None:
    n, rate = 10_000, 1.0001
    source = "\n".join(f"a{i} = a{i - 1} * {rate} + 0.1" for i in range(1, n + 1))
    result = trace(source, {"a0": 1.0}, limits=CHAIN_LIMITS)
    assert len(result.graph.nodes) == 1 + 4 * n
    growth = rate ** n
    assert float(result.values[result.graph.output]) == pytest.approx(growth + 0.1 * (growth - 1) / (rate - 1),
                                                                       rel=1e-9)
    assert float(result.grads[result.graph.inputs["a0"]]) == pytest.approx(growth, rel=1e-9)
    assert sum(isinstance(step, EdgeStep) for step in result.steps) == 2 * n


def test_a_10000_term_left_associative_sum_evaluates_and_backpropagates() -> None:
    n = 10_000
    result = trace(" + ".join(["x"] * n), {"x": 0.25}, limits=CHAIN_LIMITS)
    assert len(result.graph.nodes) == n
    assert float(result.values[result.graph.output]) == 0.25 * n
    assert float(result.grads[0]) == float(n)
    assert sum(isinstance(step, EdgeStep) for step in result.steps) == 2 * (n - 1)
    assert sum(isinstance(step, ForwardStep) for step in result.steps) == n
    assert sum(isinstance(step, SeedStep) for step in result.steps) == 1


# ---- The training fast path (checked=False, record=False) ---------------------------------------------------

SOFTMAX_ASIDE = "Z = W @ X + b\nA = softmax(Z)\nL = cross_entropy(Z, Y)"
SOFTMAX_VALUES = {"W": [[1.0, -2.0], [0.5, 0.25], [-1.0, 3.0]], "X": [[0.5, -1.0], [2.0, 0.25]],
                  "b": [[0.1], [0.0], [-0.3]], "Y": [[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]]}


def fast_and_checked(source: str, values: dict[str, Any]) -> tuple[Trace, Trace]:
    graph = parse(source)
    bindings = bind(graph, values)
    return run(graph, bindings, record=False, checked=False), run(graph, bindings, record=False)


def test_the_fast_path_gives_the_checked_paths_numbers_bit_for_bit() -> None:
    fast, checked = fast_and_checked(SOFTMAX_ASIDE, SOFTMAX_VALUES)
    assert len(fast.values) == len(checked.values) == 8
    for index, (value, expected) in enumerate(zip(fast.values, checked.values)):
        assert np.asarray(value).tobytes() == np.asarray(expected).tobytes(), index
    for index, (grad, expected) in enumerate(zip(fast.grads, checked.grads)):
        assert (grad is None) == (expected is None), index
        if grad is not None:
            assert np.asarray(grad).tobytes() == np.asarray(expected).tobytes(), index
    assert fast.status == checked.status and fast.grad_status == checked.grad_status


def test_the_fast_path_works_out_a_node_no_gradient_goes_through_only_when_read() -> None:
    fast, checked = fast_and_checked(SOFTMAX_ASIDE, SOFTMAX_VALUES)
    a = next(node.index for node in fast.graph.nodes if node.label == "A")
    assert list.__getitem__(fast.values, a) is LATER  # the softmax A: the loss reads the logits Z
    assert list.__getitem__(fast.grads, a) is LATER
    assert np.array_equal(fast.grads[a], np.zeros((3, 2)))  # reading its gradient works out its value first
    assert list.__getitem__(fast.values, a) is not LATER
    np.testing.assert_array_equal(fast.values[a], checked.values[a])
    np.testing.assert_allclose(fast.values[a].sum(axis=0), [1.0, 1.0], rtol=1e-15)
    for read in (lambda values: list(reversed(values))[2], lambda values: values[-3:][0],
                 lambda values: [value for value in values][a]):  # reversed(), slices and loops work it out too
        fresh, _ = fast_and_checked(SOFTMAX_ASIDE, SOFTMAX_VALUES)
        np.testing.assert_array_equal(read(fresh.values), checked.values[a])


def test_a_chain_of_nodes_no_gradient_goes_through_is_worked_out_without_recursion() -> None:
    source = "L = x * 2\nh0 = x + 1\n" + "\n".join(f"h{k} = h{k - 1} + 1" for k in range(1, 3000)) + "\nL"
    limits = LIMITS.raised(max_nodes=10_000, max_statements=5_000, max_source_chars=100_000)
    graph = parse(source, limits)
    fast = run(graph, bind(graph, {"x": 1.0}, limits), record=False, checked=False)
    last = next(node.index for node in graph.nodes if node.label == "h2999")
    assert fast.values[last] == 3001.0 and fast.grads[last] == 0.0
    assert fast.values[graph.output] == 2.0 and fast.grads[0] == 2.0


def test_a_fast_path_trace_is_freed_as_soon_as_it_is_dropped_without_the_cycle_collector() -> None:
    graph = parse(SOFTMAX_ASIDE)
    bindings = bind(graph, SOFTMAX_VALUES)
    gc.disable()
    try:
        fast = run(graph, bindings, record=False, checked=False)
        values, grads = weakref.ref(fast.values), weakref.ref(fast.grads)
        del fast
        assert values() is None and grads() is None  # no reference cycle keeps a step's arrays alive
    finally:
        gc.enable()
