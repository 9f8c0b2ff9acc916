"""engine/train.py: training through the engine's graph, reproducibly, to the accuracy the lessons promise."""
from __future__ import annotations

import json

import numpy as np
import pytest

from engine.data import make_dataset, split
from engine.errors import LimitError, ValueInputError
from engine.nn import init_params, mlp_spec, outputs
from engine.train import DIVERGED, FINISHED, BatchOrder, TrainConfig, Trainer, batch_rows, loss_of, train
from engine.values import from_compact

MOONS = mlp_spec([2, 16, 16, 1], ["tanh", "tanh"], "bce")


def moons(points: int = 200):
    return split(make_dataset("moons", points, seed=0), 0.2, seed=0)


# ---- It learns ---------------------------------------------------------------------------------

def test_two_moons_reaches_97_percent_training_accuracy_from_a_fixed_seed() -> None:
    train_set, test_set = moons()
    result = train(TrainConfig(MOONS, "adam", 0.03, iterations=300, seed=0), train_set, test_set)
    assert result.status == FINISHED and result.iterations == 300
    assert result.metrics["train_accuracy"] >= 0.97
    assert result.metrics["test_accuracy"] >= 0.9
    assert result.history.train_loss[-1] < result.history.train_loss[0] / 10


def test_xor_reaches_97_percent_training_accuracy_from_a_fixed_seed() -> None:
    data = make_dataset("xor", 200, seed=0)
    spec = mlp_spec([2, 8, 1], ["tanh"], "bce")
    result = train(TrainConfig(spec, "adam", 0.05, iterations=300, seed=0), data)
    assert result.metrics["train_accuracy"] >= 0.97


def test_xor_with_softmax_cross_entropy_and_plain_sgd_learns_too() -> None:
    data = make_dataset("xor", 200, seed=0)
    spec = mlp_spec([2, 8, 2], ["tanh"], "cross_entropy")
    result = train(TrainConfig(spec, "sgd", 1.0, iterations=500, seed=0), data)
    assert result.metrics["train_accuracy"] >= 0.97


def test_a_three_arm_spiral_is_learned_with_minibatches_and_momentum() -> None:
    data = make_dataset("spiral", 300, seed=0)
    spec = mlp_spec([2, 32, 32, 3], ["relu", "relu"], "cross_entropy")
    result = train(TrainConfig(spec, "momentum", 0.1, iterations=1500, batch_size=50, seed=0), data)
    assert result.metrics["train_accuracy"] >= 0.9


def test_sine_regression_fits_and_returns_its_curve() -> None:
    train_set, test_set = split(make_dataset("sine", 200, seed=0), 0.2, seed=0)
    spec = mlp_spec([1, 16, 16, 1], ["tanh", "tanh"], "mse")
    result = train(TrainConfig(spec, "adam", 0.02, iterations=800, seed=0), train_set, test_set)
    assert result.metrics["train_accuracy"] is None
    assert result.metrics["train_loss"] < 0.01  # half mean squared error: noise 0.1 alone gives 0.005
    curve = result.boundary
    assert curve["kind"] == "curve" and len(curve["x"]) == len(curve["y"]) == 200
    xs, ys = np.array(curve["x"]), np.array(curve["y"])
    inside = np.abs(xs) <= 0.9
    assert np.max(np.abs(ys[inside] - np.sin(np.pi * xs[inside]))) < 0.2


# ---- Reproducible from its seed --------------------------------------------------------------------

@pytest.mark.parametrize(("optimizer", "batch_size"), [("adam", None), ("momentum", 16), ("sgd", 7)])
def test_a_run_is_reproducible_from_its_seed(optimizer: str, batch_size: int | None) -> None:
    train_set, test_set = moons(120)
    config = TrainConfig(MOONS, optimizer, 0.05, iterations=40, batch_size=batch_size, seed=3)
    first, again = train(config, train_set, test_set), train(config, train_set, test_set)
    assert first.to_dict() == again.to_dict()
    other = train(TrainConfig(MOONS, optimizer, 0.05, iterations=40, batch_size=batch_size, seed=4), train_set)
    assert not np.array_equal(first.params["W1"], other.params["W1"])


def test_stepping_a_trainer_in_chunks_gives_the_run_done_at_once() -> None:
    train_set, test_set = moons(120)
    config = TrainConfig(MOONS, "momentum", 0.05, iterations=30, batch_size=32, seed=1)
    trainer = Trainer(config, train_set, test_set)
    while not trainer.done:
        trainer.run(7)
    assert trainer.result().to_dict() == train(config, train_set, test_set).to_dict()


def test_identical_seeds_start_every_optimizer_from_the_same_weights() -> None:
    train_set, _ = moons(120)
    starts = [train(TrainConfig(MOONS, name, 0.01, iterations=2, seed=9), train_set).initial_params
              for name in ("sgd", "momentum", "adam")]
    assert all(np.array_equal(start["W2"], starts[0]["W2"]) for start in starts)


# ---- What a client gets ------------------------------------------------------------------------------

def test_history_boundary_and_parameters_are_reported() -> None:
    train_set, test_set = moons()
    result = train(TrainConfig(MOONS, "adam", 0.03, iterations=100, seed=0, eval_every=10, grid=20),
                   train_set, test_set)
    history = result.history
    assert history.iteration == [1] + list(range(10, 101, 10))
    assert len(history.batch_loss) == 100
    assert all(len(getattr(history, name)) == 11 for name in ("train_loss", "train_accuracy", "test_loss",
                                                               "test_accuracy"))
    boundary = result.boundary
    assert boundary["kind"] == "grid" and len(boundary["x1"]) == len(boundary["x2"]) == 20
    probabilities = np.array(boundary["probabilities"])
    assert probabilities.shape == (2, 20, 20)
    np.testing.assert_allclose(probabilities.sum(axis=0), 1.0, rtol=1e-12)
    assert np.array(boundary["predicted"]).shape == (20, 20)
    answer = result.to_dict()
    json.dumps(answer, allow_nan=False)
    assert np.shape(answer["params"]["W1"]) == (16, 2)
    assert set(answer["optimizer"]["state"]) == {"t", "m", "v"}


def test_the_boundary_covers_three_classes_with_softmax() -> None:
    data = make_dataset("blobs", 90, seed=0)
    spec = mlp_spec([2, 8, 3], ["tanh"], "cross_entropy")
    result = train(TrainConfig(spec, "adam", 0.05, iterations=100, seed=0, grid=10), data)
    assert np.array(result.boundary["probabilities"]).shape == (3, 10, 10)
    assert set(np.unique(result.boundary["predicted"])) == {0, 1, 2}


# ---- Divergence: a clear state, never an exception -------------------------------------------------

def test_a_learning_rate_of_a_million_ends_in_a_clear_diverged_state() -> None:
    train_set, test_set = moons()
    result = train(TrainConfig(MOONS, "sgd", 1e6, iterations=300, seed=0), train_set, test_set)
    assert result.status == DIVERGED and result.iterations < 300
    divergence = result.to_dict()["divergence"]
    assert divergence["learning_rate"] == 1e6 and divergence["reason"] == "loss_exploded"
    assert "learning rate 1e+06" in divergence["message"] and "smaller learning rate" in divergence["message"]
    assert "学习率 1e+06 太大" in divergence["message_zh"]
    json.dumps(result.to_dict(), allow_nan=False)
    assert all(np.isfinite(value).all() for value in result.params.values())


def relative_updates(before: dict[str, np.ndarray], after: dict[str, np.ndarray], layers: int) -> np.ndarray:
    """(layer, unit, growth) rows: ||delta [W_i, b_i]|| / ||[W_i, b_i]||, computed here by hand."""
    rows = []
    for l in range(1, layers + 1):
        for unit in range(before[f"W{l}"].shape[0]):
            old = np.append(before[f"W{l}"][unit], before[f"b{l}"][unit])
            new = np.append(after[f"W{l}"][unit], after[f"b{l}"][unit])
            rows.append((l, unit, np.linalg.norm(new - old) / np.linalg.norm(old)))
    return np.array(rows)


def test_an_exploding_loss_names_the_unit_the_last_update_moved_the_most_relative_to_its_size() -> None:
    train_set, _ = moons()
    trainer = Trainer(TrainConfig(MOONS, "sgd", 1e6, iterations=300, seed=0), train_set)
    assert trainer.step()  # iteration 1: finite, and its update is the huge one
    before, after = trainer.initial_params, trainer.params
    assert not trainer.step() and trainer.status == DIVERGED
    divergence = trainer.divergence
    assert divergence.iteration == 2 and divergence.reason == "loss_exploded"
    growths = relative_updates(before, after, MOONS.layers)
    layer, unit, growth = growths[np.argmax(growths[:, 2])]
    where = divergence.where
    layer, unit = int(layer), int(unit)
    assert (where["layer"], where["unit"], where["quantity"], where["label"]) == (layer, unit, "W", f"W{layer}")
    assert where["growth"] == pytest.approx(growth, rel=1e-12) and growth > 1e4
    assert (where["phase"], where["status"], where["rule"]) == ("update", "exploded", "largest_relative_update")
    assert f"unit {unit + 1} of layer {layer}" in divergence.message
    assert "the largest update relative to the size before it" in divergence.message
    assert f"第 {layer} 层的单元 {unit + 1}" in divergence.message_zh


def test_divergence_to_non_finite_numbers_names_the_first_layer_and_node() -> None:
    data = make_dataset("sine", 200, seed=0)
    spec = mlp_spec([1, 16, 16, 1], ["relu", "relu"], "mse")
    result = train(TrainConfig(spec, "sgd", 1e6, iterations=300, seed=0, divergence_factor=1e300), data)
    assert result.status == DIVERGED
    divergence = result.divergence
    assert divergence.reason in ("non_finite_loss", "non_finite_gradient", "non_finite_parameter")
    where = divergence.where
    assert where is not None and where["phase"] in ("forward", "backward", "update")
    assert isinstance(where["layer"], int) and where["label"] and where["node"].startswith("n")
    assert 1 <= where["layer"] <= 3 and 0 <= where["unit"] < spec.sizes[where["layer"]]
    assert where["status"] in ("overflow", "inf", "nan", "div0") and where["rule"] == "first_non_finite"
    assert "learning rate 1e+06" in divergence.message and "was the first number to become" in divergence.message
    json.dumps(result.to_dict(), allow_nan=False)


def test_a_batch_larger_than_the_data_is_the_full_batch() -> None:
    train_set, _ = moons(60)
    trainer = Trainer(TrainConfig(MOONS, "sgd", 0.1, iterations=3, batch_size=1000, seed=0), train_set)
    assert trainer.batch_size == train_set.size


def test_a_diverged_trainer_stays_diverged() -> None:
    train_set, _ = moons(60)
    trainer = Trainer(TrainConfig(MOONS, "sgd", 1e6, iterations=50, seed=0), train_set)
    trainer.run()
    iterations = trainer.iteration
    assert trainer.status == DIVERGED and not trainer.step() and trainer.iteration == iterations


# ---- Bad configurations -------------------------------------------------------------------------------

@pytest.mark.parametrize(("spec", "data", "kwargs", "error", "field"), [
    (mlp_spec([3, 4, 1], ["tanh"], "bce"), "moons", {}, ValueInputError, "layers.0"),
    (mlp_spec([2, 4, 1], ["tanh"], "mse"), "moons", {}, ValueInputError, "loss"),
    (mlp_spec([2, 4, 2], ["tanh"], "cross_entropy"), "spiral", {}, ValueInputError, "layers.2"),
    (mlp_spec([2, 4, 1], ["tanh"], "bce"), "spiral", {}, ValueInputError, "loss"),
    (mlp_spec([1, 4, 1], ["tanh"], "bce"), "sine", {}, ValueInputError, "loss"),
    (MOONS, "moons", {"iterations": 0}, ValueInputError, "iterations"),
    (MOONS, "moons", {"iterations": 10 ** 6}, LimitError, "iterations"),
    (MOONS, "moons", {"iterations": 2.5}, ValueInputError, "iterations"),
    (MOONS, "moons", {"batch_size": 0}, ValueInputError, "batch_size"),
    (MOONS, "moons", {"batch_size": -5}, ValueInputError, "batch_size"),
    (MOONS, "moons", {"batch_size": 2.5}, ValueInputError, "batch_size"),
    (MOONS, "moons", {"batch_size": 10 ** 6}, LimitError, "batch_size"),
    (MOONS, "moons", {"learning_rate": 1e7}, ValueInputError, "learning_rate"),
    (MOONS, "moons", {"grid": 1000}, LimitError, "grid"),
    (mlp_spec([2, 256, 256, 1], ["relu", "relu"], "bce"), "moons", {"iterations": 20_000}, LimitError, "iterations"),
])
def test_bad_training_configurations_name_the_field(spec, data, kwargs, error, field) -> None:
    dataset = make_dataset(data, 200, seed=0)
    arguments = {"optimizer": "sgd", "learning_rate": 0.1, "iterations": 10, **kwargs}
    with pytest.raises(error) as caught:
        train(TrainConfig(spec, **arguments), dataset)
    assert caught.value.where == {"field": field}


# ---- Batches, resuming and the optimizer's settings ------------------------------------------------------

def test_the_batch_order_is_a_fresh_seeded_shuffle_per_pass_and_any_batch_can_be_found_alone() -> None:
    order = BatchOrder(10, 3, seed=5)
    batches = [order.rows(k).tolist() for k in range(9)]  # 3 batches per pass; one point waits each pass
    for first in (0, 3, 6):
        seen = sum(batches[first:first + 3], [])
        assert len(set(seen)) == 9 and set(seen) < set(range(10))
        assert seen == np.random.default_rng([5, 1, first // 3]).permutation(10)[:9].tolist()
    assert batches[0] != batches[3]
    assert [batch_rows(10, 3, 5, k).tolist() for k in (7, 2, 8)] == [batches[7], batches[2], batches[8]]
    assert batch_rows(10, 10, 5, 4).tolist() == list(range(10))  # the full batch: every point, in order


def test_the_trainer_takes_the_batches_of_the_batch_order() -> None:
    train_set, _ = moons(60)
    trainer = Trainer(TrainConfig(MOONS, "sgd", 0.1, iterations=9, batch_size=16, seed=3), train_set)
    x, y = train_set.columns("bce")
    for k in range(9):  # 3 batches of 16 per pass over 48 points
        rows = batch_rows(train_set.size, 16, 3, k)
        z, a = outputs(MOONS, trainer.params, x[:, rows])
        expected = loss_of(MOONS, trainer.params, z, a, y[:, rows])
        trainer.step()
        assert trainer.history.batch_loss[-1] == pytest.approx(expected, rel=1e-13), k


@pytest.mark.parametrize("optimizer", ["momentum", "rmsprop", "adam"])
def test_a_run_resumed_from_its_params_and_optimizer_state_is_the_run_done_at_once(optimizer: str) -> None:
    train_set, test_set = moons(120)
    config = dict(spec=MOONS, optimizer=optimizer, learning_rate=0.02, batch_size=24, seed=2, rho=0.8)
    whole = train(TrainConfig(**config, iterations=15), train_set, test_set)
    first = train(TrainConfig(**config, iterations=10), train_set, test_set).to_dict()
    resumed = Trainer(TrainConfig(**config, iterations=5, first_batch=10), train_set, test_set,
                      params=first["params"], optimizer_state=first["optimizer"]["state"]).run().result()
    for name, value in whole.params.items():
        np.testing.assert_allclose(resumed.params[name], value, rtol=1e-13, atol=1e-15, err_msg=name)
    assert resumed.history.batch_loss == pytest.approx(whole.history.batch_loss[10:], rel=1e-12)
    np.testing.assert_array_equal(resumed.initial_params["W1"], np.array(first["params"]["W1"]))
    restarted = Trainer(TrainConfig(**config, iterations=5, first_batch=10), train_set, test_set,
                        params=first["params"]).run().result()
    assert not np.allclose(restarted.params["W1"], whole.params["W1"])  # without its state the optimizer starts over


def test_a_resumed_run_checks_what_it_is_given() -> None:
    train_set, _ = moons(60)
    config = TrainConfig(MOONS, "adam", 0.01, iterations=2)
    with pytest.raises(ValueInputError) as caught:
        Trainer(config, train_set, params={**init_params(MOONS, 0), "W1": [[0.0, 0.0]]})
    assert caught.value.where == {"field": "params.W1"}
    with pytest.raises(ValueInputError) as caught:
        Trainer(config, train_set, params={"W1": init_params(MOONS, 0)["W1"]})
    assert caught.value.where == {"field": "params"} and "lacks b1" in caught.value.message
    with pytest.raises(ValueInputError) as caught:
        Trainer(config, train_set, optimizer_state={"velocity": {}})
    assert caught.value.where == {"field": "optimizer_state.velocity"}
    with pytest.raises(LimitError) as caught:
        Trainer(TrainConfig(MOONS, "adam", 0.01, iterations=2, first_batch=2**31), train_set)
    assert caught.value.where == {"field": "first_batch"} and caught.value.limit == "max_steps_taken"


def test_rmsprop_takes_its_rho_from_the_configuration() -> None:
    train_set, _ = moons(60)
    trainer = Trainer(TrainConfig(MOONS, "rmsprop", 0.01, iterations=1, rho=0.5, eps=1e-6), train_set)
    assert (trainer.optimizer.rho, trainer.optimizer.eps) == (0.5, 1e-6)
    net, result = trainer.model.forward_backward(trainer.params, trainer.x, trainer.y)
    gradient = result.grads[net.params["W1"]]
    expected = trainer.params["W1"] - 0.01 * gradient / (np.sqrt(0.5 * gradient ** 2) + 1e-6)
    trainer.run()
    np.testing.assert_allclose(trainer.params["W1"], expected, rtol=1e-14)
    np.testing.assert_allclose(trainer.optimizer.mean_square["W1"], 0.5 * gradient ** 2, rtol=1e-14)


def test_a_compact_result_decodes_to_the_list_result() -> None:
    train_set, test_set = moons()
    spec = mlp_spec([2, 32, 32, 1], ["tanh", "tanh"], "bce")
    result = Trainer(TrainConfig(spec, "adam", 0.01, iterations=5, seed=0), train_set, test_set).run()
    plain, compact = result.result().to_dict(), result.result("compact").to_dict()
    assert compact["params"]["W2"]["shape"] == [32, 32] and compact["params"]["W1"] == plain["params"]["W1"]
    for part in ("params", "initial_params"):
        for name, value in compact[part].items():
            decoded = from_compact(value).tolist() if isinstance(value, dict) else value
            assert decoded == plain[part][name], (part, name)
    assert from_compact(compact["optimizer"]["state"]["v"]["W2"]).tolist() == plain["optimizer"]["state"]["v"]["W2"]
    assert from_compact(compact["boundary"]["probabilities"]).tolist() == plain["boundary"]["probabilities"]
    assert compact["history"] == plain["history"] and compact["boundary"]["predicted"] == plain["boundary"]["predicted"]
