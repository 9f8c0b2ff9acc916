"""Training an MLP for N iterations through the engine's own graph, reproducibly from one seed.

Each iteration is one forward and backward pass of the layer-view graph (engine.nn, record=False)
on one batch, then one optimizer update. A run is the same on every call with the same seed: the
initial weights come from numpy.random.default_rng(seed) (engine.nn.init_params) and the batch
order from numpy.random.default_rng([seed, 1]), one fresh permutation per pass over the data.

Divergence never raises. A run stops as "diverged" when the loss, a gradient or a parameter is
no longer finite, or the loss exceeds `divergence_factor` times its first value, and says where:
the iteration, the learning rate, and the first layer and node that went non-finite.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from math import isfinite
from typing import Any

import numpy as np

from .data import CLASSIFICATION, Dataset
from .errors import LimitError, ValueInputError
from .limits import LIMITS, Limits
from .nn import MLP, MLPSpec, NetGraph, first_non_finite, init_params, outputs
from .ops import OPS
from .optim import SGD, make_optimizer
from .trace import Trace
from .values import all_finite, to_json

READY, FINISHED, DIVERGED = "ready", "finished", "diverged"


@dataclass(frozen=True)
class TrainConfig:
    spec: MLPSpec
    optimizer: str = "adam"
    learning_rate: float = 0.01
    iterations: int = 500
    batch_size: int | None = None  # None: the full batch
    seed: int = 0
    beta: float = 0.9  # momentum
    beta1: float = 0.9  # Adam
    beta2: float = 0.999
    eps: float = 1e-8
    eval_every: int | None = None  # None: about 200 evaluations in a run
    divergence_factor: float = 100.0
    grid: int = 50  # points per side of the decision-boundary grid


_STATUS_WORDS = {"overflow": "too large for float64 (overflow)", "inf": "infinite", "nan": "not a number (NaN)",
                 "div0": "infinite (a division by zero)"}


@dataclass
class Divergence:
    iteration: int
    learning_rate: float
    reason: str  # non_finite_loss | non_finite_gradient | non_finite_parameter | loss_exploded
    loss: float
    initial_loss: float
    where: dict[str, Any] | None  # phase, node, label, layer, quantity, status of the first non-finite node

    @property
    def message(self) -> str:
        rate = f"{self.learning_rate:g}"
        if self.where is None:
            return (f"At iteration {self.iteration} with learning rate {rate} the loss reached {self.loss:.4g}, more "
                    f"than {self.loss / self.initial_loss:.3g} times its first value {self.initial_loss:.4g}: the "
                    "steps overshoot. Try a smaller learning rate.")
        where = self.where
        what = "the loss L" if where.get("quantity") == "loss" else where["label"]
        layer = f" in layer {where['layer']}" if where.get("layer") and where.get("quantity") != "loss" else ""
        phase = {"forward": "in the forward pass", "backward": "in the backward pass",
                 "update": "in the update"}[where["phase"]]
        became = _STATUS_WORDS.get(where["status"], where["status"])
        return (f"At iteration {self.iteration} with learning rate {rate}, {what}{layer} was the first to become "
                f"{became} {phase}. Try a smaller learning rate.")

    def to_dict(self) -> dict[str, Any]:
        return {"iteration": self.iteration, "learning_rate": self.learning_rate, "reason": self.reason,
                "loss": to_json(self.loss), "initial_loss": to_json(self.initial_loss), "where": self.where,
                "message": self.message}


@dataclass
class History:
    iteration: list[int] = field(default_factory=list)  # at each evaluation
    train_loss: list[float | None] = field(default_factory=list)
    train_accuracy: list[float | None] = field(default_factory=list)
    test_loss: list[float | None] = field(default_factory=list)
    test_accuracy: list[float | None] = field(default_factory=list)
    batch_loss: list[float | None] = field(default_factory=list)  # every iteration, before its update

    def to_dict(self) -> dict[str, Any]:
        return {name: [to_json(v) if isinstance(v, float) else v for v in values]
                for name, values in self.__dict__.items()}


# ---- Checking a configuration against the data and the caps ------------------------------------

def check_config(config: TrainConfig, train: Dataset, test: Dataset | None, limits: Limits = LIMITS) -> None:
    spec = config.spec
    for name, value, low, high in (("iterations", config.iterations, 1, limits.max_iterations),
                                   ("seed", config.seed, 0, limits.max_seed),
                                   ("grid", config.grid, 2, limits.max_grid)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueInputError(f"{name} must be a whole number", name, code="invalid_value")
        if value > high:
            raise LimitError(f"{name} is {value}; the cap is {high} (max_{name if name != 'seed' else 'seed'})",
                             f"max_{name}", high, field=name)
        if value < low:
            raise ValueInputError(f"{name} must be at least {low}", name, code="invalid_value")
    batch = config.batch_size
    if batch is not None and (isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 1):
        raise ValueInputError("batch_size must be a whole number of at least 1 (or absent: the full batch)",
                              "batch_size", code="invalid_value")
    if batch is not None and batch > limits.max_points:
        raise LimitError(f"batch_size is {batch}; the cap is {limits.max_points} (max_points)", "max_points",
                         limits.max_points, field="batch_size")
    if config.eval_every is not None and (not isinstance(config.eval_every, int) or config.eval_every < 1):
        raise ValueInputError("eval_every must be a whole number of at least 1", "eval_every", code="invalid_value")
    if not (isinstance(config.divergence_factor, (int, float)) and config.divergence_factor > 1.0):
        raise ValueInputError("divergence_factor must be a number above 1", "divergence_factor", code="invalid_value")
    if train.features != spec.sizes[0]:
        raise ValueInputError(f"the network takes {spec.sizes[0]} inputs but the points have {train.features} "
                              "features", "layers.0", code="invalid_value")
    if train.task == CLASSIFICATION:
        if spec.loss == "mse":
            raise ValueInputError("these points have class labels: use cross_entropy (or bce for two classes)",
                                  "loss", code="invalid_value")
        if spec.loss == "bce" and train.classes != 2:
            raise ValueInputError(f"bce separates two classes; these points have {train.classes}: use "
                                  "cross_entropy", "loss", code="invalid_value")
        if spec.loss == "cross_entropy" and spec.sizes[-1] != train.classes:
            raise ValueInputError(f"the points have {train.classes} classes, so the output layer needs "
                                  f"{train.classes} units", f"layers.{spec.layers}", code="invalid_value")
    elif spec.loss != "mse":
        raise ValueInputError("these points are a regression: use mse", "loss", code="invalid_value")
    elif spec.sizes[-1] != 1:
        raise ValueInputError("a regression predicts one number: the output layer needs 1 unit",
                              f"layers.{spec.layers}", code="invalid_value")
    if test is not None and test.features != train.features:
        raise ValueInputError("the test points have a different number of features", "test", code="invalid_value")
    batch = min(batch or train.size, train.size)
    work = config.iterations * batch * spec.parameter_count
    if work > limits.max_training_work:
        raise LimitError(f"this run would take {work:.3g} parameter-sample updates (iterations x batch size x "
                         f"parameters); the cap is {limits.max_training_work:.3g} (max_training_work): fewer "
                         "iterations, a smaller batch or a smaller network", "max_training_work",
                         limits.max_training_work, field="iterations")


# ---- Loss and accuracy outside the graph (for test sets and grids) --------------------------

def loss_of(spec: MLPSpec, params: dict[str, np.ndarray], z: np.ndarray, a: np.ndarray, y: np.ndarray) -> float:
    with np.errstate(all="ignore"):
        data = OPS[spec.loss].forward(a if spec.loss == "mse" else z, y)
        if spec.l2:
            data = data + spec.l2 / (2.0 * y.shape[1]) * sum(np.sum(params[f"W{l}"] ** 2)
                                                             for l in range(1, spec.layers + 1))
    return float(data)


def accuracy_of(spec: MLPSpec, a: np.ndarray, y: np.ndarray) -> float | None:
    if spec.loss == "cross_entropy":
        return float(np.mean(np.argmax(a, axis=0) == np.argmax(y, axis=0)))
    if spec.loss == "bce":
        return float(np.mean((a > 0.5) == (y > 0.5)))
    return None


# ---- The trainer ------------------------------------------------------------------------------

class Trainer:
    """A training run that can be advanced a few iterations at a time (for streaming) or all at once."""

    def __init__(self, config: TrainConfig, train: Dataset, test: Dataset | None = None,
                 limits: Limits = LIMITS) -> None:
        check_config(config, train, test, limits)
        self.config = config
        self.spec = config.spec
        self.train_set, self.test_set = train, test
        self.model = MLP(config.spec, limits)
        self.optimizer: SGD = make_optimizer(config.optimizer, config.learning_rate, beta=config.beta,
                                             beta1=config.beta1, beta2=config.beta2, eps=config.eps, limits=limits)
        self.params = init_params(config.spec, config.seed)
        self.initial_params = {name: value.copy() for name, value in self.params.items()}
        self.last_finite_params = self.params
        self.x, self.y = train.columns(config.spec.loss)
        self.test_xy = test.columns(config.spec.loss) if test is not None and test.size else None
        self.batch_size = min(config.batch_size or train.size, train.size)
        self.eval_every = config.eval_every or max(1, config.iterations // 200)
        self.shuffle = np.random.default_rng([config.seed, 1])
        self.order = np.arange(train.size)
        self.cursor = train.size  # a new permutation on the first batch
        self.iteration = 0
        self.status = READY
        self.initial_loss: float | None = None
        self.divergence: Divergence | None = None
        self.history = History()

    @property
    def done(self) -> bool:
        return self.status in (FINISHED, DIVERGED)

    def _batch(self) -> tuple[np.ndarray, np.ndarray]:
        if self.batch_size == self.train_set.size:
            return self.x, self.y
        if self.cursor + self.batch_size > self.train_set.size:
            self.order = self.shuffle.permutation(self.train_set.size)
            self.cursor = 0
        rows = self.order[self.cursor:self.cursor + self.batch_size]
        self.cursor += self.batch_size
        return self.x[:, rows], self.y[:, rows]

    def step(self) -> bool:
        """One iteration. False once the run is over (finished or diverged)."""
        if self.done:
            return False
        x, y = self._batch()
        # NOTE: the fast path checks nothing per node; only when the loss or a parameter stops being
        # finite is the iteration run again, checked, to find where it started.
        net, result = self.model.forward_backward(self.params, x, y, checked=False)
        self.iteration += 1
        loss = float(result.values[net.loss])
        self.history.batch_loss.append(loss if isfinite(loss) else None)
        if self.initial_loss is None:
            self.initial_loss = loss
        if not isfinite(loss):
            self._diverged_at(self.params, x, y, loss)
            return False
        if self.iteration > 1 and loss > self.config.divergence_factor * max(self.initial_loss, 1e-12):
            self._stop(Divergence(self.iteration, self.optimizer.learning_rate, "loss_exploded", loss,
                                  self.initial_loss, None))
            return False
        if self.iteration == 1 or self.iteration % self.eval_every == 0 or self.iteration == self.config.iterations:
            self._evaluate(net, result, loss)
        self.optimizer.begin()
        update = self.optimizer.update_into
        gradients = [result.grads[index] for index in net.params.values()]
        if len({id(gradient) for gradient in gradients}) < len(gradients):  # update_into writes into them
            gradients = [gradient.copy() for gradient in gradients]
        moved = {name: update(name, value, gradient) for (name, value), gradient in zip(self.params.items(), gradients)}
        if not all(all_finite(value) for value in moved.values()):
            self._diverged_at(self.params, x, y, loss, moved)
            return False
        self.params = self.last_finite_params = moved
        if self.iteration >= self.config.iterations:
            self.status = FINISHED
            return False
        return True

    def run(self, iterations: int | None = None) -> "Trainer":
        """Advance by `iterations` (all that remain when None)."""
        remaining = self.config.iterations - self.iteration if iterations is None else iterations
        for _ in range(remaining):
            if not self.step():
                break
        return self

    def _diverged_at(self, params: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray, loss: float,
                     moved: dict[str, np.ndarray] | None = None) -> None:
        """Run the iteration again, checked, and stop the run saying where the first non-finite number came from."""
        net, result = self.model.forward_backward(params, x, y, checked=True)
        where = first_non_finite(net, result)
        if where is not None:
            reason = {"forward": "non_finite_loss", "backward": "non_finite_gradient",
                      "update": "non_finite_parameter"}[where["phase"]]
        else:  # every value and gradient is finite: the update itself overflowed
            reason = "non_finite_parameter"
            name = next(name for name, value in (moved or {}).items() if not all_finite(value))
            node = net.graph.nodes[net.params[name]]
            where = {"phase": "update", "node": node.id, "label": name, "layer": int(name[1:]), "quantity": name[0],
                     "status": "nan" if np.isnan(moved[name]).any() else "overflow"}
        self._stop(Divergence(self.iteration, self.optimizer.learning_rate, reason, loss, self.initial_loss, where))

    def _stop(self, divergence: Divergence) -> None:
        self.status = DIVERGED
        self.divergence = divergence

    def _evaluate(self, net: NetGraph, result: Trace, batch_loss: float) -> None:
        spec = self.spec
        history = self.history
        history.iteration.append(self.iteration)
        if self.batch_size == self.train_set.size:
            history.train_loss.append(batch_loss)
            history.train_accuracy.append(accuracy_of(spec, result.values[net.layers[-1].A], self.y))
        else:
            z, a = outputs(spec, self.params, self.x)
            history.train_loss.append(loss_of(spec, self.params, z, a, self.y))
            history.train_accuracy.append(accuracy_of(spec, a, self.y))
        if self.test_xy is not None:
            x, y = self.test_xy
            z, a = outputs(spec, self.params, x)
            history.test_loss.append(loss_of(spec, self.params, z, a, y))
            history.test_accuracy.append(accuracy_of(spec, a, y))
        else:
            history.test_loss.append(None)
            history.test_accuracy.append(None)

    # ---- What a client sees --------------------------------------------------------------

    def final_metrics(self) -> dict[str, float | None]:
        spec = self.spec
        params = self.last_finite_params
        z, a = outputs(spec, params, self.x)
        metrics = {"train_loss": loss_of(spec, params, z, a, self.y), "train_accuracy": accuracy_of(spec, a, self.y),
                   "test_loss": None, "test_accuracy": None}
        if self.test_xy is not None:
            x, y = self.test_xy
            z, a = outputs(spec, params, x)
            metrics["test_loss"] = loss_of(spec, params, z, a, y)
            metrics["test_accuracy"] = accuracy_of(spec, a, y)
        return {name: to_json(value) if isinstance(value, float) else value for name, value in metrics.items()}

    def boundary(self) -> dict[str, Any] | None:
        """Class probabilities on a grid over the points' bounding box, or the regression curve."""
        points = self.train_set if self.test_set is None else Dataset(
            "all", self.train_set.task, np.concatenate([self.train_set.x, self.test_set.x]),
            np.concatenate([self.train_set.y, self.test_set.y]), self.train_set.classes)
        params = self.last_finite_params
        side = self.config.grid
        if self.spec.loss == "mse" and points.features == 1:
            (low, high), = points.bounds()
            xs = np.linspace(low, high, 4 * side)
            _, a = outputs(self.spec, params, xs.reshape(1, -1))
            return {"kind": "curve", "x": xs.tolist(), "y": to_json(a[0])}
        if self.spec.loss == "mse" or points.features != 2:
            return None
        (x1_low, x1_high), (x2_low, x2_high) = points.bounds()
        x1, x2 = np.linspace(x1_low, x1_high, side), np.linspace(x2_low, x2_high, side)
        grid = np.stack([np.tile(x1, side), np.repeat(x2, side)])  # column k is (x1[k % side], x2[k // side])
        _, a = outputs(self.spec, params, grid)
        probabilities = a if self.spec.loss == "cross_entropy" else np.concatenate([1.0 - a, a])
        probabilities = probabilities.reshape(-1, side, side)  # [class][row: x2][column: x1]
        return {"kind": "grid", "x1": x1.tolist(), "x2": x2.tolist(), "probabilities": to_json(probabilities),
                "predicted": np.argmax(probabilities, axis=0).tolist()}

    def result(self) -> "TrainResult":
        return TrainResult(self.status, self.iteration, self.history, self.last_finite_params, self.initial_params,
                           self.final_metrics(), self.boundary(), self.divergence, self.optimizer)


@dataclass
class TrainResult:
    status: str  # ready | finished | diverged
    iterations: int
    history: History
    params: dict[str, np.ndarray]  # the last finite parameters
    initial_params: dict[str, np.ndarray]
    metrics: dict[str, float | None]
    boundary: dict[str, Any] | None
    divergence: Divergence | None
    optimizer: SGD

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status, "iterations": self.iterations, "history": self.history.to_dict(),
            "metrics": self.metrics,
            "params": {name: to_json(value) for name, value in self.params.items()},
            "initial_params": {name: to_json(value) for name, value in self.initial_params.items()},
            "boundary": self.boundary,
            "divergence": None if self.divergence is None else self.divergence.to_dict(),
            "optimizer": {**self.optimizer.describe(),
                          "state": {part: value if isinstance(value, int) else
                                    {name: to_json(array) for name, array in value.items()}
                                    for part, value in self.optimizer.state().items()}},
        }


def train(config: TrainConfig, train_set: Dataset, test_set: Dataset | None = None,
          limits: Limits = LIMITS) -> TrainResult:
    """All N iterations at once: history, final parameters, the boundary, and divergence if it came to that."""
    return Trainer(config, train_set, test_set, limits).run().result()
