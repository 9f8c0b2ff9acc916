"""Training an MLP for N iterations through the engine's own graph, reproducibly from one seed.

Each iteration is one forward and backward pass of the layer-view graph (engine.nn, record=False)
on one batch, then one optimizer update. A run is the same on every call with the same seed: the
initial weights come from numpy.random.default_rng(seed) (engine.nn.init_params) and the batches
from `BatchOrder`:

    a batch of all the points     the training points in their order, every iteration;
    a smaller batch b             pass e over the data (epoch) shuffles the points with
                                  numpy.random.default_rng([seed, 1, e]).permutation(size) and takes
                                  size // b batches of b from it, in turn (the last size % b points of
                                  that shuffle wait for the next pass); iteration k (0-based) takes batch
                                  k % (size // b) of pass k // (size // b).

So batch k of a run can be found without running the k before it (POST /network/iteration's
batch_index does), and a run resumed from an answer's params and optimizer state at iteration k
sees the batches the whole run would have seen.

Divergence never raises. A run stops as "diverged" when the loss, a gradient or a parameter is
no longer finite, or the loss exceeds `divergence_factor` times its first value, and says where:
the iteration, the learning rate, and a layer and unit by one of the two rules of engine.nn
(first_non_finite, largest_relative_update).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from math import isfinite
from typing import Any, Mapping

import numpy as np

from .data import CLASSIFICATION, Dataset
from .errors import LimitError, ValueInputError
from .limits import LIMITS, Limits
from .nn import (EXPLODED, MLP, MLPSpec, NetGraph, check_params, first_non_finite, init_params,
                 largest_relative_update, non_finite_update, outputs)
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
    first_batch: int = 0  # the batch the first iteration takes, in the run's order (BatchOrder)
    beta: float = 0.9  # momentum
    beta1: float = 0.9  # Adam
    beta2: float = 0.999
    eps: float = 1e-8  # Adam, RMSProp
    rho: float = 0.9  # RMSProp
    eval_every: int | None = None  # None: about 200 evaluations in a run
    divergence_factor: float = 100.0
    grid: int = 50  # points per side of the decision-boundary grid

    def make_optimizer(self, limits: Limits = LIMITS) -> SGD:
        return make_optimizer(self.optimizer, self.learning_rate, beta=self.beta, beta1=self.beta1, beta2=self.beta2,
                              eps=self.eps, rho=self.rho, limits=limits)


_STATUS_WORDS = {"overflow": "too large for float64 (overflow)", "inf": "infinite", "nan": "not a number (NaN)",
                 "div0": "infinite (a division by zero)"}
_STATUS_WORDS_ZH = {"overflow": "超出 64 位浮点数的范围（溢出）", "inf": "无穷大", "nan": "非数（NaN）",
                    "div0": "无穷大（除以零）"}
_PHASE_WORDS = {"forward": "in the forward pass", "backward": "in the backward pass", "update": "in the update"}
_PHASE_WORDS_ZH = {"forward": "前向传播中", "backward": "反向传播中", "update": "更新中"}


@dataclass
class Divergence:
    iteration: int
    learning_rate: float
    reason: str  # non_finite_loss | non_finite_gradient | non_finite_parameter | loss_exploded
    loss: float
    initial_loss: float
    where: dict[str, Any]  # engine.nn's report: phase, layer, unit, quantity, node, label, status, rule, growth

    def _parts(self) -> dict[str, Any]:
        where = self.where
        return {"iteration": self.iteration, "rate": f"{self.learning_rate:g}", "layer": where["layer"],
                "unit": where["unit"] + 1, "loss": f"{self.loss:.4g}", "first": f"{self.initial_loss:.4g}",
                "ratio": f"{self.loss / self.initial_loss:.3g}" if self.initial_loss else "many",
                "growth": None if where["growth"] is None else f"{where['growth']:.3g}",
                "name": f"{where['quantity']}[{where['layer']}]"}

    @property
    def message(self) -> str:
        where, parts = self.where, self._parts()
        if where["status"] == EXPLODED:
            moved = ("by {growth} times their size".format(**parts) if parts["growth"] is not None else
                     "away from 0, where all of them stood")
            return ("At iteration {iteration} with learning rate {rate} the loss reached {loss}, {ratio} times its "
                    "first value {first}: the steps overshoot. The blow-up starts at unit {unit} of layer {layer}: "
                    "the last update changed the weights and bias into it ".format(**parts) + moved +
                    ", more than for any other unit (rule: the largest update relative to the size before it). "
                    "Try a smaller learning rate.")
        what = ("the loss L (its largest input: unit {unit} of layer {layer})" if where["quantity"] == "loss" else
                "{name}, unit {unit} of layer {layer},").format(**parts)
        return (f"At iteration {parts['iteration']} with learning rate {parts['rate']}, {what} was the first number "
                f"to become {_STATUS_WORDS.get(where['status'], where['status'])} {_PHASE_WORDS[where['phase']]} "
                "(rule: the first non-finite number in forward, then backward order). Try a smaller learning rate.")

    @property
    def message_zh(self) -> str:
        where, parts = self.where, self._parts()
        if where["status"] == EXPLODED:
            moved = ("改变了原有大小的 {growth} 倍".format(**parts) if parts["growth"] is not None else
                     "从全为 0 的起点移开")
            return ("第 {iteration} 次迭代时学习率 {rate} 太大：损失达到 {loss}，是初值 {first} 的 {ratio} 倍，每一步都"
                    "越过了最小值。发散从第 {layer} 层的单元 {unit} 开始：上一次更新使进入该单元的权重和偏置".format(**parts)
                    + moved + "，比其他任何单元都大（规则：相对于更新前大小的最大更新）。请把学习率调小。")
        what = ("损失 L（其最大的输入来自第 {layer} 层单元 {unit}）" if where["quantity"] == "loss" else
                "第 {layer} 层单元 {unit} 的 {name} ").format(**parts)
        return (f"第 {parts['iteration']} 次迭代时学习率 {parts['rate']} 太大：{what}最先变成"
                f"{_STATUS_WORDS_ZH.get(where['status'], where['status'])}，发生在{_PHASE_WORDS_ZH[where['phase']]}"
                "（规则：按先前向、后反向的顺序找第一个非有限数）。请把学习率调小。")

    def to_dict(self) -> dict[str, Any]:
        where = {**self.where, "growth": to_json(self.where["growth"])}
        return {"iteration": self.iteration, "learning_rate": self.learning_rate, "reason": self.reason,
                "loss": to_json(self.loss), "initial_loss": to_json(self.initial_loss), "where": where,
                "message": self.message, "message_zh": self.message_zh}


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
    for name, value, low, high, cap in (
            ("iterations", config.iterations, 1, limits.max_iterations, "max_iterations"),
            ("seed", config.seed, 0, limits.max_seed, "max_seed"),
            ("grid", config.grid, 2, limits.max_grid, "max_grid"),
            ("first_batch", config.first_batch, 0, limits.max_steps_taken, "max_steps_taken")):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueInputError(f"{name} must be a whole number", name, code="invalid_value")
        if value > high:
            raise LimitError(f"{name} is {value}; the cap is {high} ({cap})", cap, high, field=name)
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


# ---- Which points each iteration sees ----------------------------------------------------------

class BatchOrder:
    """The batches of a run, as the module's docstring says: any one of them by its index."""

    def __init__(self, size: int, batch_size: int, seed: int) -> None:
        self.size, self.batch_size, self.seed = size, min(batch_size, size), seed
        self.per_epoch = size // self.batch_size
        self._epoch: int | None = None
        self._order = np.arange(size)

    @property
    def full(self) -> bool:
        return self.batch_size == self.size

    def rows(self, index: int) -> np.ndarray:
        """The training rows of batch `index` (0-based): row k of the training points is column k of X."""
        if self.full:
            return self._order
        epoch, position = divmod(index, self.per_epoch)
        if epoch != self._epoch:
            self._order = np.random.default_rng([self.seed, 1, epoch]).permutation(self.size)
            self._epoch = epoch
        return self._order[position * self.batch_size:(position + 1) * self.batch_size]


def batch_rows(size: int, batch_size: int, seed: int, index: int) -> np.ndarray:
    """The rows of batch `index` of a run with this seed, found without running the ones before it."""
    return BatchOrder(size, batch_size, seed).rows(index)


# ---- The trainer ------------------------------------------------------------------------------

class Trainer:
    """A training run that can be advanced a few iterations at a time (for streaming) or all at once.

    It starts from the seeded weights, or goes on from where an earlier answer stopped: `params` (its params,
    as arrays or rows) and `optimizer_state` (its optimizer.state), both checked against the network; with
    config.first_batch set to the iterations already done, it sees the batches the whole run would have.
    """

    def __init__(self, config: TrainConfig, train: Dataset, test: Dataset | None = None,
                 limits: Limits = LIMITS, *, params: Mapping[str, Any] | None = None,
                 optimizer_state: Mapping[str, Any] | None = None) -> None:
        check_config(config, train, test, limits)
        self.config = config
        self.spec = config.spec
        self.train_set, self.test_set = train, test
        self.model = MLP(config.spec, limits)
        self.optimizer: SGD = config.make_optimizer(limits)
        self.params = init_params(config.spec, config.seed) if params is None else check_params(config.spec, params)
        if optimizer_state is not None:
            self.optimizer.load_state(optimizer_state, config.spec.parameter_shapes(), limits=limits)
        self.initial_params = {name: value.copy() for name, value in self.params.items()}
        self.last_finite_params = self.previous_params = self.params
        self.x, self.y = train.columns(config.spec.loss)
        self.test_xy = test.columns(config.spec.loss) if test is not None and test.size else None
        self.batch_size = min(config.batch_size or train.size, train.size)
        self.eval_every = config.eval_every or max(1, config.iterations // 200)
        self.batches = BatchOrder(train.size, self.batch_size, config.seed)
        self.iteration = 0
        self.status = READY
        self.initial_loss: float | None = None
        self.divergence: Divergence | None = None
        self.history = History()

    @property
    def done(self) -> bool:
        return self.status in (FINISHED, DIVERGED)

    def _batch(self) -> tuple[np.ndarray, np.ndarray]:
        if self.batches.full:
            return self.x, self.y
        rows = self.batches.rows(self.config.first_batch + self.iteration)
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
            where = largest_relative_update(net, self.previous_params, self.params)
            self._stop(Divergence(self.iteration, self.optimizer.learning_rate, "loss_exploded", loss,
                                  self.initial_loss, where))
            return False
        if self.iteration == 1 or self.iteration % self.eval_every == 0 or self.iteration == self.config.iterations:
            self._evaluate(net, result, loss)
        gradients = {name: result.grads[index] for name, index in net.params.items()}
        if len({id(gradient) for gradient in gradients.values()}) < len(gradients):  # the update writes into them
            gradients = {name: gradient.copy() for name, gradient in gradients.items()}
        moved = self.optimizer.update_all_into(self.params, gradients)
        if not all(all_finite(value) for value in moved.values()):
            self._diverged_at(self.params, x, y, loss, moved)
            return False
        self.previous_params = self.params
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
        if where is None and moved is not None:  # every value and gradient is finite: the update overflowed
            where = non_finite_update(net, moved)
        if where is None:  # NOTE: not expected (the checked pass computes the same numbers); still say where
            where = largest_relative_update(net, self.previous_params, params)
        reason = {"forward": "non_finite_loss", "backward": "non_finite_gradient",
                  "update": "non_finite_parameter"}[where["phase"]]
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

    def boundary(self, encoding: str = "list") -> dict[str, Any] | None:
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
        return {"kind": "grid", "x1": x1.tolist(), "x2": x2.tolist(), "probabilities": to_json(probabilities, encoding),
                "predicted": np.argmax(probabilities, axis=0).tolist()}

    def result(self, encoding: str = "list") -> "TrainResult":
        """What the run came to; `encoding` (engine.values.to_json) is how its tensors will be written."""
        return TrainResult(self.status, self.iteration, self.history, self.last_finite_params, self.initial_params,
                           self.final_metrics(), self.boundary(encoding), self.divergence, self.optimizer, encoding)


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
    encoding: str = "list"  # list: nested lists; compact: tensors of COMPACT_MIN_ELEMENTS numbers or more as base64

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status, "iterations": self.iterations, "history": self.history.to_dict(),
            "metrics": self.metrics,
            "params": params_json(self.params, self.encoding),
            "initial_params": params_json(self.initial_params, self.encoding),
            "boundary": self.boundary,
            "divergence": None if self.divergence is None else self.divergence.to_dict(),
            "optimizer": optimizer_json(self.optimizer, self.encoding),
        }


def params_json(params: Mapping[str, np.ndarray], encoding: str = "list") -> dict[str, Any]:
    return {name: to_json(value, encoding) for name, value in params.items()}


def optimizer_json(optimizer: SGD, encoding: str = "list") -> dict[str, Any]:
    """The optimizer, its settings and its state, as an answer gives it (send state back as optimizer_state)."""
    return {**optimizer.describe(),
            "state": {part: value if isinstance(value, int) else params_json(value, encoding)
                      for part, value in optimizer.state().items()}}


def train(config: TrainConfig, train_set: Dataset, test_set: Dataset | None = None,
          limits: Limits = LIMITS) -> TrainResult:
    """All N iterations at once: history, final parameters, the boundary, and divergence if it came to that."""
    return Trainer(config, train_set, test_set, limits).run().result()
