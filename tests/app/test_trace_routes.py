"""POST /api/v1/trace and /api/v1/trace/state: the trace contract of DESIGN.md, through HTTP."""
from __future__ import annotations

import math

import pytest

from engine.examples import EXAMPLES
from engine.limits import LIMITS

from .conftest import WORKED_EXAMPLE, assert_envelope, by_label, strict_json

TRACE = "/api/v1/trace"
STATE = "/api/v1/trace/state"

SIGMOID_NEURON = next(example for example in EXAMPLES if example["id"] == "sigmoid-neuron")


def post(client, body, path=TRACE):
    response = client.post(path, json=body)
    assert response.status_code == 200, response.text[:500]
    return strict_json(response.text)


def edges(answer):
    return [step for step in answer["steps"] if step["phase"] == "backward" and "from" in step]


# ---- The worked example --------------------------------------------------------------------

def test_worked_example_forward_values_are_q_3_and_f_minus_12(client):
    nodes = by_label(post(client, WORKED_EXAMPLE))
    assert nodes["q"]["value"] == 3
    assert nodes["f"]["value"] == -12
    assert (nodes["x"]["value"], nodes["y"]["value"], nodes["z"]["value"]) == (-2, 5, -4)


def test_worked_example_gradients_match_the_chain_rule_by_hand(client):
    nodes = by_label(post(client, WORKED_EXAMPLE))
    assert nodes["x"]["grad"] == -4
    assert nodes["y"]["grad"] == -4
    assert nodes["z"]["grad"] == 3
    assert nodes["q"]["grad"] == -4
    assert nodes["f"]["grad"] == 1


def test_worked_example_nodes_carry_roles_ops_and_the_output_id(client):
    answer = post(client, WORKED_EXAMPLE)
    nodes = by_label(answer)
    assert answer["output"] == nodes["f"]["id"]
    assert {label: node["role"] for label, node in nodes.items()} == {
        "x": "input", "y": "input", "z": "input", "q": "intermediate", "f": "output"}
    assert nodes["q"]["op"] == "add" and nodes["f"]["op"] == "mul"
    assert nodes["q"]["inputs"] == [nodes["x"]["id"], nodes["y"]["id"]]
    assert all(node["status"] == "ok" and node["shape"] == [] for node in answer["nodes"])


def test_worked_example_forward_step_fills_numbers_into_the_formula(client):
    answer = post(client, WORKED_EXAMPLE)
    formulas = [step["formula"] for step in answer["steps"] if step["phase"] == "forward"]
    assert "q = x + y = -2 + 5 = 3" in formulas
    assert "f = q * z = 3 * (-4) = -12" in formulas


def test_backward_pass_starts_with_a_seed_of_one_on_the_output(client):
    answer = post(client, WORKED_EXAMPLE)
    backward = [step for step in answer["steps"] if step["phase"] == "backward"]
    assert backward[0]["node"] == answer["output"]
    assert backward[0]["grad"] == 1
    assert "from" not in backward[0]


def test_worked_example_backward_edges_flow_from_f_to_q_and_z_then_from_q_to_x_and_y(client):
    answer = post(client, WORKED_EXAMPLE)
    label = {node["id"]: node["label"] for node in answer["nodes"]}
    flow = [(label[step["from"]], label[step["node"]], step["upstream"], step["local"], step["contribution"])
            for step in edges(answer)]
    assert flow == [("f", "q", 1, -4, -4), ("f", "z", 1, 3, 3), ("q", "x", -4, 1, -4), ("q", "y", -4, 1, -4)]


@pytest.mark.parametrize("example", [e for e in EXAMPLES if e["id"] != "numerically-bad"], ids=lambda e: e["id"])
def test_every_backward_edge_has_upstream_times_local_equal_to_contribution(client, example):
    body = {"source": example["source"], "values": example["values"]}
    checked = 0
    for step in edges(post(client, body)):
        if step["local"] is None:  # a tensor edge: local is a formula, not a number
            continue
        assert step["contribution"] == pytest.approx(step["upstream"] * step["local"], rel=1e-12, abs=1e-300)
        checked += 1
    assert checked > 0


def test_steps_are_numbered_in_order_and_phases_go_forward_then_backward(client):
    answer = post(client, WORKED_EXAMPLE)
    assert [step["index"] for step in answer["steps"]] == list(range(len(answer["steps"])))
    phases = [step["phase"] for step in answer["steps"]]
    assert phases == ["forward"] * 5 + ["backward"] * 5


def test_a_name_used_twice_receives_the_sum_of_both_contributions(client):
    answer = post(client, {"source": "b = a + a\nc = b + b", "values": {"a": 3}})
    nodes = by_label(answer)
    assert nodes["b"]["grad"] == 2
    assert nodes["a"]["grad"] == 4
    into_a = [step for step in edges(answer) if step["node"] == nodes["a"]["id"]]
    assert [step["contribution"] for step in into_a] == [2, 2]
    assert [step["grad"] for step in into_a] == [2, 4]


def test_tensor_values_broadcast_and_their_gradients_are_unbroadcast(client):
    answer = post(client, {"source": "f = x * w", "values": {"x": [1, 2, 3], "w": 2}})
    nodes = by_label(answer)
    assert nodes["f"]["value"] == [2, 4, 6]
    assert nodes["f"]["shape"] == [3]
    assert nodes["x"]["grad"] == [2, 2, 2]
    assert nodes["w"]["grad"] == 6  # summed back to w's shape
    assert nodes["w"]["shape"] == []


def test_a_program_just_under_the_node_cap_runs(client):
    source = "x" + " + 1" * 2499  # 4,999 nodes in one left-leaning chain: no recursion anywhere
    answer = post(client, {"source": source, "values": {"x": 1}})
    assert len(answer["nodes"]) == 4999
    assert by_label(answer)["x"]["grad"] == 1
    assert answer["nodes"][-1]["value"] == 2500


# ---- The update and the gradient check -------------------------------------------------------

def test_params_and_learning_rate_give_one_update_step_per_param_with_after_equal_before_minus_lr_grad(client):
    body = {key: SIGMOID_NEURON[key] for key in ("source", "values", "params", "learning_rate")}
    answer = post(client, body)
    nodes = by_label(answer)
    updates = [step for step in answer["steps"] if step["phase"] == "update"]
    assert [step["node"] for step in updates] == [nodes[name]["id"] for name in body["params"]]
    for step in updates:
        name = next(label for label, node in nodes.items() if node["id"] == step["node"])
        assert step["before"] == body["values"][name]
        assert step["grad"] == nodes[name]["grad"]
        assert step["learning_rate"] == body["learning_rate"]
        assert step["after"] == pytest.approx(step["before"] - body["learning_rate"] * step["grad"], rel=1e-12)


def test_update_reports_loss_before_after_and_the_first_order_prediction(client):
    body = {"source": "p = w * x\nL = (p - y) ** 2", "values": {"w": 0.2, "x": 2, "y": 3},
            "params": ["w"], "learning_rate": 0.05}
    answer = post(client, body)
    update = answer["update"]
    assert set(update) == {"learning_rate", "loss_before", "loss_after", "loss_predicted"}
    grad_w = by_label(answer)["w"]["grad"]
    assert grad_w == pytest.approx(2 * (0.4 - 3) * 2)
    assert update["learning_rate"] == 0.05
    assert update["loss_before"] == pytest.approx((0.4 - 3) ** 2)
    assert update["loss_predicted"] == pytest.approx(update["loss_before"] - 0.05 * grad_w ** 2)
    # the real new loss is the program run again at the moved parameter
    moved = post(client, {"source": body["source"], "values": {**body["values"], "w": 0.2 - 0.05 * grad_w}})
    assert update["loss_after"] == pytest.approx(by_label(moved)["L"]["value"])
    assert update["loss_after"] < update["loss_before"]


def test_update_moves_a_tensor_parameter_elementwise(client):
    body = {"source": "L = w * x", "values": {"w": [1, 2], "x": [3, -4]}, "params": ["w"], "learning_rate": 0.5}
    answer = post(client, body)
    [step] = [step for step in answer["steps"] if step["phase"] == "update"]
    assert step["before"] == [1, 2]
    assert step["grad"] == [3, -4]
    assert step["after"] == [1 - 0.5 * 3, 2 + 0.5 * 4]


def test_without_params_there_is_no_update(client):
    answer = post(client, WORKED_EXAMPLE)
    assert "update" not in answer
    assert all(step["phase"] != "update" for step in answer["steps"])


def test_gradcheck_gives_one_passing_row_per_leaf_input(client):
    answer = post(client, {**WORKED_EXAMPLE, "gradcheck": True})
    rows = answer["gradcheck"]
    nodes = by_label(answer)
    assert sorted(row["label"] for row in rows) == ["x", "y", "z"]
    for row in rows:
        assert row["verdict"] == "pass"
        assert row["node"] == nodes[row["label"]]["id"]
        assert row["analytic"] == nodes[row["label"]]["grad"]
        assert row["numeric"] == pytest.approx(row["analytic"], rel=1e-6)
        assert 0 <= row["rel_error"] < 1e-5


def test_gradcheck_passes_on_every_example(client):
    for example in EXAMPLES:
        if example["id"] == "numerically-bad":
            continue
        answer = post(client, {"source": example["source"], "values": example["values"], "gradcheck": True})
        assert {row["verdict"] for row in answer["gradcheck"]} == {"pass"}, example["id"]


# ---- /trace/state ---------------------------------------------------------------------------

def state(client, step, body=WORKED_EXAMPLE):
    return post(client, {**body, "step": step}, STATE)


def test_state_during_the_forward_pass_knows_values_so_far_and_no_gradients(client):
    answer = state(client, 2)  # q = x + y has just been computed
    nodes = {node["id"]: node for node in answer["nodes"]}
    trace = post(client, WORKED_EXAMPLE)
    ids = {label: node["id"] for label, node in by_label(trace).items()}
    assert answer["step"] == 2 and answer["phase"] == "forward"
    assert answer["steps"] == len(trace["steps"])
    assert answer["current"] == trace["steps"][2]
    assert nodes[ids["q"]]["value"] == 3 and nodes[ids["q"]]["status"] == "ok"
    assert nodes[ids["f"]]["value"] is None and nodes[ids["f"]]["status"] == "pending"
    assert all(node["grad"] is None and node["grad_status"] == "pending" for node in answer["nodes"])


def test_state_during_the_backward_pass_knows_the_gradients_that_have_arrived(client):
    trace = post(client, WORKED_EXAMPLE)
    ids = {label: node["id"] for label, node in by_label(trace).items()}
    answer = state(client, 6)  # the edge f -> q
    nodes = {node["id"]: node for node in answer["nodes"]}
    assert answer["phase"] == "backward" and answer["current"] == trace["steps"][6]
    assert nodes[ids["f"]]["grad"] == 1
    assert nodes[ids["q"]]["grad"] == -4
    assert nodes[ids["x"]]["grad"] is None and nodes[ids["x"]]["grad_status"] == "pending"
    assert nodes[ids["f"]]["value"] == -12


def test_state_at_the_last_step_agrees_with_the_final_trace(client):
    trace = post(client, WORKED_EXAMPLE)
    answer = state(client, len(trace["steps"]) - 1)
    final = {node["id"]: (node["value"], node["grad"]) for node in trace["nodes"]}
    assert {node["id"]: (node["value"], node["grad"]) for node in answer["nodes"]} == final
    assert answer["output"] == trace["output"]


def test_state_at_an_update_step_shows_the_parameter_after_the_step(client):
    body = {key: SIGMOID_NEURON[key] for key in ("source", "values", "params", "learning_rate")}
    trace = post(client, body)
    last = len(trace["steps"]) - 1
    answer = state(client, last, body)
    assert answer["phase"] == "update"
    moved = {node["id"]: node["after"] for node in answer["nodes"] if "after" in node}
    updates = {step["node"]: step["after"] for step in trace["steps"] if step["phase"] == "update"}
    assert moved == updates


# ---- Determinism ----------------------------------------------------------------------------

@pytest.mark.parametrize("path, body", [
    (TRACE, WORKED_EXAMPLE),
    (TRACE, {"source": "z = w0 * x0 + w1 * x1 + b\na = sigmoid(z)", "values": SIGMOID_NEURON["values"],
             "params": ["w0", "b"], "learning_rate": 0.5, "gradcheck": True}),
    (TRACE, {"source": "u = log(x)\nf = x * u", "values": {"x": 0}}),
    (STATE, {**WORKED_EXAMPLE, "step": 7}),
], ids=["worked-example", "update-and-gradcheck", "non-finite", "state"])
def test_identical_requests_get_byte_identical_responses(client, path, body):
    first = client.post(path, json=body)
    second = client.post(path, json=body)
    assert first.status_code == 200
    assert first.content == second.content


def test_numbers_in_the_response_are_plain_finite_json_numbers(client):
    answer = post(client, WORKED_EXAMPLE)
    for node in answer["nodes"]:
        assert isinstance(node["value"], float) and math.isfinite(node["value"])


# ---- Caps: a request over one is refused naming it ------------------------------------------

@pytest.mark.parametrize("path", [TRACE, STATE])
def test_a_source_one_character_over_the_cap_is_422_naming_max_source_chars(client, path):
    body = {**WORKED_EXAMPLE, "source": "x" * (LIMITS.max_source_chars + 1), "step": 0}
    if path == TRACE:
        del body["step"]
    error = assert_envelope(client.post(path, json=body), 422)
    assert error["where"]["field"] == "source"
    assert "(max_source_chars)" in error["message"] and str(LIMITS.max_source_chars) in error["message"]


@pytest.mark.parametrize("change, field, limit", [
    ({"values": {"x": [1.0] * (LIMITS.max_tensor_side + 1), "y": 5, "z": -4}}, "values.x", "max_tensor_side"),
    ({"values": {"x": [[1.0] * (LIMITS.max_tensor_side + 1)], "y": 5, "z": -4}}, "values.x", "max_tensor_side"),
    ({"values": {"x": 2 * LIMITS.max_abs_value, "y": 5, "z": -4}}, "values.x", "max_abs_value"),
    ({"values": {"x": [[-2 * LIMITS.max_abs_value]], "y": 5, "z": -4}}, "values.x", "max_abs_value"),
    ({"values": {f"v{i}": 1 for i in range(LIMITS.max_inputs + 1)}}, "values", "max_inputs"),
    ({"params": ["x"] * (LIMITS.max_params + 1)}, "params", "max_params"),
    ({"params": ["x" * (LIMITS.max_name_chars + 1)]}, "params.0", "max_name_chars"),
    ({"params": ["x"], "learning_rate": LIMITS.min_learning_rate / 10}, "learning_rate", "min_learning_rate"),
    ({"params": ["x"], "learning_rate": LIMITS.max_learning_rate * 10}, "learning_rate", "max_learning_rate"),
], ids=["vector", "matrix-row", "number", "matrix-number", "inputs", "params", "param-name", "rate-low",
        "rate-high"])
def test_a_value_or_setting_over_its_cap_is_422_naming_the_field_and_the_cap(client, change, field, limit):
    error = assert_envelope(client.post(TRACE, json={**WORKED_EXAMPLE, **change}), 422)
    assert error["where"]["field"] == field
    assert error["message"].startswith(f"{field}: ") and f"({limit})" in error["message"]


def test_a_bound_that_is_no_cap_is_refused_without_naming_one(client):
    error = assert_envelope(client.post(STATE, json={**WORKED_EXAMPLE, "step": -1}), 422)
    assert error["where"] == {"field": "step"} and "(max_" not in error["message"] and "(min_" not in error["message"]
