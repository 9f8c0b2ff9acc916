"""engine/gradcheck.py: centered differences per leaf, relative error and the verdict."""
from __future__ import annotations

import numpy as np
import pytest

from engine.errors import LimitError
from engine.gradcheck import PASS_BELOW, WARN_BELOW, gradcheck, numeric_gradient, relative_error, verdict
from engine.limits import LIMITS
from engine.parse import parse
from engine.trace import trace
from engine.values import bind

SMOOTH_PROGRAMS = [
    pytest.param("q = x + y\nf = q * z", {"x": -2, "y": 5, "z": -4}, id="worked-example"),
    pytest.param("z = w0 * x0 + w1 * x1 + b\na = sigmoid(z)", {"w0": 2, "x0": -1, "w1": -3, "x1": -2, "b": -3},
                 id="sigmoid-neuron"),
    pytest.param("z = w * x + b\na = tanh(z)\nL = (a - t) ** 2", {"w": 0.5, "x": 1.5, "b": -0.2, "t": 0.8},
                 id="tanh-neuron"),
    pytest.param("f = log(x) * sqrt(y) + sin(x) / cos(y) - x ^ y", {"x": 1.3, "y": 0.4}, id="functions"),
    pytest.param("f = w * x + b", {"w": [[1, -2], [0.5, 3]], "x": [2, -1], "b": 0.1}, id="tensors"),
]


def checks_for(source: str, values: dict, corrupt: dict[str, float] | None = None):
    graph = parse(source)
    bindings = bind(graph, values)
    result = trace(source, values)
    gradients = {i: result.grads[i] for i in graph.inputs.values()}
    for name, factor in (corrupt or {}).items():
        gradients[graph.inputs[name]] = gradients[graph.inputs[name]] * factor
    return {check.label: check for check in gradcheck(graph, bindings, gradients)}


@pytest.mark.parametrize(("source", "values"), SMOOTH_PROGRAMS)
def test_smooth_programs_pass(source: str, values: dict) -> None:
    checks = checks_for(source, values)
    assert set(checks) == set(values)
    for check in checks.values():
        assert check.verdict == "pass", check
        assert check.rel_error < PASS_BELOW
        np.testing.assert_allclose(check.numeric, check.analytic, rtol=1e-6, atol=1e-9)


def test_worked_example_numeric_gradients_are_the_textbook_numbers() -> None:
    checks = checks_for("q = x + y\nf = q * z", {"x": -2, "y": 5, "z": -4})
    assert {label: round(float(check.numeric), 8) for label, check in checks.items()} == {
        "x": -4.0, "y": -4.0, "z": 3.0}


def test_a_corrupted_analytic_gradient_fails_and_the_others_still_pass() -> None:
    checks = checks_for("z = w0 * x0 + w1 * x1 + b\na = sigmoid(z)",
                        {"w0": 2, "x0": -1, "w1": -3, "x1": -2, "b": -3}, corrupt={"w0": 1.5})
    assert checks["w0"].verdict == "fail"
    assert checks["w0"].rel_error == pytest.approx(1 / 3, rel=1e-6)  # |1.5g - g| / |1.5g|
    assert [checks[name].verdict for name in ("x0", "w1", "x1", "b")] == ["pass"] * 4


def test_a_gradient_with_the_wrong_sign_fails() -> None:
    checks = checks_for("f = x * x", {"x": 3}, corrupt={"x": -1.0})
    assert (float(checks["x"].analytic), checks["x"].verdict) == (-6.0, "fail")
    assert checks["x"].rel_error == pytest.approx(2.0, rel=1e-6)


def test_a_slightly_wrong_gradient_warns() -> None:
    checks = checks_for("f = x * x", {"x": 3}, corrupt={"x": 1.001})
    assert checks["x"].verdict == "warn"


def test_a_corrupted_tensor_element_fails_the_whole_leaf() -> None:
    graph = parse("f = w * x")
    values = {"w": [1.0, 2.0, 3.0], "x": 2.0}
    bindings = bind(graph, values)
    gradients = {graph.inputs["w"]: np.array([2.0, 2.0, 2.5]), graph.inputs["x"]: np.float64(6.0)}
    checks = {check.label: check for check in gradcheck(graph, bindings, gradients)}
    assert checks["w"].verdict == "fail" and checks["x"].verdict == "pass"
    np.testing.assert_allclose(checks["w"].numeric, [2.0, 2.0, 2.0], rtol=1e-9)


def test_a_true_zero_gradient_measured_with_rounding_noise_passes() -> None:
    checks = checks_for("f = sin(x) ** 2 + cos(x) ** 2 + y", {"x": 0.7, "y": 1e3})
    assert abs(float(checks["x"].analytic)) < 1e-12
    assert checks["x"].verdict == "pass"


def test_a_non_finite_gradient_has_an_undefined_verdict() -> None:
    checks = checks_for("u = log(x)\nf = x * u", {"x": 0})
    assert (checks["x"].rel_error, checks["x"].verdict) == (None, "undefined")
    assert checks["x"].to_dict()["analytic"] is None


def test_numeric_gradient_of_a_tensor_input_has_its_shape() -> None:
    graph = parse("f = x * x")
    bindings = bind(graph, {"x": [[1.0, -2.0], [3.0, 0.5]]})
    numeric = numeric_gradient(graph, bindings, graph.inputs["x"])
    np.testing.assert_allclose(numeric, [[2.0, -4.0], [6.0, 1.0]], rtol=1e-9)


def test_relative_error_and_verdict_thresholds() -> None:
    assert relative_error(2.0, 1.0, loss=0.0, scale=1.0) == 0.5
    assert relative_error(np.array([1.0, 4.0]), np.array([1.0, 2.0]), loss=0.0, scale=1.0) == 0.5
    assert verdict(None) == "undefined"
    assert verdict(PASS_BELOW / 2) == "pass"
    assert verdict((PASS_BELOW + WARN_BELOW) / 2) == "warn"
    assert verdict(WARN_BELOW * 2) == "fail"


def test_a_gradient_check_too_big_for_the_cap_is_refused() -> None:
    graph = parse("f = x * 2")
    bindings = bind(graph, {"x": [1.0] * 100})
    with pytest.raises(LimitError) as caught:
        gradcheck(graph, bindings, {0: np.full(100, 2.0)}, LIMITS.raised(max_gradcheck_work=299))
    assert caught.value.limit == "max_gradcheck_work"
    assert caught.value.where == {"field": "gradcheck"}
