"""engine/descent.py: where gradient descent converges and where it diverges, optimizers' first steps by hand,
divergence flagged at the right step, reproducible trajectories, and the Taylor panel's numbers."""
from __future__ import annotations

import math

import numpy as np
import pytest

from engine.descent import OptimizerSpec, critical_rate, descend
from engine.errors import LimitError, ValueInputError
from engine.landscape import Quadratic, make_surface
from engine.limits import LIMITS


def parabola(curvature: float):
    """f = 1/2 lambda w^2, typed in the expression language (w is a; b is not used)."""
    return make_surface("custom", source=f"f = 0.5 * {curvature!r} * a^2")


def one_run(surface, name, learning_rate, steps, start=(1.0, 0.0), **kwargs):
    settings = {key: kwargs.pop(key) for key in ("beta", "beta1", "beta2", "rho", "eps") if key in kwargs}
    return descend(surface, start, [OptimizerSpec(name, learning_rate, **settings)], steps, **kwargs).runs[0]


# ---- Plain gradient descent on 1/2 lambda w^2: converges iff 0 < eta lambda < 2 ---------------

@pytest.mark.parametrize("curvature", [0.5, 4.0, 50.0])
def test_gradient_descent_converges_just_below_eta_lambda_2(curvature):
    run = one_run(parabola(curvature), "sgd", 1.9 / curvature, 400)
    assert run.status == "converged" and run.diverged_at is None
    # Each step multiplies w by (1 - eta lambda) = -0.9: it overshoots the minimum every time, and shrinks.
    assert run.path[1, 0] == pytest.approx(-0.9) and run.path[2, 0] == pytest.approx(0.81)
    assert abs(run.path[-1, 0]) < 1e-15 and run.reversals == 1.0


@pytest.mark.parametrize("curvature", [0.5, 4.0, 50.0])
def test_gradient_descent_diverges_just_above_eta_lambda_2_at_the_step_the_loss_passes_the_factor(curvature):
    run = one_run(parabola(curvature), "sgd", 2.1 / curvature, 400)
    assert run.status == "diverged" and run.reason == "loss_grew"
    # w_k = (-1.1)^k, so L_k = L_0 1.21^k: the first k with 1.21^k > 1000 is 37.
    expected = next(k for k in range(1, 100) if 1.21 ** k > 1000.0)
    assert expected == 37 and run.diverged_at == expected
    assert run.losses[-2] <= 1000.0 * run.losses[0] < run.losses[-1]
    assert len(run.path) == expected + 1  # the run ends at the step that diverged


def test_gradient_descent_at_exactly_eta_lambda_2_bounces_forever_and_tiny_rates_crawl():
    bouncing = one_run(parabola(4.0), "sgd", 0.5, 50)
    assert bouncing.status == "running" and set(np.abs(bouncing.path[:, 0]).tolist()) == {1.0}
    crawling = one_run(parabola(4.0), "sgd", 1e-4, 50)
    assert crawling.status == "running" and crawling.losses[-1] > 0.95 * crawling.losses[0]


def test_the_quadratic_bowl_diverges_past_its_critical_rate_two_over_lambda_max():
    bowl = Quadratic(20.0, angle=35.0)
    critical = bowl.describe()["critical_lr"]
    assert critical == pytest.approx(0.1)
    assert one_run(bowl, "sgd", 0.95 * critical, 600, start=(-2.5, 1.0)).status == "converged"
    assert one_run(bowl, "sgd", 1.05 * critical, 600, start=(-2.5, 1.0)).status == "diverged"


# ---- Momentum: converges iff 0 < eta lambda < 2 + 2 beta --------------------------------------

@pytest.mark.parametrize("beta", [0.5, 0.9])
def test_momentum_converges_below_eta_lambda_2_plus_2_beta_and_diverges_above(beta):
    curvature = 4.0
    bound = 2.0 + 2.0 * beta
    below = one_run(parabola(curvature), "momentum", (bound - 0.1) / curvature, 1500, beta=beta)
    above = one_run(parabola(curvature), "momentum", (bound + 0.1) / curvature, 1500, beta=beta)
    assert below.status == "converged", below.losses[-5:]
    assert above.status == "diverged" and above.reason == "loss_grew"
    # A rate plain descent cannot survive (eta lambda = 2.5 > 2) momentum survives.
    assert one_run(parabola(curvature), "sgd", 2.5 / curvature, 1500).status == "diverged"
    assert one_run(parabola(curvature), "momentum", 2.5 / curvature, 1500, beta=beta).status == "converged"


@pytest.mark.parametrize("beta", [0.5, 0.9])
def test_nesterov_converges_below_eta_lambda_2_plus_2_beta_over_1_plus_2_beta(beta):
    # With g = lambda w the update is linear: z^2 - (1 + beta)(1 - h) z + beta (1 - h) = 0 with h = eta lambda,
    # whose roots stay inside the unit circle exactly when 0 < h < (2 + 2 beta) / (1 + 2 beta).
    bound = (2.0 + 2.0 * beta) / (1.0 + 2.0 * beta)
    assert one_run(parabola(1.0), "nesterov", 0.97 * bound, 1500, beta=beta).status == "converged"
    assert one_run(parabola(1.0), "nesterov", 1.03 * bound, 1500, beta=beta).status == "diverged"


# ---- First two steps by hand, on the bowl L = (a^2 + 4 b^2) / 2 from (1, 1): g = (a, 4b) -------

BOWL = Quadratic(4.0)
START = (1.0, 1.0)


def two_steps(name, learning_rate, **settings):
    return descend(BOWL, START, [OptimizerSpec(name, learning_rate, **settings)], 2).runs[0]


def test_adam_first_two_steps_by_hand():
    rate, beta1, beta2, eps = 0.1, 0.9, 0.999, 1e-8
    run = two_steps("adam", rate, beta1=beta1, beta2=beta2, eps=eps)
    # Step 1: g0 = (1, 4); m = 0.1 g0, v = 0.001 g0^2; m_hat = g0, v_hat = g0^2: each parameter moves by
    # rate g / (|g| + eps), so theta1 = (1 - 0.1, 1 - 0.1) up to eps.
    theta1 = [1.0 - rate * 1.0 / (1.0 + eps), 1.0 - rate * 4.0 / (4.0 + eps)]
    assert run.path[1].tolist() == pytest.approx(theta1, rel=1e-15)
    # Step 2: g1 = (theta1_a, 4 theta1_b) = (0.9, 3.6) up to eps.
    g1 = [theta1[0], 4.0 * theta1[1]]
    m = [0.9 * 0.1 * 1.0 + 0.1 * g1[0], 0.9 * 0.1 * 4.0 + 0.1 * g1[1]]  # (0.18, 0.72)
    v = [0.999 * 0.001 * 1.0 + 0.001 * g1[0] ** 2, 0.999 * 0.001 * 16.0 + 0.001 * g1[1] ** 2]
    m_hat = [x / (1.0 - 0.9 ** 2) for x in m]
    v_hat = [x / (1.0 - 0.999 ** 2) for x in v]
    theta2 = [theta1[k] - rate * m_hat[k] / (math.sqrt(v_hat[k]) + eps) for k in range(2)]
    assert run.path[2].tolist() == pytest.approx(theta2, rel=1e-14)
    assert m == pytest.approx([0.18, 0.72], rel=1e-7)
    assert run.state[0] == {"t": 0, "m": pytest.approx([0.0, 0.0]), "v": pytest.approx([0.0, 0.0])}
    assert run.state[2]["t"] == 2
    assert run.state[2]["m"].tolist() == pytest.approx(m, rel=1e-14)
    assert run.state[2]["v"].tolist() == pytest.approx(v, rel=1e-14)


def test_rmsprop_first_two_steps_by_hand():
    rate, rho, eps = 0.1, 0.9, 1e-8
    run = two_steps("rmsprop", rate, rho=rho, eps=eps)
    # Step 1: s = 0.1 (1, 16) = (0.1, 1.6); the step rate g / sqrt(s) is 0.1 / sqrt(0.1) = 0.31623 for both.
    s1 = [0.1, 1.6]
    theta1 = [1.0 - rate * 1.0 / (math.sqrt(s1[0]) + eps), 1.0 - rate * 4.0 / (math.sqrt(s1[1]) + eps)]
    assert theta1 == pytest.approx([1.0 - 0.31622776601683794] * 2, rel=1e-7)
    assert run.path[1].tolist() == pytest.approx(theta1, rel=1e-15)
    # Step 2: g1 = (theta1_a, 4 theta1_b); s = 0.9 s1 + 0.1 g1^2.
    g1 = [theta1[0], 4.0 * theta1[1]]
    s2 = [0.9 * s1[0] + 0.1 * g1[0] ** 2, 0.9 * s1[1] + 0.1 * g1[1] ** 2]
    theta2 = [theta1[k] - rate * g1[k] / (math.sqrt(s2[k]) + eps) for k in range(2)]
    assert run.path[2].tolist() == pytest.approx(theta2, rel=1e-14)
    assert run.state[1]["mean_square"].tolist() == pytest.approx(s1, rel=1e-15)
    assert run.state[2]["mean_square"].tolist() == pytest.approx(s2, rel=1e-14)


def test_nesterov_first_two_steps_by_hand():
    run = two_steps("nesterov", 0.1, beta=0.9)
    # v1 = g0 = (1, 4); theta1 = (1, 1) - 0.1 (g0 + 0.9 v1) = (1, 1) - 0.19 (1, 4) = (0.81, 0.24)
    # g1 = (0.81, 0.96); v2 = 0.9 v1 + g1 = (1.71, 4.56)
    # theta2 = theta1 - 0.1 (g1 + 0.9 v2) = (0.81, 0.24) - 0.1 (2.349, 5.064) = (0.5751, -0.2664)
    assert run.path[1].tolist() == pytest.approx([0.81, 0.24], rel=1e-14)
    assert run.path[2].tolist() == pytest.approx([0.5751, -0.2664], rel=1e-13)
    assert run.state[1]["velocity"].tolist() == pytest.approx([1.0, 4.0], rel=1e-15)
    assert run.state[2]["velocity"].tolist() == pytest.approx([1.71, 4.56], rel=1e-14)
    assert run.gradients[1].tolist() == pytest.approx([0.81, 0.96], rel=1e-14)


def test_sgd_and_momentum_first_two_steps_by_hand():
    sgd = two_steps("sgd", 0.1)
    # theta1 = (1, 1) - 0.1 (1, 4) = (0.9, 0.6); theta2 = (0.9, 0.6) - 0.1 (0.9, 2.4) = (0.81, 0.36)
    np.testing.assert_allclose(sgd.path, [[1.0, 1.0], [0.9, 0.6], [0.81, 0.36]], rtol=1e-15)
    assert sgd.state == [{}, {}, {}]
    momentum = two_steps("momentum", 0.1, beta=0.9)
    # v1 = (1, 4), theta1 = (0.9, 0.6); v2 = 0.9 (1, 4) + (0.9, 2.4) = (1.8, 6.0); theta2 = (0.72, 0.0)
    assert momentum.path[2].tolist() == pytest.approx([0.72, 0.0], abs=1e-15)
    assert momentum.losses.tolist() == pytest.approx([2.5, 0.5 * (0.81 + 4 * 0.36), 0.5 * 0.72 ** 2], rel=1e-14)


# ---- Runs side by side, reproducibility, divergence -------------------------------------------

EVERY_OPTIMIZER = [OptimizerSpec("sgd", 0.001), OptimizerSpec("momentum", 0.0005), OptimizerSpec("nesterov", 0.0005),
                   OptimizerSpec("rmsprop", 0.005), OptimizerSpec("adam", 0.02)]


@pytest.mark.parametrize("name", ["rosenbrock", "logistic", "custom"])
def test_trajectories_are_reproducible_bit_for_bit(name):
    surface = make_surface(name, source="f = a^2 + 3 * b^2 + sin(2 * a)" if name == "custom" else None)
    first = descend(surface, (-1.2, 1.0), EVERY_OPTIMIZER, 200).to_dict()
    again = descend(make_surface(name, source="f = a^2 + 3 * b^2 + sin(2 * a)" if name == "custom" else None),
                    (-1.2, 1.0), EVERY_OPTIMIZER, 200).to_dict()
    assert first == again


def test_runs_side_by_side_match_each_run_alone():
    surface = make_surface("himmelblau")
    together = descend(surface, (0.5, -0.5), EVERY_OPTIMIZER, 120)
    for spec, run in zip(EVERY_OPTIMIZER, together.runs):
        alone = descend(surface, (0.5, -0.5), [spec], 120).runs[0]
        assert np.array_equal(alone.path, run.path) and np.array_equal(alone.losses, run.losses)


def test_a_diverged_run_stops_while_the_others_go_on():
    bowl = Quadratic(10.0)
    result = descend(bowl, (-2.5, 1.0), [OptimizerSpec("sgd", 0.1), OptimizerSpec("sgd", 0.25)], 300)
    good, bad = result.runs
    assert good.status == "converged" and len(good.path) == 301
    # Along b the factor is 1 - 0.25 * 10 = -1.5, so L grows ~2.25 times a step until it is 1000 L0.
    assert bad.status == "diverged" and bad.diverged_at < 15 and len(bad.path) == bad.diverged_at + 1
    assert bad.threshold == 1000.0 * bad.start_loss
    answer = result.to_dict()["runs"][1]
    assert answer["status"] == "diverged" and "Diverged at step" in answer["message"]["en"]
    assert "发散" in answer["message"]["zh"]


def test_divergence_factor_counts_from_the_start_loss_even_when_it_is_negative():
    # The saddle surface starts below zero here: diverging means rising (factor - 1) |L0| above L0.
    run = one_run(make_surface("saddle"), "sgd", 3.0, 50, start=(0.0, 0.5), divergence_factor=10.0)
    assert run.start_loss < 0 and run.threshold == pytest.approx(run.start_loss + 9.0 * abs(run.start_loss))
    assert run.status == "diverged" and run.losses[-1] > run.threshold >= run.losses[-2]


def test_non_finite_numbers_are_flagged_never_raised():
    with np.errstate(all="raise"):
        overflow = one_run(make_surface("custom", source="f = exp(a^2)"), "sgd", 1e6, 10)
        no_slope = one_run(make_surface("custom", source="f = sqrt(a^2 + b^2)"), "adam", 0.1, 10, start=(0.0, 0.0))
        outside = one_run(make_surface("custom", source="f = log(a) + b"), "momentum", 0.1, 10, start=(-1.0, 0.0))
    assert (overflow.diverged_at, overflow.reason) == (1, "not_finite")
    assert (no_slope.diverged_at, no_slope.reason) == (0, "gradient_not_finite")
    assert (outside.diverged_at, outside.reason) == (0, "start_not_finite")
    answer = descend(make_surface("custom", source="f = exp(a^2)"), (1.0, 0.0), [OptimizerSpec("sgd", 1e6)],
                     10).to_dict()["runs"][0]
    assert answer["losses"][1] is None and answer["status"] == "diverged"


def test_converged_at_is_the_step_from_which_the_gradient_stays_small():
    run = one_run(parabola(1.0), "sgd", 0.5, 100, tolerance=1e-3)
    # w_k = 0.5^k and the gradient is w: the first k with 0.5^k <= 1e-3 is 10.
    assert run.converged_at == 10 and run.status == "converged"
    assert "Converged at step 10" in descend(parabola(1.0), (1.0, 0.0), [OptimizerSpec("sgd", 0.5)], 100,
                                             tolerance=1e-3).to_dict()["runs"][0]["message"]["en"]


# ---- The Taylor panel along a run -------------------------------------------------------------

def test_taylor_rows_along_a_run_compare_the_promise_with_the_truth():
    bowl = Quadratic(10.0)
    h = bowl.hessian()
    small = descend(bowl, (-2.5, 1.0), [OptimizerSpec("sgd", 0.001)], 20).runs[0]
    big = descend(bowl, (-2.5, 1.0), [OptimizerSpec("sgd", 0.15)], 20).runs[0]
    for run in (small, big):
        eta = run.optimizer.learning_rate
        taylor = run.taylor
        for k in range(run.steps + 1):
            g = run.gradients[k]
            assert taylor["predicted"][k] == pytest.approx(run.losses[k] - eta * g @ g, rel=1e-12)
            assert taylor["actual"][k] - taylor["predicted"][k] == pytest.approx(0.5 * eta ** 2 * g @ h @ g,
                                                                                 rel=1e-8, abs=1e-15)
        # For SGD the step taken IS theta - eta g, so "actual" is the next loss on the path.
        assert taylor["actual"][:-1] == pytest.approx(run.losses[1:], rel=1e-12)
        assert math.isnan(taylor["next"][-1])
    small_gap = abs(small.taylor["actual"][0] - small.taylor["predicted"][0]) / small.losses[0]
    big_gap = abs(big.taylor["actual"][0] - big.taylor["predicted"][0]) / big.losses[0]
    assert small_gap < 1e-4 < 0.1 < big_gap


def test_next_predicted_is_the_first_order_promise_of_the_optimizer_own_step():
    run = descend(make_surface("rosenbrock"), (-1.2, 1.0), [OptimizerSpec("adam", 0.01)], 5).runs[0]
    for k in range(run.steps):
        move = run.path[k + 1] - run.path[k]
        assert run.taylor["next_predicted"][k] == pytest.approx(run.losses[k] + run.gradients[k] @ move, rel=1e-12)
        assert run.taylor["next"][k] == run.losses[k + 1]


# ---- Inputs -----------------------------------------------------------------------------------

def test_run_inputs_are_checked_with_the_cap_named():
    bowl = Quadratic(10.0)
    with pytest.raises(LimitError) as caught:
        descend(bowl, (0.0, 1.0), [OptimizerSpec("sgd", 0.1)], 10 ** 6)
    assert caught.value.limit == "max_descent_steps" and "max_descent_steps" in caught.value.message
    with pytest.raises(LimitError):
        descend(bowl, (0.0, 1.0), [OptimizerSpec("sgd", 0.1)] * (LIMITS.max_descent_optimizers + 1), 10)
    for kwargs, field in (({"start": (math.nan, 0.0)}, "start"), ({"start": (1e9, 0.0)}, "start"),
                          ({"optimizers": []}, "optimizers"), ({"divergence_factor": 1.0}, "divergence_factor"),
                          ({"tolerance": 0.0}, "tolerance"), ({"steps": -1}, "steps"),
                          ({"optimizers": [OptimizerSpec("sgd", 0.0)]}, "learning_rate"),
                          ({"optimizers": [OptimizerSpec("adagrad", 0.1)]}, "optimizer")):
        arguments = {"start": (0.0, 1.0), "optimizers": [OptimizerSpec("sgd", 0.1)], "steps": 5, **kwargs}
        with pytest.raises(ValueInputError) as caught:
            descend(bowl, arguments.pop("start"), arguments.pop("optimizers"), arguments.pop("steps"), **arguments)
        assert caught.value.where == {"field": field}


def test_zero_steps_is_just_the_start():
    run = descend(Quadratic(10.0), (-2.5, 1.0), [OptimizerSpec("adam", 0.1)], 0).runs[0]
    assert run.path.tolist() == [[-2.5, 1.0]] and run.losses.tolist() == [8.125] and len(run.state) == 1


# ---- Plain descent on 1/2 lambda w^2 in closed form: w_k = (1 - eta lambda)^k -----------------

@pytest.mark.parametrize("h", [0.01, 0.5, 1.0, 1.5, 1.99, 2.01, 2.5, 4.0])
def test_gradient_descent_on_the_parabola_is_w_k_equal_to_1_minus_eta_lambda_to_the_k(h):
    curvature = 4.0
    run = one_run(parabola(curvature), "sgd", h / curvature, 400)
    k = np.arange(len(run.path))
    np.testing.assert_allclose(run.path[:, 0], (1.0 - h) ** k, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(run.losses, 0.5 * curvature * (1.0 - h) ** (2 * k), rtol=1e-12, atol=1e-300)
    if h < 2.0:  # |1 - h| < 1: every step shrinks |w| (h = 1 lands on the minimum at once); no divergence
        assert run.diverged_at is None and len(run.path) == 401
        size = np.abs(run.path[:, 0])
        assert np.all(np.diff(size) <= 0) and size[-1] < size[0]
    else:  # |1 - h| > 1: |w| grows by |1 - h| a step until the loss passes 1000 times its start
        assert run.diverged_at == next(k for k in range(1, 10_000) if (1.0 - h) ** (2 * k) > 1000.0)


# ---- The critical rate of each optimizer on the bowl ------------------------------------------

def test_critical_rates_by_the_formulas_for_sgd_momentum_and_nesterov_and_none_for_the_adaptive():
    assert critical_rate(OptimizerSpec("sgd", 0.1), 10.0) == pytest.approx(0.2)
    assert critical_rate(OptimizerSpec("momentum", 0.1, beta=0.9), 10.0) == pytest.approx(0.38)
    assert critical_rate(OptimizerSpec("nesterov", 0.1, beta=0.5), 10.0) == pytest.approx(3.0 / 20.0)
    assert critical_rate(OptimizerSpec("adam", 0.1), 10.0) is None
    assert critical_rate(OptimizerSpec("rmsprop", 0.1), 10.0) is None
    assert critical_rate(OptimizerSpec("sgd", 0.1), None) is None
    assert critical_rate(OptimizerSpec("sgd", 0.1), -1.0) is None  # no direction curves up: nothing overshoots


@pytest.mark.parametrize("name, beta", [("sgd", 0.9), ("momentum", 0.9), ("momentum", 0.5), ("nesterov", 0.9),
                                        ("nesterov", 0.3)])
def test_each_optimizer_converges_just_below_its_critical_rate_on_a_turned_bowl_and_diverges_just_above(name, beta):
    bowl = Quadratic(20.0, angle=35.0)
    critical = critical_rate(OptimizerSpec(name, 1.0, beta=beta), bowl.describe()["lambda_max"])
    below = one_run(bowl, name, 0.97 * critical, 2000, start=(-2.5, 1.0), beta=beta)
    above = one_run(bowl, name, 1.03 * critical, 2000, start=(-2.5, 1.0), beta=beta)
    assert below.status == "converged" and above.status == "diverged"


def test_a_run_answer_states_each_optimizer_s_critical_rate_on_the_bowl_only():
    specs = [OptimizerSpec("sgd", 0.1), OptimizerSpec("momentum", 0.1, beta=0.5), OptimizerSpec("adam", 0.1)]
    bowl = descend(Quadratic(10.0), (-2.5, 1.0), specs, 3).to_dict()
    assert [run["critical_lr"] for run in bowl["runs"]] == [pytest.approx(0.2), pytest.approx(0.3), None]
    valley = descend(make_surface("rosenbrock"), (-1.2, 1.0), specs, 3).to_dict()
    assert [run["critical_lr"] for run in valley["runs"]] == [None, None, None]


# ---- Answers without the per-step parts -------------------------------------------------------

def test_paths_alone_are_the_same_paths_without_state_or_taylor_rows():
    surface = make_surface("himmelblau")
    full = descend(surface, (0.5, -0.5), EVERY_OPTIMIZER, 50).to_dict()
    bare = descend(surface, (0.5, -0.5), EVERY_OPTIMIZER, 50, include=()).to_dict(include=())
    for whole, alone in zip(full["runs"], bare["runs"]):
        assert "state" not in alone and "taylor" not in alone
        assert {key: value for key, value in whole.items() if key not in ("state", "taylor")} == alone
    # The state rows of the full answer, one per step: Adam's t counts the updates made.
    adam = full["runs"][-1]
    assert [row["t"] for row in adam["state"][:4]] == [0, 1, 2, 3] and len(adam["state"]) == 51
    assert adam["taylor"][0]["step"] == 0 and adam["taylor"][0]["loss"] == adam["losses"][0]


# ---- The typed surface's tape against the engine's own trace ----------------------------------

@pytest.mark.parametrize("source", [
    "f = 0.5 * a^2 + b^2 + 0.5 * sin(3 * a) * cos(3 * b)",
    "q = a * b\nf = q * q + exp(-a) / (1 + b^2) - tanh(q)",
    "f = relu(a - 0.5) + abs(b) + max(a, b) - min(a, 2 * b) + sigmoid(a * b)",
    "f = sqrt(a^2 + b^2 + 1) + log(1 + a^2)",
    "f = 3 * a",  # b unused: its gradient is 0
    "f = a",
])
def test_the_typed_surface_tape_gives_the_trace_s_numbers(source):
    from engine.trace import run as trace_run

    surface = make_surface("custom", source=source)
    rng = np.random.default_rng(5)
    a, b = rng.uniform(-2, 2, 64), rng.uniform(-2, 2, 64)
    loss, grad_a, grad_b = surface.loss_and_gradient(a, b)
    graph = surface.graph
    for i in range(0, 64, 7):
        bindings = {index: np.float64({"a": a[i], "b": b[i]}[name]) for name, index in graph.inputs.items()}
        traced = trace_run(graph, bindings, record=False)
        expected = [traced.grads[graph.inputs[name]] if name in graph.inputs else 0.0 for name in ("a", "b")]
        assert loss[i] == pytest.approx(float(traced.values[graph.output]), rel=1e-14, abs=1e-300)
        assert [grad_a[i], grad_b[i]] == pytest.approx([float(g) for g in expected], rel=1e-13, abs=1e-300)


# ---- The fast lock-step run against the straightforward one, bit for bit ----------------------

def straightforward_descend(surface, start, specs, steps, divergence_factor=1000.0):
    """Each optimizer of engine.optim updating its own NumPy array, every head evaluated on the surface's
    arrays: what engine.descent did before its plain-float steppers and the polynomials' `at`."""
    made = [spec.make() for spec in specs]
    thetas = [np.array(start, dtype=np.float64) for _ in made]
    rows = [{"path": [], "losses": [], "gradients": [], "state": [], "diverged_at": None} for _ in made]
    thresholds = [math.nan] * len(made)
    active = list(range(len(made)))
    with np.errstate(all="ignore"):
        for k in range(steps + 1):
            if not active:
                break
            heads = np.array([thetas[i] for i in active])
            loss, grad_a, grad_b = surface.loss_and_gradient(heads[:, 0], heads[:, 1])
            still = []
            for i, value, slope_a, slope_b in zip(active, loss.tolist(), grad_a.tolist(), grad_b.tolist()):
                row, optimizer = rows[i], made[i]
                row["path"].append(thetas[i].copy())
                row["losses"].append(value)
                row["gradients"].append([slope_a, slope_b])
                row["state"].append({name: np.zeros(2) if part is None else part
                                     for name, part in optimizer.parameter_state("theta").items()})
                if k == 0:
                    thresholds[i] = value + (divergence_factor - 1.0) * (abs(value) if value != 0.0 else 1.0)
                if not (math.isfinite(value) and math.isfinite(slope_a) and math.isfinite(slope_b)
                        and not value > thresholds[i]):
                    row["diverged_at"] = k
                    continue
                if k < steps:
                    optimizer.begin()
                    thetas[i] = optimizer.update_into("theta", thetas[i], np.array([slope_a, slope_b]))
                    still.append(i)
            active = still
    return rows, made


def same_bits(x, y) -> bool:
    """Equal to the last bit: NaN payloads, the sign of zero and all."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return x.shape == y.shape and np.array_equal(x.view(np.int64), y.view(np.int64))


ODD_OPTIMIZERS = [OptimizerSpec("adam", 0.3, beta1=0.0, beta2=0.5, eps=1e-12),
                  OptimizerSpec("rmsprop", 2.0, rho=0.0, eps=1.0), OptimizerSpec("momentum", 0.7, beta=0.0),
                  OptimizerSpec("nesterov", 1.3, beta=0.999), OptimizerSpec("sgd", 5.0),
                  OptimizerSpec("adam", 2.0, beta1=0.999, beta2=0.99999)]
BIG_RATES = [OptimizerSpec("sgd", 3.0), OptimizerSpec("momentum", 3.0), OptimizerSpec("nesterov", 3.0),
             OptimizerSpec("rmsprop", 50.0), OptimizerSpec("adam", 100.0)]
SURFACE_CASES = [("quadratic", {"condition": 37.5, "angle": -33.0}), ("rosenbrock", {}), ("himmelblau", {}),
                 ("saddle", {}), ("logistic", {"data_seed": 7}), ("network", {"data_seed": 3}),
                 ("custom", {"source": "f = 0.5 * a^2 + b^2 + 0.5 * sin(3 * a) * cos(3 * b)"}),
                 ("custom", {"source": "f = exp(a^2) + log(b)"})]


@pytest.mark.parametrize("name, settings", SURFACE_CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(SURFACE_CASES)])
@pytest.mark.parametrize("specs", [EVERY_OPTIMIZER, ODD_OPTIMIZERS, BIG_RATES], ids=["every", "odd", "big"])
def test_the_lock_step_run_equals_the_optimizers_of_engine_optim_one_array_at_a_time_bit_for_bit(name, settings, specs):
    surface = make_surface(name, **settings)
    steps = 150
    for start in ((-1.2, 1.0), (2.5, 0.5)):
        fast = descend(surface, start, specs, steps)
        expected, optimizers = straightforward_descend(surface, start, specs, steps)
        for run, row, optimizer in zip(fast.runs, expected, optimizers):
            assert run.diverged_at == row["diverged_at"]
            assert same_bits(run.path, row["path"]) and same_bits(run.losses, row["losses"])
            assert same_bits(run.gradients, row["gradients"])
            for k, snapshot in enumerate(row["state"]):
                for part, value in snapshot.items():
                    assert same_bits(run.columns[part][k], value), (run.optimizer.name, part, k)
            # The optimizer a run hands back holds what engine.optim's would after the same updates.
            final = optimizer.state()
            assert final.keys() == run.optimizer.state().keys()
            for part, value in run.optimizer.state().items():
                if part == "t":
                    assert value == final["t"]
                else:
                    assert value.keys() == final[part].keys()
                    assert all(same_bits(value[key], final[part][key]) for key in value)


def test_the_fast_run_still_gives_the_hand_computed_numbers_on_a_polynomial_and_on_arrays():
    # The bowl L = (a^2 + 4 b^2) / 2 point by point in floats, and the same bowl typed (evaluated on arrays).
    typed = make_surface("custom", source="f = 0.5 * a^2 + 2 * b^2")
    assert BOWL.at is not None and typed.at is None
    for surface in (BOWL, typed):
        momentum = descend(surface, START, [OptimizerSpec("momentum", 0.1, beta=0.9)], 2).runs[0]
        assert momentum.path[1].tolist() == pytest.approx([0.9, 0.6], rel=1e-15)
        assert momentum.path[2].tolist() == pytest.approx([0.72, 0.0], abs=1e-15)
        assert momentum.state[2]["velocity"].tolist() == pytest.approx([1.8, 6.0], rel=1e-15)
