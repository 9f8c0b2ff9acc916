"""engine/landscape.py: every surface's hand-written gradient against finite differences, the quadratic's
Hessian and critical rate, typed f(a, b) through the engine's graph, grids, the 1-D view and Taylor."""
from __future__ import annotations

import math

import numpy as np
import pytest

from engine.errors import LimitError, SourceError, ValueInputError
from engine.landscape import (KINDS, NETWORK_POINTS, Custom, Himmelblau, Logistic, NetworkSlice, Quadratic,
                              Rosenbrock, Saddle, catalogue, curvature, default_etas, grid, hessian_at, line,
                              logistic_data, make_surface, network_plane, point_view, taylor)
from engine.limits import LIMITS

from .finite_differences import centered_differences

POINTS = [(-1.7, 0.4), (0.3, -2.2), (1.1, 1.3), (2.6, -0.8), (-0.05, 0.02)]
SURFACES = {
    "quadratic": Quadratic(10.0),
    "quadratic turned": Quadratic(37.0, angle=25.0),
    "rosenbrock": Rosenbrock(),
    "himmelblau": Himmelblau(),
    "saddle": Saddle(),
    "logistic": Logistic(0),
    "logistic seed 7": Logistic(7),
    "network": NetworkSlice(0),
    "network seed 3": NetworkSlice(3),
    "custom": Custom("q = a * b\nf = exp(-q^2) + tanh(a - 0.5) * sin(2 * b) + sigmoid(a) / (1 + b^2) + "
                     "sqrt(a^2 + 1) * cos(b) - log(1 + a^2) + relu(a + b) ** 2"),
}


def numeric_gradient(surface, a, b):
    return centered_differences(lambda x, y: surface.loss(x, y), [np.float64(a), np.float64(b)])


@pytest.mark.parametrize("name", SURFACES)
def test_every_surface_gradient_matches_centered_finite_differences(name):
    surface = SURFACES[name]
    for a, b in POINTS:
        loss, grad_a, grad_b = surface.loss_and_gradient(np.array([a]), np.array([b]))
        numeric_a, numeric_b = numeric_gradient(surface, a, b)
        scale = max(1.0, abs(float(loss[0])))
        assert grad_a[0] == pytest.approx(numeric_a, rel=1e-6, abs=1e-6 * scale), (name, a, b)
        assert grad_b[0] == pytest.approx(numeric_b, rel=1e-6, abs=1e-6 * scale), (name, a, b)


@pytest.mark.parametrize("name", SURFACES)
def test_a_surface_answers_a_whole_array_the_same_as_point_by_point(name):
    surface = SURFACES[name]
    a = np.array([[p[0] for p in POINTS]] * 2)
    b = np.array([[p[1] for p in POINTS]] * 2)
    together = surface.loss_and_gradient(a, b)
    for k, (x, y) in enumerate(POINTS):
        alone = surface.loss_and_gradient(np.array([x]), np.array([y]))
        for part_together, part_alone in zip(together, alone):
            assert part_together.shape == (2, len(POINTS))
            assert part_together[1, k] == pytest.approx(part_alone[0], rel=1e-13, abs=1e-15)
        assert surface.loss(np.array([x]), np.array([y]))[0] == pytest.approx(alone[0][0], rel=1e-14)


def test_known_values_of_the_classic_surfaces():
    one = np.array([1.0])
    assert Rosenbrock().loss(np.array([-1.2]), one)[0] == pytest.approx(24.2)  # (2.2)^2 + 100 (1 - 1.44)^2
    assert Himmelblau().loss(np.array([0.0]), np.array([0.0]))[0] == 170.0  # 121 + 49
    assert Saddle().loss(one, one)[0] == 0.25  # 1/2 + 1/4 - 1/2
    loss, grad_a, grad_b = Quadratic(10.0).loss_and_gradient(np.array([-2.5]), one)
    assert (loss[0], grad_a[0], grad_b[0]) == (0.5 * (6.25 + 10.0), -2.5, 10.0)


@pytest.mark.parametrize("name", ["rosenbrock", "himmelblau", "saddle", "quadratic", "logistic", "network"])
def test_the_listed_minima_have_zero_gradient(name):
    surface = make_surface(name)
    minima = surface.minima()
    assert minima
    for a, b in minima:
        _, grad_a, grad_b = surface.loss_and_gradient(np.array([a]), np.array([b]))
        assert abs(grad_a[0]) < 1e-9 and abs(grad_b[0]) < 1e-9, (name, a, b)
    if name == "himmelblau":
        assert np.allclose(surface.loss(*np.array(minima).T), 0.0, atol=1e-20)


def test_quadratic_hessian_eigenvalues_and_critical_rate():
    surface = Quadratic(25.0)
    assert surface.hessian().tolist() == [[1.0, 0.0], [0.0, 25.0]]
    described = curvature(surface.hessian())
    assert (described["lambda_min"], described["lambda_max"]) == (1.0, 25.0)
    assert described["critical_lr"] == 2.0 / 25.0
    turned = Quadratic(25.0, angle=30.0)
    h = turned.hessian()
    assert h[0, 1] == h[1, 0] != 0.0
    assert np.linalg.eigvalsh(h) == pytest.approx([1.0, 25.0], rel=1e-12)
    # The gradient is H theta, the loss 1/2 theta^T H theta.
    theta = np.array([0.7, -1.3])
    loss, grad_a, grad_b = turned.loss_and_gradient(theta[:1], theta[1:])
    assert [grad_a[0], grad_b[0]] == pytest.approx(h @ theta, rel=1e-14)
    assert loss[0] == pytest.approx(0.5 * theta @ h @ theta, rel=1e-14)
    assert turned.describe()["critical_lr"] == pytest.approx(0.08, rel=1e-12)


def test_hessian_by_differences_matches_rosenbrock_and_the_saddle_by_hand():
    # Rosenbrock at (1, 1): d2/da2 = 2 - 400 (b - 3 a^2) = 802, d2/dadb = -400 a = -400, d2/db2 = 200.
    assert hessian_at(Rosenbrock(), (1.0, 1.0)) == pytest.approx(np.array([[802.0, -400.0], [-400.0, 200.0]]),
                                                                rel=1e-6)
    at_saddle = point_view(Saddle(), (0.0, 0.0))
    assert at_saddle["gradient"] == [0.0, 0.0]
    assert at_saddle["lambda_min"] == pytest.approx(-1.0, rel=1e-6)
    assert at_saddle["lambda_max"] == pytest.approx(1.0, rel=1e-6)
    # Where no direction curves up there is no critical rate.
    assert point_view(Custom("f = -a^2 - b^2"), (0.5, 0.5))["critical_lr"] is None


def test_logistic_loss_is_the_mean_cross_entropy_of_one_neuron_on_its_toy_set():
    surface = Logistic(3)
    x, labels = logistic_data(3)
    assert x.shape == (40, 2) and set(labels.tolist()) == {0.0, 1.0}
    w = np.array([0.4, -1.1])
    p = 1.0 / (1.0 + np.exp(-(x @ w)))
    by_hand = -np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p))
    loss, grad_a, grad_b = surface.loss_and_gradient(w[:1], w[1:])
    assert loss[0] == pytest.approx(by_hand, rel=1e-13)
    assert [grad_a[0], grad_b[0]] == pytest.approx(x.T @ (p - labels) / 40, rel=1e-12)
    # At zero weights every point has p = 1/2: the loss is log 2.
    assert surface.loss(np.zeros(1), np.zeros(1))[0] == pytest.approx(math.log(2.0), rel=1e-15)
    # Huge weights do not overflow: the loss is finite (softplus is computed stably).
    assert np.isfinite(surface.loss(np.array([1e300, -1e300]), np.array([1e300, 0.0]))).all()


def test_the_network_slice_is_the_engine_network_s_own_loss_at_theta_star_plus_a_d1_plus_b_d2():
    from engine.data import make_dataset
    from engine.nn import mlp_spec, outputs
    from engine.train import loss_of

    surface = NetworkSlice(0)
    spec = mlp_spec([2, 4, 1], ["tanh"], "bce")
    x, y = make_dataset("moons", NETWORK_POINTS, seed=0).columns("bce")
    points = [(0.0, 0.0), (0.9, 0.9), (-1.2, 0.4), (1.5, -1.5), (0.25, -0.7)]
    values = surface.loss(np.array([p[0] for p in points]), np.array([p[1] for p in points]))
    for k, (a, b) in enumerate(points):
        params = surface.params_at(a, b)
        z, out = outputs(spec, params, x)
        assert values[k] == pytest.approx(loss_of(spec, params, z, out, y), rel=1e-12)
    # At (0, 0) it is the trained network, whose training loss engine.train reported.
    assert values[0] == pytest.approx(surface.plane.loss, rel=1e-12) and values[0] < 0.02
    assert values[1] == pytest.approx(7.6577, rel=1e-4)  # the start, up the slope


def test_the_network_directions_are_seeded_and_filter_normalised():
    plane = network_plane(0)
    for direction in plane.directions:
        for layer in (1, 2):
            unit = np.hstack([plane.center[f"W{layer}"], plane.center[f"b{layer}"]])
            moved = np.hstack([direction[f"W{layer}"], direction[f"b{layer}"]])
            np.testing.assert_allclose(np.linalg.norm(moved, axis=1), np.linalg.norm(unit, axis=1), rtol=1e-12)
    first, second = (np.concatenate([d[name].ravel() for name in sorted(d)]) for d in plane.directions)
    assert abs(first @ second) < 0.9 * np.linalg.norm(first) * np.linalg.norm(second)  # two different directions
    again = network_plane.__wrapped__(0)
    assert all(np.array_equal(again.directions[0][name], plane.directions[0][name]) for name in plane.center)
    other = network_plane(1)
    assert not np.array_equal(other.center["W1"], plane.center["W1"])
    assert make_surface("network", data_seed=1).settings() == {"data_seed": 1}


def test_logistic_data_is_reproducible_by_seed_and_changes_with_it():
    assert np.array_equal(logistic_data(5)[0], Logistic(5).x)
    assert not np.array_equal(logistic_data(5)[0], logistic_data(6)[0])
    assert make_surface("logistic", data_seed=5).minima() == Logistic(5).minima()


# ---- Typed f(a, b) ----------------------------------------------------------------------------

def test_a_typed_surface_equals_the_built_in_one():
    typed = make_surface("custom", source="f = (a^2 + b - 11)^2 + (a + b^2 - 7)^2")
    built_in = Himmelblau()
    a, b = np.meshgrid(np.linspace(-4, 4, 7), np.linspace(-3, 5, 5))
    for mine, theirs in zip(typed.loss_and_gradient(a, b), built_in.loss_and_gradient(a, b)):
        np.testing.assert_allclose(mine, theirs, rtol=1e-13, atol=1e-10)


def test_a_typed_surface_of_a_alone_has_zero_gradient_along_b_and_a_constant_has_none():
    only_a = make_surface("custom", source="f = 0.5 * 3 * a^2")
    loss, grad_a, grad_b = only_a.loss_and_gradient(np.array([2.0, -1.0]), np.array([5.0, 7.0]))
    assert loss.tolist() == [6.0, 1.5] and grad_a.tolist() == [6.0, -3.0] and grad_b.tolist() == [0.0, 0.0]
    constant = make_surface("custom", source="f = 3")
    loss, grad_a, grad_b = constant.loss_and_gradient(np.zeros((2, 2)), np.ones((2, 2)))
    assert loss.tolist() == [[3.0, 3.0], [3.0, 3.0]] and not grad_a.any() and not grad_b.any()


def test_a_typed_surface_outside_its_domain_answers_nan_and_never_raises():
    surface = make_surface("custom", source="f = log(a) + 1 / b")
    with np.errstate(all="raise"):
        loss, grad_a, grad_b = surface.loss_and_gradient(np.array([-1.0, 1.0, 2.0]), np.array([1.0, 0.0, 2.0]))
    assert np.isnan(loss[0]) and np.isinf(loss[1]) and loss[2] == pytest.approx(math.log(2) + 0.5)
    shown = grid(surface, ((-1.0, 1.0), (-1.0, 1.0)), 5).to_dict()
    assert shown["nonfinite"] == 17  # a <= 0 (three columns of five) plus b = 0 in the other two columns
    assert shown["values"][0][0] is None and shown["values"][0][4] == pytest.approx(-1.0)


@pytest.mark.parametrize("source, line_, column, code", [
    ("f = a + c", 1, 9, "unknown_input"),
    ("q = a * 2\nf = q + weight", 2, 9, "unknown_input"),
    ("f = sum(a) + b", 1, 5, "not_elementwise"),
    ("f = a +", 1, 8, "syntax_error"),
    ("f = a $ b", 1, 7, "not_the_language"),
])
def test_a_bad_typed_surface_is_refused_with_its_line_and_column(source, line_, column, code):
    with pytest.raises(SourceError) as caught:
        make_surface("custom", source=source)
    assert caught.value.where == {"line": line_, "column": column}
    assert caught.value.code == code


def test_typed_surfaces_are_capped_in_nodes_and_need_a_source():
    long_source = "f = a" + " + a" * LIMITS.max_surface_nodes
    with pytest.raises(LimitError) as caught:
        make_surface("custom", source=long_source)
    assert caught.value.limit == "max_surface_nodes" and caught.value.where == {"field": "source"}
    with pytest.raises(ValueInputError) as missing:
        make_surface("custom")
    assert missing.value.where == {"field": "source"}


def test_a_typed_surface_evaluates_a_grid_in_blocks_with_the_same_numbers():
    surface = make_surface("custom", source="f = sin(a) * b + a^2")
    surface.block = 7  # force many blocks
    a, b = np.meshgrid(np.linspace(-1, 1, 9), np.linspace(0, 2, 4))
    loss, grad_a, grad_b = surface.loss_and_gradient(a, b)
    np.testing.assert_allclose(loss, np.sin(a) * b + a * a, rtol=1e-15)
    np.testing.assert_allclose(grad_a, np.cos(a) * b + 2 * a, rtol=1e-15)
    np.testing.assert_allclose(grad_b, np.sin(a), rtol=1e-15)


# ---- Settings and the catalogue ---------------------------------------------------------------

def test_make_surface_checks_its_settings():
    assert make_surface("quadratic", condition=4.0, angle=-30.0).settings() == {"condition": 4.0, "angle": -30.0}
    for kwargs, field in (({"condition": 0.5}, "condition"), ({"condition": math.inf}, "condition"),
                          ({"angle": 91.0}, "angle")):
        with pytest.raises(ValueInputError) as caught:
            make_surface("quadratic", **kwargs)
        assert caught.value.where == {"field": field}
    with pytest.raises(ValueInputError) as caught:
        make_surface("logistic", data_seed=-1)
    assert caught.value.where == {"field": "data_seed"}
    with pytest.raises(ValueInputError) as caught:
        make_surface("bowl")
    assert caught.value.where == {"field": "surface"}


def test_catalogue_lists_every_surface_with_a_start_inside_its_box_and_bilingual_text():
    listed = {entry["id"]: entry for entry in catalogue()}
    assert list(listed) == ["quadratic", "rosenbrock", "himmelblau", "saddle", "logistic", "network", "custom"]
    for entry in listed.values():
        (a_low, a_high), (b_low, b_high) = entry["box"]
        assert a_low <= entry["start"][0] <= a_high and b_low <= entry["start"][1] <= b_high
        assert set(entry["title"]) == set(entry["description"]) == {"en", "zh"}
        assert entry["learning_rate"] > 0
    assert listed["quadratic"]["critical_lr"] == 0.2 and listed["quadratic"]["lambda_max"] == 10.0
    assert [s["name"] for s in listed["quadratic"]["settings"]] == ["condition", "angle"]
    assert listed["custom"]["settings"][0]["kind"] == "text"
    assert listed["saddle"]["saddles"] == [[0.0, 0.0]]
    assert make_surface("custom", source=KINDS["custom"].settings[0].default).loss(np.zeros(1), np.zeros(1))[0] == 0


# ---- Grids, the 1-D view and Taylor -----------------------------------------------------------

def test_grid_rows_follow_b_and_columns_follow_a():
    shown = grid(Quadratic(10.0), ((-1.0, 1.0), (0.0, 2.0)), 3)
    assert shown.xs.tolist() == [-1.0, 0.0, 1.0] and shown.ys.tolist() == [0.0, 1.0, 2.0]
    # values[j][i] = L(xs[i], ys[j]) = (xs[i]^2 + 10 ys[j]^2) / 2
    assert shown.values.tolist() == [[0.5, 0.0, 0.5], [5.5, 5.0, 5.5], [20.5, 20.0, 20.5]]
    answer = shown.to_dict()
    assert (answer["min"], answer["max"], answer["nonfinite"]) == (0.0, 20.5, 0)
    assert answer["levels"] == sorted(answer["levels"]) and 0.0 <= answer["levels"][0] <= answer["levels"][-1] <= 20.5


def test_grid_size_and_box_are_checked():
    with pytest.raises(LimitError) as caught:
        grid(Saddle(), ((-1.0, 1.0), (-1.0, 1.0)), LIMITS.max_surface_grid + 1)
    assert caught.value.limit == "max_surface_grid"
    for box in (((1.0, -1.0), (0.0, 1.0)), ((0.0, 1.0), (0.0, 0.0)), ((0.0, 1e9), (0.0, 1.0)),
                ((0.0, math.nan), (0.0, 1.0))):
        with pytest.raises(ValueInputError):
            grid(Saddle(), box, 10)


def test_line_view_holds_the_other_parameter_and_draws_the_tangent_at_the_point():
    view = line(Quadratic(10.0), (-2.5, 1.0), 0, 2.0, 5)
    assert view["xs"] == [-4.5, -3.5, -2.5, -1.5, -0.5]
    assert view["values"] == [0.5 * x * x + 5.0 for x in view["xs"]]
    assert view["slopes"] == view["xs"]  # dL/da = a on this bowl
    assert (view["at"], view["slope"]) == (8.125, -2.5)
    assert view["tangent"] == [[-4.5, 8.125 + 5.0], [-0.5, 8.125 - 5.0]]
    along_b = line(Rosenbrock(), (-1.2, 1.0), 1, 0.5, 3)
    assert along_b["fixed"] == {"a": -1.2} and along_b["name"] == "b"
    assert along_b["slope"] == pytest.approx(200.0 * (1.0 - 1.44))


def test_taylor_prediction_is_exact_to_first_order_and_the_gap_is_the_curvature_term():
    surface = Quadratic(10.0)
    point = (-2.5, 1.0)
    etas = [1e-4, 1e-3, 0.01, 0.05, 0.1, 0.2, 0.3]
    answer = taylor(surface, point, etas)
    g = np.array([-2.5, 10.0])
    assert answer["loss"] == 8.125 and answer["gradient"] == [-2.5, 10.0]
    assert answer["gradient_norm_squared"] == 106.25
    gaps = []
    for row, eta in zip(answer["rows"], etas):
        assert row["predicted"] == pytest.approx(8.125 - eta * 106.25, rel=1e-14)
        # On a quadratic the rest of the Taylor series is exactly eta^2 / 2 g^T H g.
        assert row["actual"] - row["predicted"] == pytest.approx(0.5 * eta ** 2 * g @ surface.hessian() @ g,
                                                                 rel=1e-9)
        gaps.append(row["actual"] - row["predicted"])
    assert all(later > earlier for earlier, later in zip(gaps, gaps[1:]))  # the gap grows with eta
    assert answer["rows"][0]["ratio"] == pytest.approx(1.0, abs=1e-3)  # small eta: prediction ~ truth
    assert answer["rows"][-1]["actual_decrease"] < 0  # eta = 0.3 > 2 / lambda_max: the loss goes up
    # Half the promised decrease is met while eta (g.g - eta/2 g.H.g) >= eta/2 g.g, i.e. eta <= g.g / g.H.g.
    assert answer["breaks_at"] == 0.2 and 0.1 <= float(g @ g / (g @ surface.hessian() @ g)) < 0.2


def test_taylor_small_steps_agree_on_every_surface():
    for name in ("rosenbrock", "himmelblau", "saddle", "logistic"):
        surface = make_surface(name)
        rows = taylor(surface, KINDS[name].start, [1e-7, 1e-6])["rows"]
        for row in rows:
            assert row["ratio"] == pytest.approx(1.0, abs=1e-2), name


def test_default_etas_reach_past_the_critical_rate():
    etas = default_etas(Quadratic(10.0), (1.0, 1.0))
    assert len(etas) == 30 and etas[-1] == pytest.approx(0.6) and etas[0] == pytest.approx(0.6e-3)
    assert default_etas(Custom("f = -a^2"), (1.0, 0.0))[-1] == pytest.approx(1.0)


# ---- The fast paths give the same numbers, bit for bit ----------------------------------------

def same_bits(x, y) -> bool:
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return x.shape == y.shape and np.array_equal(x.view(np.int64), y.view(np.int64))


@pytest.mark.parametrize("surface", [Quadratic(10.0), Quadratic(37.5, angle=-33.0), Quadratic(1e6, angle=89.0),
                                     Rosenbrock(), Himmelblau(), Saddle()], ids=lambda s: f"{s.id}-{s.settings()}")
def test_a_polynomial_at_one_point_in_floats_is_its_array_answer_to_the_last_bit(surface):
    rng = np.random.default_rng(3)
    values = np.concatenate([rng.uniform(-5, 5, 400), rng.standard_normal(100) * 1e-3, rng.standard_normal(100) * 1e150,
                             10.0 ** rng.uniform(-320, 308, 200) * rng.choice([-1.0, 1.0], 200),
                             [0.0, -0.0, np.inf, -np.inf, np.nan, 1e308, -1e308, 5e-324, 1.0, -1.0, 11.0, 7.0]])
    a, b = rng.permutation(values), rng.permutation(values)
    heads = np.column_stack([a, b])
    arrays = surface.loss_and_gradient(heads[:, 0], heads[:, 1])
    floats = np.array([surface.at(x, y) for x, y in zip(a.tolist(), b.tolist())])
    for k in range(3):
        assert same_bits(floats[:, k], arrays[k])
    assert surface.at(-1.2, 1.0) == tuple(float(part[0]) for part in surface.loss_and_gradient(np.array([-1.2]),
                                                                                                np.array([1.0])))


def test_only_the_polynomials_answer_one_point_in_floats():
    assert all(SURFACES[name].at is not None for name in ("quadratic", "rosenbrock", "himmelblau", "saddle"))
    assert all(SURFACES[name].at is None for name in ("logistic", "network", "custom"))


@pytest.mark.parametrize("name", SURFACES)
def test_a_grid_is_the_loss_on_the_meshgrid_to_the_last_bit(name):
    surface = SURFACES[name]
    xs, ys = np.linspace(-2.0, 2.5, 203), np.linspace(-1.5, 3.0, 7)  # rows that do not fill the blocks evenly
    a, b = np.meshgrid(xs, ys)
    assert same_bits(surface.loss_on_grid(xs, ys), surface.loss(a, b))
    assert same_bits(grid(surface, ((-2.0, 2.5), (-1.5, 3.0)), 9).values, surface.loss(*np.meshgrid(
        np.linspace(-2.0, 2.5, 9), np.linspace(-1.5, 3.0, 9))))


@pytest.mark.parametrize("make", [lambda: Logistic(0), lambda: NetworkSlice(0)], ids=["logistic", "network"])
def test_the_loss_alone_is_the_same_in_blocks_of_any_size(make):
    # The loss alone goes in small blocks (a grid); the gradient keeps big ones, since its BLAS products may
    # round the last bit differently for another number of rows.
    surface = make()
    rng = np.random.default_rng(4)
    a, b = rng.uniform(-3, 3, (30, 41)), rng.uniform(-3, 3, (30, 41))
    whole = surface.loss_and_gradient(a, b)[0]
    if isinstance(surface, Logistic):
        surface.LOSS_CHUNK = 7 * len(surface.signs)  # this instance's own blocks of 7 points
    else:
        surface.loss_block = 7
    assert same_bits(surface.loss(a, b), whole)
