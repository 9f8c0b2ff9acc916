"""engine/optim.py: SGD, momentum, Nesterov, RMSProp and Adam, their first two updates checked against numbers
worked out by hand."""
from __future__ import annotations

import math

import numpy as np
import pytest

from engine.errors import LimitError, ValueInputError
from engine.optim import (SGD, Adam, Momentum, Nesterov, RMSProp, first_order_prediction, make_optimizer,
                          sgd_step, taylor_prediction)

THETA = np.array([[1.0, -2.0]])
G1 = np.array([[0.5, -1.0]])
G2 = np.array([[0.1, 0.2]])


def two_updates(optimizer: SGD) -> tuple[np.ndarray, np.ndarray]:
    optimizer.begin()
    first = optimizer.update("W", THETA, G1)
    optimizer.begin()
    second = optimizer.update("W", first, G2)
    return first, second


def test_sgd_steps_against_the_gradient_by_the_learning_rate() -> None:
    first, second = two_updates(SGD(0.1))
    assert first.tolist() == [[1.0 - 0.05, -2.0 + 0.1]]
    np.testing.assert_allclose(second, [[0.95 - 0.01, -1.9 - 0.02]], rtol=1e-15)
    assert SGD(0.1).state() == {}


def test_momentum_first_two_updates_by_hand() -> None:
    # v1 = g1 = (0.5, -1);               theta1 = theta0 - 0.1 v1 = (0.95, -1.9)
    # v2 = 0.9 v1 + g2 = (0.55, -0.7);  theta2 = theta1 - 0.1 v2 = (0.895, -1.83)
    optimizer = Momentum(0.1, beta=0.9)
    first, second = two_updates(optimizer)
    np.testing.assert_allclose(first, [[0.95, -1.9]], rtol=1e-15)
    np.testing.assert_allclose(optimizer.velocity["W"], [[0.55, -0.7]], rtol=1e-15)
    np.testing.assert_allclose(second, [[0.895, -1.83]], rtol=1e-15)
    snapshot = optimizer.parameter_state("W")["velocity"]  # a copy: later steps change velocity in place
    assert snapshot.tolist() == optimizer.velocity["W"].tolist() and snapshot is not optimizer.velocity["W"]


def test_momentum_first_step_equals_plain_sgd_because_velocity_starts_at_zero() -> None:
    assert Momentum(0.3).update("W", THETA, G1).tolist() == SGD(0.3).update("W", THETA, G1).tolist()


def test_adam_first_two_updates_by_hand() -> None:
    beta1, beta2, eps, rate = 0.9, 0.999, 1e-8, 0.01
    optimizer = Adam(rate, beta1=beta1, beta2=beta2, eps=eps)
    first, second = two_updates(optimizer)
    # Step 1: m = 0.1 g1, v = 0.001 g1^2; bias correction divides by 0.1 and 0.001, so m_hat = g1,
    # v_hat = g1^2 and the step is rate * g1 / (|g1| + eps): almost exactly rate * sign(g1).
    expected_first = [[1.0 - rate * 0.5 / (0.5 + eps), -2.0 + rate * 1.0 / (1.0 + eps)]]
    np.testing.assert_allclose(first, expected_first, rtol=1e-15)
    # Step 2, first component: m = 0.9 * 0.05 + 0.1 * 0.1 = 0.055; v = 0.999 * 0.00025 + 0.001 * 0.01 = 0.00025975
    # m_hat = 0.055 / 0.19; v_hat = 0.00025975 / 0.001999
    m_hat = 0.055 / (1 - 0.9 ** 2)
    v_hat = 0.00025975 / (1 - 0.999 ** 2)
    # second component: m = 0.9 * -0.1 + 0.1 * 0.2 = -0.07; v = 0.999 * 0.001 + 0.001 * 0.04 = 0.001039
    m_hat_2 = -0.07 / (1 - 0.9 ** 2)
    v_hat_2 = 0.001039 / (1 - 0.999 ** 2)
    expected_second = [[expected_first[0][0] - rate * m_hat / (math.sqrt(v_hat) + eps),
                        expected_first[0][1] - rate * m_hat_2 / (math.sqrt(v_hat_2) + eps)]]
    np.testing.assert_allclose(second, expected_second, rtol=1e-13)
    np.testing.assert_allclose(optimizer.m["W"], [[0.055, -0.07]], rtol=1e-14)
    np.testing.assert_allclose(optimizer.v["W"], [[0.00025975, 0.001039]], rtol=1e-14)
    assert optimizer.t == 2
    assert optimizer.parameter_state("W")["t"] == 2


def test_adam_first_step_moves_every_parameter_by_about_the_learning_rate() -> None:
    optimizer = Adam(0.001)
    optimizer.begin()
    moved = optimizer.update("W", np.zeros((1, 3)), np.array([[1e-6, -3.0, 250.0]]))
    np.testing.assert_allclose(np.abs(moved), 0.001, rtol=1e-2)


def test_optimizers_keep_separate_state_per_parameter() -> None:
    optimizer = Momentum(0.1)
    optimizer.begin()
    optimizer.update("W1", THETA, G1)
    optimizer.update("b1", np.zeros((1, 1)), np.ones((1, 1)))
    assert set(optimizer.state()["velocity"]) == {"W1", "b1"}


def test_a_huge_learning_rate_gives_huge_numbers_not_an_exception() -> None:
    with np.errstate(all="raise"):
        moved = Momentum(1e6).update("W", np.array([1.0]), np.array([1e305]))
    assert np.isinf(moved).all()


def test_make_optimizer_names_the_bad_field() -> None:
    assert isinstance(make_optimizer("adam", 0.01), Adam)
    assert make_optimizer("momentum", 0.1, beta=0.5).beta == 0.5
    for kwargs, field in (({"name": "adagrad", "learning_rate": 0.1}, "optimizer"),
                          ({"name": "sgd", "learning_rate": 0.0}, "learning_rate"),
                          ({"name": "sgd", "learning_rate": 1e7}, "learning_rate"),
                          ({"name": "momentum", "learning_rate": 0.1, "beta": 1.0}, "beta"),
                          ({"name": "adam", "learning_rate": 0.1, "eps": 0.0}, "eps"),
                          ({"name": "rmsprop", "learning_rate": 0.1, "rho": 1.0}, "rho")):
        with pytest.raises(ValueInputError) as caught:
            make_optimizer(**kwargs)
        assert caught.value.where == {"field": field}


def test_the_first_order_prediction_of_an_sgd_step_is_the_taylor_formula() -> None:
    gradients = {"W": G1}
    after = {"W": sgd_step(THETA, G1, 0.1)}
    assert first_order_prediction(2.0, gradients, {"W": THETA}, after) == pytest.approx(
        taylor_prediction(2.0, gradients, 0.1), rel=1e-15)
    assert taylor_prediction(2.0, gradients, 0.1) == 2.0 - 0.1 * 1.25


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "rmsprop", "adam"])
def test_update_into_reuses_the_gradient_array_and_gives_the_same_bits_as_update(name: str) -> None:
    pure, fast = make_optimizer(name, 0.05), make_optimizer(name, 0.05)
    rng = np.random.default_rng(0)
    theta_pure = theta_fast = rng.normal(size=(3, 4))
    for _ in range(3):
        gradient = rng.normal(size=(3, 4))
        pure.begin()
        fast.begin()
        before = theta_fast.copy()
        theta_pure = pure.update("W", theta_pure, gradient)
        owned = gradient.copy()
        theta_fast = fast.update_into("W", theta_fast, owned)
        assert theta_fast is owned  # written into the gradient's own array
        assert np.array_equal(theta_fast, theta_pure)
        assert not np.array_equal(before, theta_fast)


def test_nesterov_first_two_updates_by_hand() -> None:
    # v1 = g1 = (0.5, -1);  theta1 = theta0 - 0.1 (g1 + 0.9 v1) = (1, -2) - 0.19 (0.5, -1) = (0.905, -1.81)
    # v2 = 0.9 v1 + g2 = (0.55, -0.7);  theta2 = theta1 - 0.1 (g2 + 0.9 v2) = theta1 - 0.1 (0.595, -0.43)
    #                                                                       = (0.8455, -1.767)
    optimizer = Nesterov(0.1, beta=0.9)
    first, second = two_updates(optimizer)
    np.testing.assert_allclose(first, [[0.905, -1.81]], rtol=1e-15)
    np.testing.assert_allclose(second, [[0.8455, -1.767]], rtol=1e-14)
    np.testing.assert_allclose(optimizer.parameter_state("W")["velocity"], [[0.55, -0.7]], rtol=1e-15)
    assert optimizer.describe()["beta"] == 0.9 and optimizer.name == "nesterov"


def test_rmsprop_first_two_updates_by_hand() -> None:
    rate, rho, eps = 0.01, 0.9, 1e-8
    optimizer = RMSProp(rate, rho=rho, eps=eps)
    first, second = two_updates(optimizer)
    # Step 1: s = 0.1 g1^2 = (0.025, 0.1); the step is rate g1 / sqrt(s): rate / sqrt(0.1) = 0.0316 per
    # parameter, about 3.16 times the rate, since s starts at 0 and is not bias-corrected.
    s1 = [0.1 * 0.25, 0.1 * 1.0]
    expected_first = [[1.0 - rate * 0.5 / (math.sqrt(s1[0]) + eps), -2.0 + rate * 1.0 / (math.sqrt(s1[1]) + eps)]]
    np.testing.assert_allclose(first, expected_first, rtol=1e-15)
    np.testing.assert_allclose(np.abs(first - THETA), rate / math.sqrt(0.1), rtol=1e-6)
    # Step 2: s = 0.9 s1 + 0.1 g2^2 = (0.0225 + 0.001, 0.09 + 0.004) = (0.0235, 0.094)
    s2 = [0.0235, 0.094]
    expected_second = [[expected_first[0][0] - rate * 0.1 / (math.sqrt(s2[0]) + eps),
                        expected_first[0][1] - rate * 0.2 / (math.sqrt(s2[1]) + eps)]]
    np.testing.assert_allclose(second, expected_second, rtol=1e-14)
    np.testing.assert_allclose(optimizer.mean_square["W"], [s2], rtol=1e-14)
    assert set(optimizer.state()) == {"mean_square"} and optimizer.describe()["rho"] == 0.9


def test_make_optimizer_builds_nesterov_and_rmsprop_with_their_settings() -> None:
    nesterov = make_optimizer("nesterov", 0.1, beta=0.5)
    rmsprop = make_optimizer("rmsprop", 0.01, rho=0.99, eps=1e-6)
    assert isinstance(nesterov, Nesterov) and nesterov.beta == 0.5
    assert isinstance(rmsprop, RMSProp) and (rmsprop.rho, rmsprop.eps) == (0.99, 1e-6)


# ---- Going on from a state sent back ------------------------------------------------------------

SHAPES = {"W": (1, 2)}


@pytest.mark.parametrize("name", ["momentum", "nesterov", "rmsprop", "adam"])
def test_an_optimizer_loaded_with_a_state_takes_the_step_the_original_would_have(name: str) -> None:
    original = make_optimizer(name, 0.1, rho=0.5, beta=0.8)
    original.begin()
    first = original.update("W", THETA, G1)
    sent = {part: value if isinstance(value, int) else {key: array.tolist() for key, array in value.items()}
            for part, value in original.state().items()}  # what an answer's optimizer.state holds
    resumed = make_optimizer(name, 0.1, rho=0.5, beta=0.8)
    resumed.load_state(sent, SHAPES)
    fresh = make_optimizer(name, 0.1, rho=0.5, beta=0.8)
    for optimizer in (original, resumed, fresh):
        optimizer.begin()
    resumed_step = resumed.update("W", first, G2)
    assert resumed_step.tolist() == original.update("W", first, G2).tolist()
    assert not np.array_equal(fresh.update("W", first, G2), resumed_step)  # without its state: a first step again


def test_adam_loaded_at_step_one_makes_the_hand_computed_second_step() -> None:
    # m = 0.1 g1 = (0.05, -0.1), v = 0.001 g1^2 = (0.00025, 0.001) after one step, t = 1
    adam = Adam(0.01)
    adam.load_state({"t": 1, "m": {"W": [[0.05, -0.1]]}, "v": {"W": [[0.00025, 0.001]]}}, SHAPES)
    adam.begin()
    second = adam.update("W", THETA, G2)
    m_hat = np.array([0.055, -0.07]) / (1 - 0.9 ** 2)
    v_hat = np.array([0.00025975, 0.001039]) / (1 - 0.999 ** 2)
    np.testing.assert_allclose(second, THETA - 0.01 * m_hat / (np.sqrt(v_hat) + 1e-8), rtol=1e-13)
    assert adam.t == 2


@pytest.mark.parametrize("name, state, field, code", [
    ("adam", {"velocity": {"W": [[0.0, 0.0]]}}, "optimizer_state.velocity", "invalid_value"),
    ("sgd", {"t": 1}, "optimizer_state.t", "invalid_value"),
    ("momentum", {"velocity": {"W": [[0.0, 0.0, 0.0]]}}, "optimizer_state.velocity.W", "invalid_value"),
    ("momentum", {"velocity": {"W": [[0.0, 0.0], [0.0, 0.0]]}}, "optimizer_state.velocity.W", "invalid_value"),
    ("momentum", {"velocity": {"b9": [[0.0]]}}, "optimizer_state.velocity.b9", "unknown_param"),
    ("momentum", {"velocity": {"W": [[0.0, float("nan")]]}}, "optimizer_state.velocity.W", "invalid_value"),
    ("rmsprop", {"mean_square": {"W": [[0.1, -0.1]]}}, "optimizer_state.mean_square.W", "invalid_value"),
    ("adam", {"t": 3, "m": {"W": [[0.0, 0.0]]}}, "optimizer_state.v", "invalid_value"),
    ("adam", {"m": {"W": [[0.0, 0.0]]}, "v": {"W": [[0.0, 0.0]]}}, "optimizer_state.t", "invalid_value"),
    ("adam", {"t": 2, "m": {"W": [[0.0, 0.0]]}, "v": {"W": [[0.0, -1e-9]]}}, "optimizer_state.v.W", "invalid_value"),
    ("adam", {"t": -1}, "optimizer_state.t", "invalid_value"),
    ("adam", {"t": 2**31}, "optimizer_state.t", "limit_exceeded"),
])
def test_a_state_that_does_not_fit_is_refused_naming_the_part_and_parameter(name, state, field, code) -> None:
    optimizer = make_optimizer(name, 0.1)
    with pytest.raises(ValueInputError if code != "limit_exceeded" else LimitError) as caught:
        optimizer.load_state(state, SHAPES)
    assert caught.value.where == {"field": field} and caught.value.code == code
    assert optimizer.state() == make_optimizer(name, 0.1).state()  # nothing half-loaded


def test_every_optimizer_writes_its_update_in_the_lessons_notation() -> None:
    theta, gradient = "W^{[1]}", "dW^{[1]}"
    assert SGD(0.1).latex(theta, gradient) == r"W^{[1]} \leftarrow W^{[1]} - \eta\, dW^{[1]}"
    assert Momentum(0.1).latex(theta, gradient) == (r"v \leftarrow \beta v + dW^{[1]};\ "
                                                    r"W^{[1]} \leftarrow W^{[1]} - \eta\, v")
    assert Nesterov(0.1).latex(theta, gradient).endswith(r"W^{[1]} - \eta\, (dW^{[1]} + \beta v)")
    assert RMSProp(0.1).latex(theta, gradient) == (
        r"s \leftarrow \rho s + (1 - \rho) (dW^{[1]})^2;\ W^{[1]} \leftarrow W^{[1]} - \eta\, "
        r"\frac{dW^{[1]}}{\sqrt{s} + \epsilon}")
    adam = Adam(0.1).latex(theta, gradient)
    assert r"\frac{m / (1 - \beta_1^t)}{\sqrt{v / (1 - \beta_2^t)} + \epsilon}" in adam
    assert adam.count("{") == adam.count("}")


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "rmsprop", "adam"])
def test_update_all_makes_a_whole_step_with_the_same_bits_as_begin_then_update(name: str) -> None:
    by_parameter, at_once = make_optimizer(name, 0.05), make_optimizer(name, 0.05)
    rng = np.random.default_rng(1)
    params = {"W1": rng.normal(size=(3, 2)), "b1": rng.normal(size=(3, 1))}
    for _ in range(3):  # the later steps use the state (velocity; m, v and t) the first ones left
        gradients = {name: rng.normal(size=value.shape) for name, value in params.items()}
        given = {name: value.copy() for name, value in gradients.items()}
        by_parameter.begin()
        expected = {name: by_parameter.update(name, params[name], gradients[name]) for name in params}
        moved = at_once.update_all(params, gradients)
        assert all(np.array_equal(moved[name], expected[name]) for name in params)
        assert all(np.array_equal(gradients[name], given[name]) for name in params)  # left alone
        params = moved


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "rmsprop", "adam"])
def test_step_into_inside_the_callers_errstate_gives_the_bits_of_update_into(name: str) -> None:
    guarded, bare = make_optimizer(name, 0.05), make_optimizer(name, 0.05)
    theta = np.array([[0.5, -1.5, 2.0]])
    for gradient in (np.array([[0.25, 1e-3, -4.0]]), np.array([[1.0, 2.0, 3.0]])):
        guarded.begin()
        bare.begin()
        expected = guarded.update_into("W", theta, gradient.copy())
        with np.errstate(all="ignore"):
            moved = bare.step_into("W", theta, gradient.copy())
        assert np.array_equal(moved, expected)
        theta = moved


def test_update_all_with_a_huge_learning_rate_gives_infinities_not_an_exception() -> None:
    with np.errstate(all="raise"):
        moved = SGD(1e6).update_all({"W": np.array([1.0])}, {"W": np.array([1e305])})
    assert moved["W"][0] == -np.inf
