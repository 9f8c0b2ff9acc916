"""engine/replay.py: the state at step k shows exactly what is known by step k, nothing more."""
from __future__ import annotations

import json

import pytest

from engine.errors import ValueInputError
from engine.replay import PENDING, state_at
from engine.trace import EdgeStep, ForwardStep, SeedStep, trace

PROGRAMS = [
    pytest.param("q = x + y\nf = q * z", {"x": -2, "y": 5, "z": -4}, {}, id="worked-example"),
    pytest.param("b = a + a\nc = b + b", {"a": 3}, {}, id="used-twice"),
    pytest.param("a = x * 2\nf = y + 1", {"x": 1, "y": 2}, {}, id="a-node-off-the-path"),
    pytest.param("f = 2 * 3", {}, {}, id="constants-only"),
    pytest.param("x", {"x": 4}, {}, id="the-output-is-an-input"),
    pytest.param("u = log(x)\nf = x * u", {"x": 0}, {}, id="bad-numbers"),
    pytest.param("f = x * y", {"x": [[1, 2], [3, 4]], "y": [1, -1]}, {}, id="tensors"),
    pytest.param("p = w * x\nL = (p - y) ** 2", {"w": 0.2, "x": 2, "y": 3}, {"params": ["w"], "learning_rate": 0.05},
                 id="with-an-update"),
]


def test_step_zero_knows_only_the_first_value() -> None:
    state = state_at(trace("q = x + y\nf = q * z", {"x": -2, "y": 5, "z": -4}), 0)
    assert (state["step"], state["steps"], state["phase"], state["output"]) == (0, 10, "forward", "n4")
    assert [(n["id"], n["value"], n["status"]) for n in state["nodes"]] == [
        ("n0", -2.0, "ok"), ("n1", None, PENDING), ("n2", None, PENDING), ("n3", None, PENDING),
        ("n4", None, PENDING)]
    assert all(n["grad"] is None and n["grad_status"] == PENDING for n in state["nodes"])


def test_after_the_forward_pass_every_value_is_known_and_no_gradient() -> None:
    state = state_at(trace("q = x + y\nf = q * z", {"x": -2, "y": 5, "z": -4}), 4)
    assert [n["value"] for n in state["nodes"]] == [-2.0, 5.0, 3.0, -4.0, -12.0]
    assert [n["grad_status"] for n in state["nodes"]] == [PENDING] * 5


def test_the_seed_step_knows_only_the_output_gradient() -> None:
    state = state_at(trace("q = x + y\nf = q * z", {"x": -2, "y": 5, "z": -4}), 5)
    assert state["current"] == {"index": 5, "phase": "backward", "node": "n4", "grad": 1.0, "status": "ok",
                                "formula": "df/df = 1"}
    assert [n["grad"] for n in state["nodes"]] == [None, None, None, None, 1.0]


def test_gradients_arrive_edge_by_edge_in_the_worked_example() -> None:
    result = trace("q = x + y\nf = q * z", {"x": -2, "y": 5, "z": -4})
    grads = [[n["grad"] for n in state_at(result, k)["nodes"]] for k in range(6, 10)]
    assert grads == [
        [None, None, -4.0, None, 1.0],
        [None, None, -4.0, 3.0, 1.0],
        [-4.0, None, -4.0, 3.0, 1.0],
        [-4.0, -4.0, -4.0, 3.0, 1.0],
    ]


def test_a_gradient_shows_its_partial_sum_until_the_last_edge_arrives() -> None:
    result = trace("f = x * x", {"x": 3})
    assert [state_at(result, k)["nodes"][0]["grad"] for k in range(len(result.steps))] == [
        None, None, None, 3.0, 6.0]


def test_update_steps_show_the_new_value_of_the_parameter() -> None:
    result = trace("p = w * x\nL = (p - y) ** 2", {"w": 0.2, "x": 2, "y": 3}, params=["w"], learning_rate=0.05)
    last = len(result.steps) - 1
    state = state_at(result, last)
    assert state["phase"] == "update"
    assert state["nodes"][0]["after"] == pytest.approx(0.72, rel=1e-15)
    assert all("after" not in node for node in state["nodes"][1:])
    assert "after" not in state_at(result, last - 1)["nodes"][0]


@pytest.mark.parametrize(("source", "values", "options"), PROGRAMS)
def test_each_step_knows_exactly_the_values_and_gradients_recorded_so_far(source: str, values: dict,
                                                                          options: dict) -> None:
    result = trace(source, values, **options)
    final = {node["id"]: node for node in result.to_dict()["nodes"]}
    last_backward = max(s.index for s in result.steps if isinstance(s, (SeedStep, EdgeStep)))
    for k in range(len(result.steps)):
        state = state_at(result, k)
        json.dumps(state, allow_nan=False)
        seen = result.steps[: k + 1]
        valued = {s.node for s in seen if isinstance(s, ForwardStep)}
        graded = {s.node for s in seen if isinstance(s, EdgeStep)} | {
            s.node for s in seen if isinstance(s, SeedStep) and final[s.node]["requires_grad"]}
        for node in state["nodes"]:
            if node["id"] in valued:
                assert (node["value"], node["status"]) == (final[node["id"]]["value"], final[node["id"]]["status"])
            else:
                assert (node["value"], node["status"]) == (None, PENDING)
            if not final[node["id"]]["requires_grad"]:
                assert (node["grad"], node["grad_status"]) == (None, "none")
            elif node["id"] in graded or k >= last_backward:
                assert node["grad_status"] != PENDING
            else:
                assert (node["grad"], node["grad_status"]) == (None, PENDING)


@pytest.mark.parametrize(("source", "values", "options"), PROGRAMS)
def test_the_last_step_equals_the_final_values_and_gradients(source: str, values: dict, options: dict) -> None:
    result = trace(source, values, **options)
    state = state_at(result, len(result.steps) - 1)
    final = result.to_dict()["nodes"]
    assert [(n["id"], n["value"], n["status"], n["grad"], n["grad_status"]) for n in state["nodes"]] == [
        (n["id"], n["value"], n["status"], n["grad"], n["grad_status"]) for n in final]


def test_a_node_off_the_path_to_the_output_keeps_gradient_zero_once_the_backward_pass_ends() -> None:
    result = trace("a = x * 2\nf = y + 1", {"x": 1, "y": 2})
    seed = next(s.index for s in result.steps if isinstance(s, SeedStep))
    assert [n["grad_status"] for n in state_at(result, seed)["nodes"]][:3] == [PENDING, "none", PENDING]
    last = state_at(result, len(result.steps) - 1)["nodes"]
    assert [(n["grad"], n["grad_status"]) for n in last] == [
        (0.0, "ok"), (None, "none"), (0.0, "ok"), (1.0, "ok"), (None, "none"), (1.0, "ok")]


def test_a_constant_output_shows_no_gradient_even_at_the_seed() -> None:
    result = trace("f = 2 * 3", {})
    assert isinstance(result.steps[-1], SeedStep)
    assert state_at(result, len(result.steps) - 1)["nodes"][-1]["grad_status"] == "none"


@pytest.mark.parametrize("step", [-1, 10, 1_000])
def test_a_step_outside_the_trace_is_refused(step: int) -> None:
    with pytest.raises(ValueInputError) as caught:
        state_at(trace("q = x + y\nf = q * z", {"x": -2, "y": 5, "z": -4}), step)
    assert (caught.value.code, caught.value.where) == ("invalid_value", {"field": "step"})
    assert "between 0 and 9" in caught.value.message

