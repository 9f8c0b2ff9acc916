"""Several optimizers from one start on one surface, step by step, side by side.

Each step evaluates every optimizer's current point in ONE vectorised call of the surface (or, on a
polynomial surface, point by point in plain floats: the same numbers without NumPy's overhead per
call), then lets each optimizer make its own update, exactly as engine.optim does, and records what
it now holds (velocity; mean square; m, v and t) in one array per quantity. Index k of a run's path,
losses, gradients and state is the point after k updates, so one slider position reads the same step
across every array.
A caller that draws paths alone leaves the state and the Taylor columns out (`include`).

A run stops, flagged and never raising, at the first step k where
  - the loss is not finite (or the gradient is not: the surface has no slope there), or
  - the loss has grown past its start by the divergence factor: L_k - L_0 > (factor - 1) |L_0|
    (|L_0| read as 1 when L_0 = 0), which for a positive start is simply L_k > factor * L_0.
It has converged at step k when the gradient norm stays below the tolerance from step k on.

The Taylor panel rides along: at every point theta_k with gradient g_k and learning rate eta,
  predicted  = L(theta_k) - eta ||g_k||^2      the first-order promise of a plain gradient step
  actual     = L(theta_k - eta g_k)            what that step really gives
  next       = L(theta_{k+1})                  where this optimizer really went
  next_predicted = L(theta_k) + g_k . (theta_{k+1} - theta_k)   the first-order promise of its own step
All the probes of all runs are evaluated in one more vectorised call at the end.

On a quadratic bowl each optimizer without adaptive rates has a critical learning rate, past which
it diverges (critical_rate): 2 / lambda_max for plain descent, more with momentum.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Collection, Sequence

import numpy as np

from .errors import LimitError, ValueInputError
from .landscape import Surface
from .limits import LIMITS, Limits
from .optim import SGD, make_optimizer

PARAMETER = "theta"  # the optimizers keep their state per parameter name; here there is one, (a, b)
Point = tuple[float, float]

CONVERGED, RUNNING, DIVERGED = "converged", "running", "diverged"
PARTS = ("state", "taylor")  # per-step parts of an answer a client may leave out (the page draws neither)
TAYLOR_COLUMNS = ("loss", "predicted", "actual", "next", "next_predicted")


@dataclass(frozen=True)
class OptimizerSpec:
    name: str
    learning_rate: float
    beta: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.999
    rho: float = 0.9
    eps: float = 1e-8
    label: str | None = None

    def make(self, limits: Limits = LIMITS) -> SGD:
        return make_optimizer(self.name, self.learning_rate, beta=self.beta, beta1=self.beta1, beta2=self.beta2,
                              eps=self.eps, rho=self.rho, limits=limits)


@dataclass
class Run:
    optimizer: SGD
    label: str | None
    path: np.ndarray  # (n + 1, 2)
    losses: np.ndarray  # (n + 1,)
    gradients: np.ndarray  # (n + 1, 2)
    columns: dict[str, np.ndarray]  # the optimizer's numbers after k updates: name -> (n + 1, 2), or (n + 1,) for t
    start_loss: float
    threshold: float  # the loss past which the run counts as diverged
    diverged_at: int | None = None
    reason: str | None = None  # loss_grew | not_finite | gradient_not_finite | start_not_finite
    converged_at: int | None = None
    reversals: float = 0.0
    taylor: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def steps(self) -> int:
        return len(self.losses) - 1

    @property
    def state(self) -> list[dict[str, Any]]:
        """n + 1 snapshots {name: value}: velocity; mean_square; t, m and v (empty for plain SGD)."""
        return [{name: int(column[k]) if column.ndim == 1 else column[k] for name, column in self.columns.items()}
                for k in range(self.steps + 1)]

    @property
    def status(self) -> str:
        if self.diverged_at is not None:
            return DIVERGED
        return CONVERGED if self.converged_at is not None else RUNNING


@dataclass
class Descent:
    surface: Surface
    start: tuple[float, float]
    steps: int
    divergence_factor: float
    tolerance: float
    runs: list[Run]
    specs: list[OptimizerSpec]  # one per run, as asked for

    def to_dict(self, include: Collection[str] = PARTS) -> dict[str, Any]:
        """The answer; `include` names the per-step parts wanted besides the path (state, taylor)."""
        surface = self.surface.describe()
        lambda_max = surface.get("lambda_max")  # only a surface with a constant Hessian (the bowl) states it
        runs = []
        for run, spec in zip(self.runs, self.specs):
            answer = run_dict(run, self.divergence_factor, self.tolerance, include)
            answer["critical_lr"] = critical_rate(spec, lambda_max)
            runs.append(answer)
        return {"surface": surface, "start": list(self.start), "steps": self.steps,
                "divergence_factor": self.divergence_factor, "tolerance": self.tolerance, "runs": runs}


# ---- Running ----------------------------------------------------------------------------------

def descend(surface: Surface, start: Sequence[float], optimizers: Sequence[OptimizerSpec], steps: int, *,
            divergence_factor: float = 1000.0, tolerance: float = 1e-6, include: Collection[str] = PARTS,
            limits: Limits = LIMITS) -> Descent:
    """Run every optimizer from `start` for `steps` updates; `include` names the per-step parts to record
    besides path, losses and gradients: the optimizers' state, and the Taylor columns."""
    start_point = _check_inputs(start, optimizers, steps, divergence_factor, tolerance, limits)
    made = [spec.make(limits) for spec in optimizers]
    steppers = [STEPPERS[optimizer.name](optimizer) for optimizer in made]
    count = len(made)
    record_state = "state" in include
    points: list[tuple[float, float]] = [start_point] * count  # where each optimizer stands now
    path: list[list[tuple[float, float]]] = [[] for _ in made]
    losses: list[list[float]] = [[] for _ in made]
    gradients: list[list[tuple[float, float]]] = [[] for _ in made]
    snapshots: list[list[tuple[Any, ...]]] = [[] for _ in made]
    diverged_at: list[int | None] = [None] * count
    reasons: list[str | None] = [None] * count
    start_losses = [math.nan] * count
    thresholds = [math.nan] * count
    active = list(range(count))
    at = surface.at
    with np.errstate(all="ignore"):
        for k in range(steps + 1):
            if not active:
                break
            if at is not None:  # a polynomial: point by point in plain floats, the same numbers as its arrays
                values: Any = [at(*points[i]) for i in active]
            else:
                # NOTE: the surface sees the heads exactly as it always has (columns of one (n, 2) array), so
                # that its vectorised transcendental functions round the same way, bit for bit.
                heads = np.array([points[i] for i in active])
                loss, grad_a, grad_b = surface.loss_and_gradient(heads[:, 0], heads[:, 1])
                values = zip(loss.tolist(), grad_a.tolist(), grad_b.tolist())
            still = []
            for i, (value, slope_a, slope_b) in zip(active, values):
                stepper = steppers[i]
                path[i].append(points[i])
                losses[i].append(value)
                gradients[i].append((slope_a, slope_b))
                if record_state:
                    snapshots[i].append(stepper.snapshot())
                if k == 0:
                    start_losses[i] = value
                    thresholds[i] = _threshold(value, divergence_factor)
                reason = _stop_reason(k, value, slope_a, slope_b, thresholds[i])
                if reason is not None:
                    diverged_at[i], reasons[i] = k, reason
                    continue
                if k == steps:
                    continue
                points[i] = stepper.step(points[i], slope_a, slope_b)
                still.append(i)
            active = still
    runs = []
    for i, (spec, optimizer, stepper) in enumerate(zip(optimizers, made, steppers)):
        stepper.store(optimizer)
        run = Run(optimizer, spec.label, np.array(path[i], dtype=np.float64), np.array(losses[i], dtype=np.float64),
                  np.array(gradients[i], dtype=np.float64), stepper.columns(snapshots[i]) if record_state else {},
                  start_losses[i], thresholds[i], diverged_at[i], reasons[i])
        run.converged_at = _converged_at(run, tolerance)
        run.reversals = _reversals(run.path)
        runs.append(run)
    if "taylor" in include:
        _taylor_columns(surface, runs)
    return Descent(surface, start_point, steps, float(divergence_factor), float(tolerance), runs, list(optimizers))


def _check_inputs(start: Sequence[float], optimizers: Sequence[OptimizerSpec], steps: int, divergence_factor: float,
                  tolerance: float, limits: Limits) -> tuple[float, float]:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueInputError("steps must be a whole number, at least 0", "steps", code="invalid_value")
    if steps > limits.max_descent_steps:
        raise LimitError(f"steps is {steps}; the cap is {limits.max_descent_steps} (max_descent_steps)",
                         "max_descent_steps", limits.max_descent_steps, field="steps")
    if not optimizers:
        raise ValueInputError("optimizers must name at least one optimizer", "optimizers", code="invalid_value")
    if len(optimizers) > limits.max_descent_optimizers:
        raise LimitError(f"{len(optimizers)} optimizers; the cap is {limits.max_descent_optimizers} "
                         "(max_descent_optimizers)", "max_descent_optimizers", limits.max_descent_optimizers,
                         field="optimizers")
    if len(start) != 2 or not all(_finite(x) and abs(x) <= limits.max_coordinate for x in start):
        raise ValueInputError(f"start must be two numbers [a, b], each from -{limits.max_coordinate:g} to "
                              f"{limits.max_coordinate:g}", "start", code="invalid_value")
    if not (_finite(divergence_factor) and 1.0 < divergence_factor <= limits.max_divergence_factor):
        raise ValueInputError(f"divergence_factor must be above 1 and at most {limits.max_divergence_factor:g}",
                              "divergence_factor", code="invalid_value")
    if not (_finite(tolerance) and 0.0 < tolerance <= 1.0):
        raise ValueInputError("tolerance must be above 0 and at most 1", "tolerance", code="invalid_value")
    return float(start[0]), float(start[1])


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _threshold(start_loss: float, factor: float) -> float:
    scale = abs(start_loss) if start_loss != 0.0 else 1.0
    return start_loss + (factor - 1.0) * scale


def _stop_reason(k: int, loss: float, grad_a: float, grad_b: float, threshold: float) -> str | None:
    if not math.isfinite(loss):
        return "start_not_finite" if k == 0 else "not_finite"
    if not (math.isfinite(grad_a) and math.isfinite(grad_b)):
        return "gradient_not_finite"
    if loss > threshold:
        return "loss_grew"
    return None


def _converged_at(run: Run, tolerance: float) -> int | None:
    """The first step from which the gradient norm stays at or below the tolerance to the end."""
    if run.diverged_at is not None:
        return None
    with np.errstate(all="ignore"):
        above = np.flatnonzero(~(np.hypot(run.gradients[:, 0], run.gradients[:, 1]) <= tolerance))
    first = 0 if above.size == 0 else int(above[-1]) + 1
    return first if first <= run.steps else None


def _reversals(path: np.ndarray) -> float:
    """The share of steps that turn back (by more than 90 degrees) on the step before: zigzag."""
    with np.errstate(all="ignore"):
        moves = np.diff(path, axis=0)
        turns = np.einsum("ij,ij->i", moves[1:], moves[:-1])
    moving = turns[np.isfinite(turns) & (turns != 0.0)]
    return float(np.mean(moving < 0.0)) if moving.size else 0.0


def _taylor_columns(surface: Surface, runs: list[Run]) -> None:
    probes = []
    for run in runs:
        with np.errstate(all="ignore"):
            probes.append(run.path - run.optimizer.learning_rate * run.gradients)
    everything = np.concatenate(probes) if probes else np.zeros((0, 2))
    actual_all = surface.loss(everything[:, 0], everything[:, 1])
    offset = 0
    for run, probe in zip(runs, probes):
        actual = actual_all[offset:offset + len(probe)]
        offset += len(probe)
        with np.errstate(all="ignore"):
            squared = np.einsum("ij,ij->i", run.gradients, run.gradients)
            predicted = run.losses - run.optimizer.learning_rate * squared
            moves = np.diff(run.path, axis=0)
            following = np.append(run.losses[1:], np.nan)
            promised = np.append(run.losses[:-1] + np.einsum("ij,ij->i", run.gradients[:-1], moves), np.nan)
        run.taylor = dict(zip(TAYLOR_COLUMNS, (run.losses, predicted, actual, following, promised)))


# ---- The updates on (a, b), in plain floats ----------------------------------------------------
# NOTE: engine.optim updates NumPy arrays, and on an array of two numbers each of its operations costs a
# microsecond or so of overhead: most of a 5 x 500-step run. The steppers below make the very same
# updates on two Python floats, operation for operation in engine.optim's order (IEEE-754 rounds + - * /
# and sqrt the same in both), so every path is the same to the last bit: tests/engine/test_descent.py
# runs the optimizers of engine.optim beside them and compares. A Python float never raises on overflow
# or NaN in + - * ; the only divisions are by a positive number or NaN.


class PlainStep:
    """SGD: theta <- theta - eta g."""
    STATE: tuple[str, ...] = ()

    def __init__(self, optimizer: SGD) -> None:
        self.rate = optimizer.learning_rate

    def step(self, point: Point, grad_a: float, grad_b: float) -> Point:
        rate = self.rate
        return point[0] - grad_a * rate, point[1] - grad_b * rate

    def snapshot(self) -> tuple[Any, ...]:
        return ()

    def columns(self, snapshots: list[tuple[Any, ...]]) -> dict[str, np.ndarray]:
        """The snapshots as engine.descent's columns: name -> (n + 1, 2), or (n + 1,) whole numbers for t."""
        answer = {}
        for index, name in enumerate(self.STATE):
            values = [snapshot[index] for snapshot in snapshots]
            answer[name] = np.array(values, dtype=np.int64 if name == "t" else np.float64)
        return answer

    def store(self, optimizer: SGD) -> None:
        """Leave the state reached in the optimizer, as if engine.optim had made the updates."""


class MomentumStep(PlainStep):
    """v <- beta v + g (v starts as g); theta <- theta - eta v."""
    STATE = ("velocity",)

    def __init__(self, optimizer: SGD) -> None:
        super().__init__(optimizer)
        self.beta = optimizer.beta
        self.velocity: Point | None = None

    def _accumulate(self, grad_a: float, grad_b: float) -> Point:
        if self.velocity is None:
            self.velocity = (grad_a, grad_b)
        else:
            beta = self.beta
            self.velocity = (self.velocity[0] * beta + grad_a, self.velocity[1] * beta + grad_b)
        return self.velocity

    def step(self, point: Point, grad_a: float, grad_b: float) -> Point:
        velocity_a, velocity_b = self._accumulate(grad_a, grad_b)
        rate = self.rate
        return point[0] - velocity_a * rate, point[1] - velocity_b * rate

    def snapshot(self) -> tuple[Any, ...]:
        return (self.velocity or (0.0, 0.0),)

    def store(self, optimizer: SGD) -> None:
        if self.velocity is not None:
            optimizer.velocity[PARAMETER] = np.array(self.velocity)


class NesterovStep(MomentumStep):
    """v <- beta v + g; theta <- theta - eta (g + beta v)."""

    def step(self, point: Point, grad_a: float, grad_b: float) -> Point:
        velocity_a, velocity_b = self._accumulate(grad_a, grad_b)
        beta, rate = self.beta, self.rate
        return point[0] - (grad_a + beta * velocity_a) * rate, point[1] - (grad_b + beta * velocity_b) * rate


class RMSPropStep(PlainStep):
    """s <- rho s + (1 - rho) g^2 (s starts at 0); theta <- theta - eta g / (sqrt(s) + eps)."""
    STATE = ("mean_square",)

    def __init__(self, optimizer: SGD) -> None:
        super().__init__(optimizer)
        self.rho, self.eps = optimizer.rho, optimizer.eps
        self.mean_square: Point | None = None

    def step(self, point: Point, grad_a: float, grad_b: float) -> Point:
        rho, rate, eps = self.rho, self.rate, self.eps
        square_a, square_b = self.mean_square or (0.0, 0.0)
        square_a = square_a * rho + (1.0 - rho) * (grad_a * grad_a)
        square_b = square_b * rho + (1.0 - rho) * (grad_b * grad_b)
        self.mean_square = (square_a, square_b)
        return (point[0] - grad_a * rate / (math.sqrt(square_a) + eps),
                point[1] - grad_b * rate / (math.sqrt(square_b) + eps))

    def snapshot(self) -> tuple[Any, ...]:
        return (self.mean_square or (0.0, 0.0),)

    def store(self, optimizer: SGD) -> None:
        if self.mean_square is not None:
            optimizer.mean_square[PARAMETER] = np.array(self.mean_square)


class AdamStep(PlainStep):
    """m <- beta1 m + (1 - beta1) g; v <- beta2 v + (1 - beta2) g^2; t <- t + 1;
    theta <- theta - eta (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)."""
    STATE = ("t", "m", "v")

    def __init__(self, optimizer: SGD) -> None:
        super().__init__(optimizer)
        self.beta1, self.beta2, self.eps = optimizer.beta1, optimizer.beta2, optimizer.eps
        self.t = 0
        self.m: Point | None = None
        self.v: Point | None = None

    def step(self, point: Point, grad_a: float, grad_b: float) -> Point:
        beta1, beta2, rate, eps = self.beta1, self.beta2, self.rate, self.eps
        self.t += 1
        m_a, m_b = self.m or (0.0, 0.0)
        v_a, v_b = self.v or (0.0, 0.0)
        m_a = m_a * beta1 + grad_a * (1.0 - beta1)
        m_b = m_b * beta1 + grad_b * (1.0 - beta1)
        v_a = v_a * beta2 + grad_a * grad_a * (1.0 - beta2)
        v_b = v_b * beta2 + grad_b * grad_b * (1.0 - beta2)
        self.m, self.v = (m_a, m_b), (v_a, v_b)
        first = 1.0 - beta1 ** self.t  # the bias corrections
        second = 1.0 - beta2 ** self.t
        return (point[0] - m_a / first * rate / (math.sqrt(v_a / second) + eps),
                point[1] - m_b / first * rate / (math.sqrt(v_b / second) + eps))

    def snapshot(self) -> tuple[Any, ...]:
        return (self.t, self.m or (0.0, 0.0), self.v or (0.0, 0.0))

    def store(self, optimizer: SGD) -> None:
        optimizer.t = self.t
        if self.m is not None and self.v is not None:
            optimizer.m[PARAMETER] = np.array(self.m)
            optimizer.v[PARAMETER] = np.array(self.v)


STEPPERS: dict[str, type[PlainStep]] = {"sgd": PlainStep, "momentum": MomentumStep, "nesterov": NesterovStep,
                                        "rmsprop": RMSPropStep, "adam": AdamStep}


# ---- The critical rate ------------------------------------------------------------------------

def critical_rate(spec: OptimizerSpec, lambda_max: float | None) -> float | None:
    """The largest learning rate at which this optimizer still converges on a quadratic whose Hessian's
    largest eigenvalue is lambda_max (None for the adaptive optimizers, which have no fixed one).

    Along an eigenvector with eigenvalue lambda the update is linear in h = eta lambda:
      sgd        w <- (1 - h) w                        stable iff 0 < h < 2
      momentum   z^2 - (1 + beta - h) z + beta = 0     stable iff 0 < h < 2 + 2 beta
      nesterov   z^2 - (1 + beta)(1 - h) z + beta (1 - h) = 0
                                                       stable iff 0 < h < (2 + 2 beta) / (1 + 2 beta)
    and the steepest direction, lambda_max, is the first to break.
    """
    if lambda_max is None or not lambda_max > 0:
        return None
    if spec.name == "sgd":
        return 2.0 / lambda_max
    if spec.name == "momentum":
        return (2.0 + 2.0 * spec.beta) / lambda_max
    if spec.name == "nesterov":
        return (2.0 + 2.0 * spec.beta) / ((1.0 + 2.0 * spec.beta) * lambda_max)
    return None


# ---- JSON -------------------------------------------------------------------------------------

def _number(x: Any) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def _numbers(array: np.ndarray) -> list[Any]:
    if np.isfinite(array).all():
        return array.tolist()
    return np.where(np.isfinite(array), array, None).tolist()


def _state_rows(run: Run) -> list[dict[str, Any]]:
    names = list(run.columns)
    lists = [column.tolist() if column.ndim == 1 else _numbers(column) for column in run.columns.values()]
    # NOTE: thousands of small dicts: a dict display is about twice as fast as dict(zip(...)).
    if len(names) == 1:
        (name,) = names
        return [{name: value} for value in lists[0]]
    if len(names) == 3:
        first, second, third = names
        return [{first: x, second: y, third: z} for x, y, z in zip(*lists)]
    if not names:
        return [{} for _ in range(run.steps + 1)]
    return [dict(zip(names, row)) for row in zip(*lists)]


def _taylor_rows(run: Run) -> list[dict[str, Any]]:
    columns = [_numbers(run.taylor[name]) for name in TAYLOR_COLUMNS]
    return [{"step": k, "loss": loss, "predicted": predicted, "actual": actual, "next": following,
             "next_predicted": promised}
            for k, (loss, predicted, actual, following, promised) in enumerate(zip(*columns))]


def run_dict(run: Run, divergence_factor: float, tolerance: float, include: Collection[str] = PARTS) -> dict[str, Any]:
    answer = {"optimizer": {**run.optimizer.describe(), "label": run.label},
              "path": _numbers(run.path), "losses": _numbers(run.losses), "gradients": _numbers(run.gradients),
              "steps": run.steps, "status": run.status, "diverged_at": run.diverged_at, "reason": run.reason,
              "converged_at": run.converged_at, "threshold": _number(run.threshold),
              "reversals": run.reversals, "message": message(run, divergence_factor, tolerance)}
    if "state" in include:
        answer["state"] = _state_rows(run)
    if "taylor" in include and run.taylor:
        answer["taylor"] = _taylor_rows(run)
    return answer


def message(run: Run, divergence_factor: float, tolerance: float) -> dict[str, str]:
    """One sentence on how the run went, in English and Chinese."""
    k = run.diverged_at
    last = run.losses[-1]
    start = run.start_loss
    if run.reason == "start_not_finite":
        return {"en": "The loss is not a finite number at the start point: choose another start.",
                "zh": "起点处的损失不是有限数：请换一个起点。"}
    if run.reason == "not_finite":
        return {"en": f"Diverged at step {k}: the loss is no longer a finite number (it overflowed).",
                "zh": f"第 {k} 步发散：损失不再是有限数（溢出）。"}
    if run.reason == "gradient_not_finite":
        return {"en": f"Stopped at step {k}: the surface has no finite slope at this point.",
                "zh": f"第 {k} 步停止：曲面在此点没有有限的斜率。"}
    if run.reason == "loss_grew":
        return {"en": f"Diverged at step {k}: the loss grew from {start:.4g} to {last:.4g}, past {run.threshold:.4g} "
                      f"(divergence factor {divergence_factor:g}). The learning rate is too big.",
                "zh": f"第 {k} 步发散：损失从 {start:.4g} 增长到 {last:.4g}，超过 {run.threshold:.4g}"
                      f"（发散倍数 {divergence_factor:g}）。学习率太大。"}
    if run.converged_at is not None:
        return {"en": f"Converged at step {run.converged_at}: from there the gradient norm stays below "
                      f"{tolerance:g}. The loss is {last:.6g}.",
                "zh": f"第 {run.converged_at} 步收敛：此后梯度范数一直小于 {tolerance:g}。损失为 {last:.6g}。"}
    norm = float(np.hypot(*run.gradients[-1]))
    en = (f"After {run.steps} steps the loss is {last:.4g} (it started at {start:.4g}) and the gradient norm is "
          f"{norm:.3g}: still moving.")
    zh = f"{run.steps} 步后损失为 {last:.4g}（起点为 {start:.4g}），梯度范数为 {norm:.3g}：仍在移动。"
    if run.reversals > 0.5:
        en += f" It zigzags: {run.reversals:.0%} of its steps turn back on the one before."
        zh += f"路径呈锯齿状：{run.reversals:.0%} 的步子折返。"
    return {"en": en, "zh": zh}
