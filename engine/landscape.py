"""Loss surfaces of two parameters (a, b): each with its value AND its gradient, worked out by hand.

    quadratic    L = 1/2 theta^T H theta,  H = R diag(1, kappa) R^T   (kappa = condition number)
    rosenbrock   L = (1 - a)^2 + 100 (b - a^2)^2                      a long curved valley
    himmelblau   L = (a^2 + b - 11)^2 + (a + b^2 - 7)^2               four minima
    saddle       L = a^2 / 2 + b^4 / 4 - b^2 / 2                      a saddle at 0 between two valleys
    logistic     L = mean log(1 + exp(-s (a x1 + b x2)))              one neuron's real loss on toy data
    network      L = BCE of a 2-4-1 network at theta* + a d1 + b d2   a trained network's loss along two directions
    custom       f(a, b) typed in the expression language             run on the op table's own rules

Every surface takes arrays a and b of one shape and answers arrays of that shape, so a contour grid,
the heads of several optimizers and a list of Taylor probes are each one vectorised call. The four
polynomials also answer one point in plain floats (`at`), the same numbers to the last bit (only
+ - * are used, which IEEE-754 rounds alike in Python and NumPy): a descent run asks for a handful of
points hundreds of times, where NumPy's overhead per call is most of the cost. Nothing raises on a
bad number: outside its domain a surface answers NaN or infinity, and the callers report it. For the
quadratic the Hessian is known exactly; its largest eigenvalue lambda_max sets the critical learning
rate 2 / lambda_max beyond which plain gradient descent diverges.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable

import numpy as np

from .data import make_dataset
from .errors import LimitError, SourceError, ValueInputError
from .graph import CONST, INPUT, Graph
from .limits import LIMITS, Limits
from .nn import mlp_spec
from .ops import OPS
from .parse import parse
from .train import TrainConfig, train

Box = tuple[tuple[float, float], tuple[float, float]]
Point = tuple[float, float]
Arrays = tuple[np.ndarray, np.ndarray, np.ndarray]  # loss, dL/da, dL/db

INPUTS = ("a", "b")


@dataclass(frozen=True)
class Setting:
    """A knob of one surface, as the catalogue lists it (the API schema holds the same bounds)."""
    name: str
    kind: str  # number | integer | text
    default: Any
    low: float | None = None
    high: float | None = None
    doc: dict[str, str] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        answer: dict[str, Any] = {"name": self.name, "kind": self.kind, "default": self.default, "doc": dict(self.doc)}
        if self.kind == "text":
            answer["max_length"] = self.high
        else:
            answer["min"], answer["max"] = self.low, self.high
        return answer


# ---- The surfaces -----------------------------------------------------------------------------

class Surface:
    """One loss surface with its settings fixed. Subclasses give `loss` and `loss_and_gradient`."""

    id = ""
    formula = ""
    latex = ""

    def loss(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return self.loss_and_gradient(a, b)[0]

    def loss_and_gradient(self, a: np.ndarray, b: np.ndarray) -> Arrays:
        raise NotImplementedError

    # The loss and gradient at one point (a, b) in plain floats, bit for bit loss_and_gradient's; None for a
    # surface that is evaluated on arrays only.
    at: Callable[[float, float], tuple[float, float, float]] | None = None

    def loss_on_grid(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        """values[j, i] = L(xs[i], ys[j]): the loss on the grid, rows following b."""
        a, b = np.meshgrid(xs, ys)
        return self.loss(a, b)

    def minima(self) -> list[Point]:
        return []

    def saddles(self) -> list[Point]:
        return []

    def settings(self) -> dict[str, Any]:
        return {}

    def hessian(self) -> np.ndarray | None:
        """The constant Hessian of a quadratic surface; None where it changes from point to point."""
        return None

    def describe(self) -> dict[str, Any]:
        answer: dict[str, Any] = {"id": self.id, "formula": self.formula, "latex": self.latex,
                                  "settings": self.settings(), "minima": [list(p) for p in self.minima()],
                                  "saddles": [list(p) for p in self.saddles()]}
        hessian = self.hessian()
        if hessian is not None:
            answer.update(curvature(hessian))
        return answer


class Quadratic(Surface):
    """The ill-conditioned bowl: eigenvalues 1 and kappa along axes turned by `angle` degrees.

    H = R diag(1, kappa) R^T with R the rotation by angle, so lambda_min = 1, lambda_max = kappa
    and plain gradient descent converges exactly when 0 < eta < 2 / kappa.
    """
    id = "quadratic"
    formula = "L = 1/2 (h11 a^2 + 2 h12 a b + h22 b^2),  H = R diag(1, condition) R^T"
    latex = r"L = \tfrac12 \theta^\top H \theta,\quad H = R\,\mathrm{diag}(1, \kappa)\,R^\top"

    def __init__(self, condition: float = 10.0, angle: float = 0.0) -> None:
        self.condition = float(condition)
        self.angle = float(angle)
        turn = math.radians(self.angle)
        rotation = np.array([[math.cos(turn), -math.sin(turn)], [math.sin(turn), math.cos(turn)]])
        self.h = rotation @ np.diag([1.0, self.condition]) @ rotation.T
        self.h = 0.5 * (self.h + self.h.T)  # NOTE: exactly symmetric, so the gradient is exactly H theta
        (self.h11, self.h12), (_, self.h22) = self.h.tolist()

    def loss_and_gradient(self, a: np.ndarray, b: np.ndarray) -> Arrays:
        (h11, h12), (_, h22) = self.h
        with np.errstate(all="ignore"):
            grad_a = h11 * a + h12 * b
            grad_b = h12 * a + h22 * b
            return 0.5 * (a * grad_a + b * grad_b), grad_a, grad_b

    def at(self, a: float, b: float) -> tuple[float, float, float]:
        grad_a = self.h11 * a + self.h12 * b
        grad_b = self.h12 * a + self.h22 * b
        return 0.5 * (a * grad_a + b * grad_b), grad_a, grad_b

    def minima(self) -> list[Point]:
        return [(0.0, 0.0)]

    def settings(self) -> dict[str, Any]:
        return {"condition": self.condition, "angle": self.angle}

    def hessian(self) -> np.ndarray:
        return self.h.copy()


class Rosenbrock(Surface):
    id = "rosenbrock"
    formula = "L = (1 - a)^2 + 100 (b - a^2)^2"
    latex = r"L = (1 - a)^2 + 100\,(b - a^2)^2"

    def loss_and_gradient(self, a: np.ndarray, b: np.ndarray) -> Arrays:
        with np.errstate(all="ignore"):
            valley = b - a * a
            return ((1.0 - a) ** 2 + 100.0 * valley ** 2,
                    -2.0 * (1.0 - a) - 400.0 * a * valley,
                    200.0 * valley)

    def at(self, a: float, b: float) -> tuple[float, float, float]:
        valley = b - a * a
        rest = 1.0 - a  # NOTE: NumPy squares x ** 2 as x * x; Python's x ** 2 calls pow() and may round otherwise
        return rest * rest + 100.0 * (valley * valley), -2.0 * rest - 400.0 * a * valley, 200.0 * valley

    def minima(self) -> list[Point]:
        return [(1.0, 1.0)]


class Himmelblau(Surface):
    id = "himmelblau"
    formula = "L = (a^2 + b - 11)^2 + (a + b^2 - 7)^2"
    latex = r"L = (a^2 + b - 11)^2 + (a + b^2 - 7)^2"

    def loss_and_gradient(self, a: np.ndarray, b: np.ndarray) -> Arrays:
        with np.errstate(all="ignore"):
            first = a * a + b - 11.0
            second = a + b * b - 7.0
            return (first ** 2 + second ** 2,
                    4.0 * a * first + 2.0 * second,
                    2.0 * first + 4.0 * b * second)

    def at(self, a: float, b: float) -> tuple[float, float, float]:
        first = a * a + b - 11.0
        second = a + b * b - 7.0
        return (first * first + second * second, 4.0 * a * first + 2.0 * second, 2.0 * first + 4.0 * b * second)

    def minima(self) -> list[Point]:
        # (3, 2) exactly; the other three are roots of a cubic, to the digits shown.
        return [(3.0, 2.0), (-2.805118086952745, 3.131312518250573), (-3.779310253377747, -3.283185991286170),
                (3.584428340330492, -1.848126526964404)]


class Saddle(Surface):
    """A saddle at the origin (Hessian diag(1, -1)) between two valleys at b = +1 and b = -1.

    Started near b = 0, gradient descent lingers on the plateau while b grows by a factor (1 + eta)
    per step, then escapes: the lesson of saddle points, with somewhere to land.
    """
    id = "saddle"
    formula = "L = a^2 / 2 + b^4 / 4 - b^2 / 2"
    latex = r"L = \tfrac12 a^2 + \tfrac14 b^4 - \tfrac12 b^2"

    def loss_and_gradient(self, a: np.ndarray, b: np.ndarray) -> Arrays:
        with np.errstate(all="ignore"):
            b_squared = b * b
            return (0.5 * a * a + 0.25 * b_squared * b_squared - 0.5 * b_squared,
                    a * 1.0,
                    b * b_squared - b)

    def at(self, a: float, b: float) -> tuple[float, float, float]:
        b_squared = b * b
        return (0.5 * a * a + 0.25 * b_squared * b_squared - 0.5 * b_squared, a * 1.0, b * b_squared - b)

    def minima(self) -> list[Point]:
        return [(0.0, 1.0), (0.0, -1.0)]

    def saddles(self) -> list[Point]:
        return [(0.0, 0.0)]


LOGISTIC_POINTS = 40
LOGISTIC_NOISE = 1.0  # NOTE: the two classes overlap, so the loss has a finite minimum (separable data has none)


@lru_cache(maxsize=32)
def logistic_data(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two Gaussian blobs around (0.71, 0.71) and (-0.71, -0.71): points (m, 2) and labels 0/1 (m,)."""
    data = make_dataset("blobs", LOGISTIC_POINTS, noise=LOGISTIC_NOISE, classes=2, seed=seed)
    for array in (data.x, data.y):
        array.setflags(write=False)  # shared by every surface made from this seed
    return data.x, data.y


class Logistic(Surface):
    """One sigmoid neuron without a bias, p = sigmoid(a x1 + b x2): the mean cross-entropy on a toy set.

    With s = 2 label - 1, the loss of a point is log(1 + exp(-s z)) (softplus, computed as
    logaddexp(0, -s z) so it never overflows) and its gradient is -s sigmoid(-s z) x.
    """
    id = "logistic"
    formula = "L = mean_i log(1 + exp(-s_i (a x1_i + b x2_i))),  s_i = 2 label_i - 1"
    latex = r"L = \frac1m \sum_i \log\left(1 + e^{-s_i (a x_{1i} + b x_{2i})}\right)"
    CHUNK = 1_000_000  # grid points x data points per block: bounds the memory of one evaluation
    # NOTE: the loss alone (a contour grid) goes in smaller blocks. A temporary under glibc's 128 KiB mmap
    # threshold is reused from the heap; a bigger one is mapped afresh and page-faulted in every time (a
    # 200 x 200 grid: 7 ms in blocks of 16,000, 28 ms in blocks of 64,000, in a fresh process). The
    # gradient keeps its blocks: its BLAS products may round the last bit otherwise for another number of rows.
    LOSS_CHUNK = 16_000

    def __init__(self, data_seed: int = 0) -> None:
        self.data_seed = int(data_seed)
        self.x, self.labels = logistic_data(self.data_seed)
        self.signs = 2.0 * self.labels - 1.0
        self.x1s = self.x[:, 0] * self.signs  # s x, so that s z = a (s x1) + b (s x2)
        self.x2s = self.x[:, 1] * self.signs

    def loss_and_gradient(self, a: np.ndarray, b: np.ndarray) -> Arrays:
        return _in_blocks(self._block, a, b, max(1, self.CHUNK // len(self.signs)), gradient=True)

    def loss(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return _in_blocks(self._block, a, b, max(1, self.LOSS_CHUNK // len(self.signs)), gradient=False)[0]

    def _block(self, a: np.ndarray, b: np.ndarray, gradient: bool) -> tuple[np.ndarray, ...]:
        m = len(self.signs)
        with np.errstate(all="ignore"):
            margin = np.multiply.outer(a, self.x1s)  # s z, one row per (a, b)
            margin += np.multiply.outer(b, self.x2s)
            # NOTE: softplus(-m) = max(-m, 0) + log1p(exp(-|m|)) never overflows (and is 3x faster than logaddexp)
            tail = np.abs(margin)
            np.negative(tail, out=tail)
            np.exp(tail, out=tail)  # exp(-|m|), in (0, 1]
            losses = np.log1p(tail)
            losses += np.maximum(-margin, 0.0)
            loss = np.add.reduce(losses, axis=1) / m  # what .mean(axis=1) computes, without its Python overhead
            if not gradient:
                return (loss,)
            # sigmoid(-m), how wrong each point is: 1 / (1 + e^m) written with e^-|m| only
            wrong = np.where(margin >= 0.0, tail, 1.0) / (1.0 + tail)
            return loss, -(wrong @ self.x1s) / m, -(wrong @ self.x2s) / m

    def minima(self) -> list[Point]:
        found = _logistic_minimum(self.data_seed)
        return [] if found is None else [found]

    def settings(self) -> dict[str, Any]:
        return {"data_seed": self.data_seed}

    def data(self) -> dict[str, Any]:
        return {"x": self.x.tolist(), "labels": self.labels.astype(int).tolist()}

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "data": self.data()}


@lru_cache(maxsize=32)
def _logistic_minimum(seed: int) -> Point | None:
    """Newton's method: the loss is convex, so from 0 it reaches the minimum in a few steps (None if
    the data happen to be separable, when the minimum is at infinity)."""
    surface = Logistic(seed)
    theta = np.zeros(2)
    xs = np.column_stack([surface.x1s, surface.x2s])
    for _ in range(50):
        with np.errstate(all="ignore"):
            _, grad_a, grad_b = surface.loss_and_gradient(theta[:1], theta[1:])
            gradient = np.array([grad_a[0], grad_b[0]])
            p = 1.0 / (1.0 + np.exp(-(xs @ theta)))
            hessian = (xs * (p * (1.0 - p))[:, None]).T @ xs / len(xs)
            try:
                step = np.linalg.solve(hessian, gradient)
            except np.linalg.LinAlgError:  # every point on one line through 0: no single minimum
                return None
        theta = theta - step
        if not np.isfinite(theta).all() or np.abs(theta).max() > 1e3:
            return None
        if np.abs(step).max() < 1e-13:
            break
    return float(theta[0]), float(theta[1])


NETWORK_SIZES = (2, 4, 1)  # features, tanh units, one sigmoid output (binary cross-entropy)
NETWORK_POINTS = 40
NETWORK_DATASET = "moons"
NETWORK_TRAINING = {"optimizer": "adam", "learning_rate": 0.05, "iterations": 300}


@dataclass(frozen=True)
class NetworkPlane:
    """A trained network theta* and two directions d1, d2 in its parameter space, with its data."""
    x: np.ndarray  # (2, m): samples are columns, as in engine.nn
    labels: np.ndarray  # (m,) 0 or 1
    center: dict[str, np.ndarray]  # W1, b1, W2, b2 after training
    directions: tuple[dict[str, np.ndarray], dict[str, np.ndarray]]
    loss: float  # the training loss at theta*


@lru_cache(maxsize=8)
def network_plane(seed: int) -> NetworkPlane:
    """Train the network on its toy set (engine.train, seeded), then draw two random directions.

    Each direction is "filter-normalised" (Li et al., 2018, Visualizing the loss landscape of neural
    nets): the incoming weights and bias of every unit are scaled to the length of that unit's own
    trained ones, so a = 1 moves each unit by about its own size and the picture does not depend on
    how the weights happen to be scaled.
    """
    data = make_dataset(NETWORK_DATASET, NETWORK_POINTS, seed=seed)
    spec = mlp_spec(NETWORK_SIZES, ["tanh"], "bce")
    trained = train(TrainConfig(spec, seed=seed, **NETWORK_TRAINING), data)
    center = {name: np.array(value, dtype=np.float64) for name, value in trained.params.items()}
    rng = np.random.default_rng([seed, 2])  # its own stream: the directions do not repeat the initial weights
    directions = []
    for _ in range(2):
        direction = {}
        for layer in range(1, len(NETWORK_SIZES)):
            weights, bias = center[f"W{layer}"], center[f"b{layer}"]
            unit = np.hstack([weights, bias])  # one row per unit: its incoming weights and its bias
            random = rng.standard_normal(unit.shape)
            random *= (np.linalg.norm(unit, axis=1, keepdims=True)
                       / np.maximum(np.linalg.norm(random, axis=1, keepdims=True), 1e-300))
            direction[f"W{layer}"], direction[f"b{layer}"] = random[:, :-1], random[:, -1:]
        directions.append(direction)
    x, labels = data.columns("bce")
    for array in (x, labels, *center.values(), *(v for d in directions for v in d.values())):
        array.setflags(write=False)
    return NetworkPlane(x, labels.reshape(-1), center, (directions[0], directions[1]),
                        float(trained.metrics["train_loss"]))


class NetworkSlice(Surface):
    """A small network's real loss on the plane through its trained weights: L(theta* + a d1 + b d2).

    The network is 2-4-1 (tanh, then a sigmoid output) trained on 40 points of two moons; its loss is
    the mean binary cross-entropy. theta is linear in (a, b), so the first layer's pre-activations are
    Z1 = P0 + a P1 + b P2 with P_k = W1_k X + b1_k fixed, and a whole grid of (a, b) is one array of
    shape (points, units, samples). The slopes along a and b come by the chain rule in forward mode:
    dZ1/da = P1, dA1/da = (1 - A1^2) P1, dZ2/da = w2_1 . A1 + w2 . dA1/da + b2_1, and
    dL/da = sum over samples of dL/dZ2 dZ2/da, with dL/dZ2 = -s sigmoid(-s Z2) / m (s = 2 label - 1).
    """
    id = "network"
    formula = ("L(a, b) = mean BCE of a 2-4-1 tanh network at theta* + a d1 + b d2 (theta*: trained weights, "
               "d1, d2: random filter-normalised directions) on 40 points of two moons")
    latex = r"L(a, b) = \mathrm{BCE}\left(f_{\theta^* + a\,d_1 + b\,d_2}(X),\ y\right)"
    CHUNK = 100_000  # grid points x units x samples per block: a block's arrays stay in the cache
    LOSS_CHUNK = 16_000  # the same for the loss alone: see Logistic.LOSS_CHUNK
    GRID_POINTS = 400  # points per block of a contour grid, whose Z1 goes into one buffer made once

    def __init__(self, data_seed: int = 0) -> None:
        self.data_seed = int(data_seed)
        plane = network_plane(self.data_seed)
        self.plane = plane
        x = plane.x
        first = [plane.center, *plane.directions]
        # P_k = W1_k X + b1_k (units, m), and the output layer's w2_k (units,) and b2_k, for k = centre, d1, d2
        self.pre = [part["W1"] @ x + part["b1"] for part in first]
        self.out_weights = [part["W2"].reshape(-1) for part in first]
        self.out_bias = [float(part["b2"].reshape(-1)[0]) for part in first]
        self.signs = 2.0 * plane.labels - 1.0
        units, samples = self.pre[0].shape
        self.block = max(1, self.CHUNK // (units * samples))
        self.loss_block = max(1, self.LOSS_CHUNK // (units * samples))

    def loss_and_gradient(self, a: np.ndarray, b: np.ndarray) -> Arrays:
        return _in_blocks(self._block, a, b, self.block, gradient=True)

    def loss(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return _in_blocks(self._block, a, b, self.loss_block, gradient=False)[0]

    def loss_on_grid(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        """As loss() on the meshgrid, number for number, with Z1's P0 + a P1 made once per column and b P2
        once per row: (P0 + a P1) + b P2 is the same sum in the same order, at a quarter of the passes.
        Whole rows go through at once, into one buffer made once (see Logistic.LOSS_CHUNK)."""
        (p0, p1, p2) = self.pre
        values = np.empty((len(ys), len(xs)))
        rows = max(1, self.GRID_POINTS // len(xs))
        with np.errstate(all="ignore"):
            columns = p0 + xs[:, None, None] * p1  # (len(xs), units, samples)
            buffer = np.empty((rows, *columns.shape))
            along_a = np.tile(xs, rows)
            for start in range(0, len(ys), rows):
                along_b = ys[start:start + rows]
                hidden = buffer[:len(along_b)]
                np.add(columns, (along_b[:, None, None] * p2)[:, None], out=hidden)
                points = len(along_b) * len(xs)
                (loss,) = self._from_hidden(hidden.reshape(points, *columns.shape[1:]), along_a[:points],
                                            np.repeat(along_b, len(xs)), False)
                values[start:start + len(along_b)] = loss.reshape(len(along_b), len(xs))
        return values

    def _block(self, a: np.ndarray, b: np.ndarray, gradient: bool) -> tuple[np.ndarray, ...]:
        (p0, p1, p2) = self.pre
        with np.errstate(all="ignore"):
            along_a, along_b = a[:, None, None], b[:, None, None]
            hidden = p0 + along_a * p1  # Z1, (points, units, samples)
            hidden += along_b * p2
            return self._from_hidden(hidden, a, b, gradient)

    def _from_hidden(self, hidden: np.ndarray, a: np.ndarray, b: np.ndarray,
                     gradient: bool) -> tuple[np.ndarray, ...]:
        """The rest of the network from Z1 (overwritten with A1) at the points (a, b); inside np.errstate."""
        (_, p1, p2), (w0, w1, w2), (c0, c1, c2) = self.pre, self.out_weights, self.out_bias
        np.tanh(hidden, out=hidden)  # A1
        weights = (w0 + a[:, None] * w1 + b[:, None] * w2)[:, None, :]  # w2 at each point, (points, 1, units)
        logits = np.matmul(weights, hidden)[:, 0, :]  # Z2, (points, samples)
        logits += (c0 + a * c1 + b * c2)[:, None]
        margin = logits * self.signs  # s Z2
        # NOTE: softplus(-m) = max(-m, 0) + log1p(exp(-|m|)), as for the one neuron: never overflows
        tail = np.exp(-np.abs(margin))
        loss = np.add.reduce(np.maximum(-margin, 0.0) + np.log1p(tail), axis=1) / margin.shape[1]  # the mean
        if not gradient:
            return (loss,)
        wrong = np.where(margin >= 0.0, tail, 1.0) / (1.0 + tail)  # sigmoid(-s Z2)
        upstream = -(self.signs * wrong) / margin.shape[1]  # dL/dZ2, (points, samples)
        slope = 1.0 - hidden * hidden  # tanh'(Z1) = 1 - A1^2
        grads = []
        for p_k, w_k, c_k in ((p1, w1, c1), (p2, w2, c2)):
            moved = np.matmul(w_k, hidden)  # dZ2 along the direction: the output weights move ...
            moved += np.matmul(weights, slope * p_k)[:, 0, :]  # ... and so do the hidden units
            moved += c_k
            moved *= upstream
            grads.append(moved.sum(axis=1))
        return loss, grads[0], grads[1]

    def params_at(self, a: float, b: float) -> dict[str, np.ndarray]:
        """The network's weights at (a, b) of the plane, as engine.nn names them."""
        plane = self.plane
        return {name: plane.center[name] + a * plane.directions[0][name] + b * plane.directions[1][name]
                for name in plane.center}

    def minima(self) -> list[Point]:
        found = _slice_minimum(self.data_seed)
        return [] if found is None else [found]

    def settings(self) -> dict[str, Any]:
        return {"data_seed": self.data_seed}

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "network": {"sizes": list(NETWORK_SIZES), "activations": ["tanh", "sigmoid"],
                                                  "loss": "bce", "dataset": NETWORK_DATASET,
                                                  "points": NETWORK_POINTS, "training": dict(NETWORK_TRAINING)},
                "data": {"x": self.plane.x.T.tolist(), "labels": self.plane.labels.astype(int).tolist()}}


@lru_cache(maxsize=8)
def _slice_minimum(seed: int) -> Point | None:
    """Newton's method on the plane from the trained weights at (0, 0), which sit at (or next to) a minimum
    of the slice; None when it does not settle on a point where the slope vanishes and the loss curves up."""
    surface = NetworkSlice(seed)
    theta = np.zeros(2)
    for _ in range(30):
        _, grad_a, grad_b = surface.loss_and_gradient(theta[:1], theta[1:])
        gradient = np.array([grad_a[0], grad_b[0]])
        hessian = hessian_at(surface, (float(theta[0]), float(theta[1])))
        if not np.all(np.linalg.eigvalsh(hessian) > 0):
            return None
        step = np.linalg.solve(hessian, gradient)
        theta = theta - step
        if not np.isfinite(theta).all() or np.abs(theta).max() > 1.0:
            return None
        if np.abs(step).max() < 1e-12:
            break
    _, grad_a, grad_b = surface.loss_and_gradient(theta[:1], theta[1:])
    if np.hypot(grad_a[0], grad_b[0]) > 1e-9:
        return None
    return float(theta[0]), float(theta[1])


class Custom(Surface):
    """f(a, b) typed in the expression language, run on the op table's own forward rules and local
    derivatives (engine.ops) as a flat tape: a and b are bound to whole arrays at once, so only
    elementwise ops are allowed (a sum would mix grid points)."""
    id = "custom"
    CHUNK = 2_000_000  # nodes x points per block: bounds the memory of one grid

    def __init__(self, source: str, limits: Limits = LIMITS) -> None:
        self.source = source
        self.graph = parse_surface(source, limits)
        self.tape = Tape(self.graph)
        self.formula = source
        self.latex = ""
        self.block = max(1, self.CHUNK // len(self.graph.nodes))

    def loss_and_gradient(self, a: np.ndarray, b: np.ndarray) -> Arrays:
        return _in_blocks(self._block, a, b, self.block, gradient=True)

    def loss(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return _in_blocks(self._block, a, b, self.block, gradient=False)[0]

    def _block(self, a: np.ndarray, b: np.ndarray, gradient: bool) -> tuple[np.ndarray, ...]:
        with np.errstate(all="ignore"):
            values = self.tape.forward(a, b)
            loss = _spread(values[self.tape.output], a.shape)
            if not gradient:
                return (loss,)
            grad_a, grad_b = self.tape.backward(values, a.shape)
            return loss, grad_a, grad_b

    def settings(self) -> dict[str, Any]:
        return {"source": self.source}


class Tape:
    """A parsed f(a, b) as a flat list of op-table rules, for evaluating it many times.

    NOTE: engine.trace.run does the same forward and backward but keeps statuses, steps and shapes for
    the explorer; a descent run calls its surface once per step on a handful of points, where that
    bookkeeping costs several times the arithmetic. Every node here is a or b, a constant, or an
    elementwise op, so a node that depends on a or b has their shape and no gradient needs
    un-broadcasting. The numbers are the same as engine.trace's, step for step.
    """

    def __init__(self, graph: Graph) -> None:
        self.output = graph.output
        self.count = len(graph.nodes)
        self.steps: list[tuple[int, Callable[..., Any], tuple[int, ...], tuple[Callable[..., Any], ...]]] = []
        self.leaves: list[tuple[int, str | float]] = []  # (node, "a" | "b" | a constant)
        varies = [False] * self.count  # depends on a or b: only these carry a gradient
        for node in graph.nodes:
            if node.op == INPUT:
                self.leaves.append((node.index, node.label))
                varies[node.index] = True
            elif node.op == CONST:
                self.leaves.append((node.index, float(node.constant)))
            else:
                op = OPS[node.op]
                self.steps.append((node.index, op.forward, node.inputs, op.partials))
                varies[node.index] = any(varies[i] for i in node.inputs)
        self.varies = varies
        self.inputs = dict(graph.inputs)

    def forward(self, a: np.ndarray, b: np.ndarray) -> list[Any]:
        values: list[Any] = [None] * self.count
        given = {"a": a, "b": b}
        for index, leaf in self.leaves:
            values[index] = given[leaf] if isinstance(leaf, str) else np.float64(leaf)
        for index, rule, inputs, _ in self.steps:
            values[index] = rule(*[values[i] for i in inputs])
        return values

    def backward(self, values: list[Any], shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        """dL/da and dL/db at every point, by the chain rule from the output back (zeros where L
        does not depend on the input)."""
        varies = self.varies
        grads: list[Any] = [None] * self.count
        if varies[self.output]:
            grads[self.output] = np.ones(shape)
        for index, _, inputs, partials in reversed(self.steps):
            upstream = grads[index]
            if upstream is None:
                continue
            operands = [values[i] for i in inputs]
            for k, j in enumerate(inputs):
                if not varies[j]:
                    continue
                local = partials[k](values[index], *operands)
                if type(local) is float and (local == 1.0 or local == -1.0):
                    contribution = upstream if local == 1.0 else -upstream
                else:
                    contribution = upstream * local
                grads[j] = contribution if grads[j] is None else grads[j] + contribution
        answers = []
        for name in INPUTS:
            index = self.inputs.get(name)
            grad = None if index is None else grads[index]
            answers.append(np.zeros(shape) if grad is None else _spread(grad, shape))
        return answers[0], answers[1]


def _spread(value: Any, shape: tuple[int, ...]) -> np.ndarray:
    return np.array(np.broadcast_to(np.asarray(value, dtype=np.float64), shape))


def parse_surface(source: str, limits: Limits = LIMITS) -> Graph:
    """Parse f(a, b): inputs may only be a and b, and every op must be elementwise. Errors point at
    the line and column of the offending name or call."""
    graph = parse(source, limits)
    if len(graph.nodes) > limits.max_surface_nodes:
        raise LimitError(f"f(a, b) has {len(graph.nodes)} nodes; the cap for a surface is "
                         f"{limits.max_surface_nodes} (max_surface_nodes), since it is evaluated at every grid "
                         "point and every step", "max_surface_nodes", limits.max_surface_nodes, field="source")
    for name, index in graph.inputs.items():
        if name not in INPUTS:
            span = graph.nodes[index].span
            message = (f"'{name}' is not a parameter: f(a, b) may use only the inputs a and b "
                       "(assign other names before using them)")
            if span is None:
                raise ValueInputError(message, "source", code="unknown_input")
            raise SourceError(message, span.line, span.column, code="unknown_input")
    for node in graph.nodes:
        if node.inputs and not OPS[node.op].elementwise:
            message = (f"{node.op}(...) works on tensors, but a and b are single numbers here: use only "
                       "elementwise operations (+ - * / ^ and functions such as exp, log, sin, tanh)")
            if node.span is None:
                raise ValueInputError(message, "source", code="not_elementwise")
            raise SourceError(message, node.span.line, node.span.column, code="not_elementwise")
    return graph


def _in_blocks(block: Callable[..., tuple[np.ndarray, ...]], a: Any, b: Any, size: int,
               gradient: bool) -> tuple[np.ndarray, ...]:
    """Evaluate `block` over flat slices of at most `size` points and put the answers back in shape."""
    if (type(a) is np.ndarray and type(b) is np.ndarray and a.ndim == 1 and a.shape == b.shape
            and a.dtype == np.float64 and b.dtype == np.float64 and a.size <= size):
        # NOTE: a descent run asks this every step for a handful of points; reshaping costs more than they do.
        return block(a, b, gradient)
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    shape = np.broadcast_shapes(a.shape, b.shape)
    flat_a = np.broadcast_to(a, shape).reshape(-1)
    flat_b = np.broadcast_to(b, shape).reshape(-1)
    parts = 3 if gradient else 1
    if flat_a.size <= size:
        answers = block(flat_a, flat_b, gradient)
    else:
        pieces = [block(flat_a[start:start + size], flat_b[start:start + size], gradient)
                  for start in range(0, flat_a.size, size)]
        answers = tuple(np.concatenate([piece[k] for piece in pieces]) for k in range(parts))
    return tuple(np.asarray(answer, dtype=np.float64).reshape(shape) for answer in answers)


# ---- The catalogue ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Kind:
    id: str
    title: dict[str, str]
    description: dict[str, str]
    box: Box
    start: Point
    settings: tuple[Setting, ...]
    make: Callable[..., Surface]
    learning_rate: float  # a rate that works from the start, for the page's slider

    def describe(self, limits: Limits = LIMITS) -> dict[str, Any]:
        example = self.make(**{s.name: s.default for s in self.settings}) if self.id != "custom" else None
        answer = {"id": self.id, "title": dict(self.title), "description": dict(self.description),
                  "box": [list(side) for side in self.box], "start": list(self.start),
                  "learning_rate": self.learning_rate,
                  "minima": [list(p) for p in example.minima()] if example else [],
                  "saddles": [list(p) for p in example.saddles()] if example else [],
                  "formula": example.formula if example else "f(a, b)",
                  "latex": example.latex if example else "",
                  "settings": [setting.describe() for setting in self.settings]}
        if example is not None and example.hessian() is not None:
            answer.update(curvature(example.hessian()))
        return answer


DEFAULT_SOURCE = "f = 0.5 * a^2 + b^2 + 0.5 * sin(3 * a) * cos(3 * b)"

KINDS: dict[str, Kind] = {
    "quadratic": Kind(
        "quadratic",
        {"en": "Ill-conditioned bowl", "zh": "病态二次碗"},
        {"en": "A quadratic bowl whose curvatures differ by the condition number: plain gradient descent "
               "zigzags across the narrow direction and crawls along the wide one, and diverges once the "
               "learning rate passes 2 / lambda_max.",
         "zh": "两个方向曲率相差“条件数”倍的二次碗：普通梯度下降在窄方向来回振荡、在宽方向缓慢爬行；"
               "学习率超过 2 / lambda_max 即发散。"},
        ((-3.0, 3.0), (-3.0, 3.0)), (-2.5, 1.0),
        (Setting("condition", "number", 10.0, LIMITS.min_condition, LIMITS.max_condition,
                 {"en": "lambda_max / lambda_min: the eigenvalues of H are 1 and this number",
                  "zh": "lambda_max / lambda_min：H 的特征值为 1 和此数"}),
         Setting("angle", "number", 0.0, -90.0, 90.0,
                 {"en": "the turn of the bowl's axes, in degrees", "zh": "碗的主轴旋转角度（度）"})),
        lambda condition=10.0, angle=0.0: Quadratic(condition, angle), 0.1),
    "rosenbrock": Kind(
        "rosenbrock",
        {"en": "Rosenbrock's valley", "zh": "Rosenbrock 香蕉谷"},
        {"en": "A long, curved, flat-bottomed valley: finding it is easy, following it to the minimum at "
               "(1, 1) is slow without momentum.",
         "zh": "一条狭长弯曲、谷底平坦的山谷：找到山谷容易，沿谷底走到 (1, 1) 处的最小值却很慢，动量有帮助。"},
        ((-2.0, 2.0), (-1.0, 3.0)), (-1.2, 1.0), (), lambda: Rosenbrock(), 0.001),
    "himmelblau": Kind(
        "himmelblau",
        {"en": "Himmelblau's four minima", "zh": "Himmelblau 四个极小值"},
        {"en": "Four minima of equal depth (L = 0): which one an optimizer reaches depends on where it "
               "starts and how it moves.",
         "zh": "四个同样深（L = 0）的极小值：优化器落入哪一个，取决于起点和它的走法。"},
        ((-5.0, 5.0), (-5.0, 5.0)), (0.0, 0.0), (), lambda: Himmelblau(), 0.01),
    "saddle": Kind(
        "saddle",
        {"en": "Saddle between two valleys", "zh": "两谷之间的鞍点"},
        {"en": "At the origin the surface curves up along a and down along b. Started near b = 0, descent "
               "lingers on the plateau before it escapes to a valley at b = 1 or b = -1.",
         "zh": "原点处曲面沿 a 向上弯、沿 b 向下弯。从 b = 0 附近出发，下降会在平台上停留许久，"
               "然后逃向 b = 1 或 b = -1 的谷底。"},
        ((-2.0, 2.0), (-2.0, 2.0)), (1.5, 0.01), (), lambda: Saddle(), 0.1),
    "logistic": Kind(
        "logistic",
        {"en": "A neuron's real loss", "zh": "单个神经元的真实损失"},
        {"en": "The mean cross-entropy of one sigmoid neuron p = sigmoid(a x1 + b x2) on 40 points of two "
               "overlapping clusters: the loss a network really descends, as a function of its two weights.",
         "zh": "单个 sigmoid 神经元 p = sigmoid(a x1 + b x2) 在两团相互重叠的 40 个点上的平均交叉熵："
               "网络真正要下降的损失，看作两个权重的函数。"},
        ((-4.0, 4.0), (-4.0, 4.0)), (3.0, -1.0),
        (Setting("data_seed", "integer", 0, 0, LIMITS.max_seed,
                 {"en": "the seed of the toy data set", "zh": "玩具数据集的随机种子"}),),
        lambda data_seed=0: Logistic(data_seed), 0.5),
    "network": Kind(
        "network",
        {"en": "A network's loss along two directions", "zh": "神经网络沿两个方向的损失"},
        {"en": "A 2-4-1 tanh network trained on 40 points of two moons has 17 weights; this is its real loss "
               "on a plane through the trained weights (at 0, 0) along two random directions, each scaled unit "
               "by unit to the trained weights' size. Curved valleys, a second basin: what a network descends.",
         "zh": "一个 2-4-1 的 tanh 网络在两个月牙形的 40 个点上训练后有 17 个参数；这里画的是它的真实损失，"
               "取在穿过训练所得权重（即 (0, 0)）的一个平面上，沿两个随机方向（每个神经元按训练权重的大小缩放）。"
               "弯曲的山谷、另一个盆地：这就是网络真正要下降的地形。"},
        ((-1.5, 1.5), (-1.5, 1.5)), (0.9, 0.9),
        (Setting("data_seed", "integer", 0, 0, LIMITS.max_seed,
                 {"en": "the seed of the data, of the network's training and of the two directions",
                  "zh": "数据、网络训练和两个方向的随机种子"}),),
        lambda data_seed=0: NetworkSlice(data_seed), 0.1),
    "custom": Kind(
        "custom",
        {"en": "Your own f(a, b)", "zh": "自定义 f(a, b)"},
        {"en": "Type any function of a and b in the expression language (elementwise operations only).",
         "zh": "用表达式语言输入任意关于 a 和 b 的函数（只能用逐元素运算）。"},
        ((-3.0, 3.0), (-3.0, 3.0)), (-2.0, 1.5),
        (Setting("source", "text", DEFAULT_SOURCE, None, LIMITS.max_source_chars,
                 {"en": "the program; its inputs are a and b", "zh": "程序；输入为 a 和 b"}),),
        lambda source=DEFAULT_SOURCE: Custom(source), 0.1),
}


def catalogue(limits: Limits = LIMITS) -> list[dict[str, Any]]:
    return [kind.describe(limits) for kind in KINDS.values()]


def make_surface(name: str, *, condition: float | None = None, angle: float | None = None,
                 source: str | None = None, data_seed: int | None = None, limits: Limits = LIMITS) -> Surface:
    """The surface `name` with its settings; a setting another surface uses is ignored."""
    if name not in KINDS:
        raise ValueInputError(f"surface must be one of {', '.join(KINDS)}, not {name!r}", "surface",
                              code="invalid_value")
    if name == "quadratic":
        condition = 10.0 if condition is None else condition
        angle = 0.0 if angle is None else angle
        if not (_is_number(condition) and limits.min_condition <= condition <= limits.max_condition):
            raise ValueInputError(f"condition must be a number from {limits.min_condition:g} to "
                                  f"{limits.max_condition:g}", "condition", code="invalid_value")
        if not (_is_number(angle) and -90.0 <= angle <= 90.0):
            raise ValueInputError("angle must be a number of degrees from -90 to 90", "angle", code="invalid_value")
        return Quadratic(condition, angle)
    if name in ("logistic", "network"):
        data_seed = 0 if data_seed is None else data_seed
        if isinstance(data_seed, bool) or not isinstance(data_seed, (int, np.integer)) \
                or not 0 <= data_seed <= limits.max_seed:
            raise ValueInputError(f"data_seed must be a whole number from 0 to {limits.max_seed}", "data_seed",
                                  code="invalid_value")
        return Logistic(int(data_seed)) if name == "logistic" else NetworkSlice(int(data_seed))
    if name == "custom":
        if not isinstance(source, str) or not source.strip():
            raise ValueInputError("a custom surface needs its source: a program in a and b such as "
                                  "'f = a^2 + 3 * b^2'", "source", code="missing_value")
        return Custom(source, limits)
    return KINDS[name].make()


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


# ---- What the page draws ----------------------------------------------------------------------

def curvature(hessian: np.ndarray) -> dict[str, Any]:
    """A symmetric 2x2 Hessian's eigenvalues and the critical learning rate 2 / lambda_max (None when
    lambda_max <= 0: along no direction does a bigger step overshoot)."""
    with np.errstate(all="ignore"):
        if not np.isfinite(hessian).all():
            return {"hessian": _listed(hessian), "lambda_min": None, "lambda_max": None, "critical_lr": None}
        low, high = np.linalg.eigvalsh(0.5 * (hessian + hessian.T))
    return {"hessian": _listed(hessian), "lambda_min": float(low), "lambda_max": float(high),
            "critical_lr": 2.0 / float(high) if high > 0 else None}


def hessian_at(surface: Surface, point: Point) -> np.ndarray:
    """The exact Hessian of a quadratic; elsewhere central differences of the analytic gradient."""
    exact = surface.hessian()
    if exact is not None:
        return exact
    a, b = point
    steps = np.array([1e-5 * max(1.0, abs(a)), 1e-5 * max(1.0, abs(b))])
    probes_a = np.array([a + steps[0], a - steps[0], a, a])
    probes_b = np.array([b, b, b + steps[1], b - steps[1]])
    _, grad_a, grad_b = surface.loss_and_gradient(probes_a, probes_b)
    with np.errstate(all="ignore"):
        columns = [[(grad_a[0] - grad_a[1]) / (2 * steps[0]), (grad_b[0] - grad_b[1]) / (2 * steps[0])],
                   [(grad_a[2] - grad_a[3]) / (2 * steps[1]), (grad_b[2] - grad_b[3]) / (2 * steps[1])]]
        hessian = np.array(columns).T
        return 0.5 * (hessian + hessian.T)


def point_view(surface: Surface, point: Point) -> dict[str, Any]:
    """The loss, gradient (the arrow) and local curvature at one point."""
    loss, grad_a, grad_b = surface.loss_and_gradient(np.array([point[0]]), np.array([point[1]]))
    return {"point": list(point), "loss": _number(loss[0]), "gradient": [_number(grad_a[0]), _number(grad_b[0])],
            **curvature(hessian_at(surface, point))}


@dataclass
class Grid:
    xs: np.ndarray  # a values, left to right
    ys: np.ndarray  # b values, bottom to top
    values: np.ndarray  # (len(ys), len(xs)): values[j, i] = L(xs[i], ys[j])

    def to_dict(self) -> dict[str, Any]:
        finite = np.isfinite(self.values)
        known = self.values[finite]
        levels: list[float] = []
        if known.size:
            # Contour levels at evenly spaced quantiles: Rosenbrock's 0..2500 and a bowl's 0..10 both get
            # lines where the surface has them, not all crowded into one corner.
            levels = sorted({float(v) for v in np.quantile(known, (np.arange(20) + 0.5) / 20)})
        return {"xs": self.xs.tolist(), "ys": self.ys.tolist(), "values": _listed(self.values),
                "min": float(known.min()) if known.size else None, "max": float(known.max()) if known.size else None,
                "nonfinite": int(self.values.size - known.size), "levels": levels}


def grid(surface: Surface, box: Box, size: int, limits: Limits = LIMITS) -> Grid:
    """The loss on size x size points spanning the box, in one vectorised call."""
    check_box(box, limits)
    if isinstance(size, bool) or not isinstance(size, int) or not 2 <= size <= limits.max_surface_grid:
        raise LimitError(f"grid must be a whole number from 2 to {limits.max_surface_grid} (max_surface_grid)",
                         "max_surface_grid", limits.max_surface_grid, field="grid")
    xs = np.linspace(box[0][0], box[0][1], size)
    ys = np.linspace(box[1][0], box[1][1], size)
    return Grid(xs, ys, surface.loss_on_grid(xs, ys))


def check_box(box: Box, limits: Limits = LIMITS) -> None:
    for axis, name in enumerate(INPUTS):
        low, high = box[axis]
        if not (_is_number(low) and _is_number(high) and abs(low) <= limits.max_coordinate
                and abs(high) <= limits.max_coordinate):
            raise ValueInputError(f"box edges must be numbers from -{limits.max_coordinate:g} to "
                                  f"{limits.max_coordinate:g}", "box", code="invalid_value")
        if not high - low >= limits.min_box_width:
            raise ValueInputError(f"the box's {name} side must run from low to high and be at least "
                                  f"{limits.min_box_width:g} wide", "box", code="invalid_value")


def line(surface: Surface, point: Point, parameter: int, span: float, points: int) -> dict[str, Any]:
    """The loss along one parameter through `point` (the other held fixed), with the tangent line there:
    the first lesson, where the slope is the derivative and descent steps against it."""
    centre = point[parameter]
    xs = np.linspace(centre - span, centre + span, points)
    fixed = np.full(points, point[1 - parameter])
    a, b = (xs, fixed) if parameter == 0 else (fixed, xs)
    values, grad_a, grad_b = surface.loss_and_gradient(a, b)
    slopes = grad_a if parameter == 0 else grad_b
    at, grad_at_a, grad_at_b = (float(v[0]) for v in surface.loss_and_gradient(np.array([point[0]]),
                                                                                 np.array([point[1]])))
    slope = grad_at_a if parameter == 0 else grad_at_b
    with np.errstate(all="ignore"):
        tangent = [[xs[0], at + slope * (xs[0] - centre)], [xs[-1], at + slope * (xs[-1] - centre)]]
    return {"parameter": parameter, "name": INPUTS[parameter], "fixed": {INPUTS[1 - parameter]: point[1 - parameter]},
            "point": list(point), "xs": xs.tolist(), "values": _listed(values), "slopes": _listed(slopes),
            "at": _number(at), "slope": _number(slope), "tangent": [[_number(x), _number(y)] for x, y in tangent]}


def default_etas(surface: Surface, point: Point, count: int = 30, limits: Limits = LIMITS) -> list[float]:
    """Rates spread evenly on a log scale over three decades up to 3 x the critical rate 2 / lambda_max
    at the point (so the comparison shows where the promise breaks), or from 1e-4 to 1 where no
    direction curves up."""
    lambda_max = curvature(hessian_at(surface, point))["lambda_max"]
    if lambda_max is None or not lambda_max > 0:
        low, high = 1e-4, 1.0
    else:
        high = min(max(3.0 * 2.0 / lambda_max, 1e3 * limits.min_learning_rate), limits.max_learning_rate)
        low = high * 1e-3
    return [float(eta) for eta in np.geomspace(low, high, count)]


def taylor(surface: Surface, point: Point, etas: list[float]) -> dict[str, Any]:
    """At one point, for each learning rate eta: the first-order promise L - eta ||g||^2 beside the
    true loss after the step, L(theta - eta g). For small eta they agree; as eta grows the curvature
    the first-order model ignores takes over, and past some eta the step no longer even descends."""
    loss, grad_a, grad_b = (float(v[0]) for v in surface.loss_and_gradient(np.array([point[0]]),
                                                                           np.array([point[1]])))
    etas_array = np.asarray(etas, dtype=np.float64)
    with np.errstate(all="ignore"):
        squared = grad_a * grad_a + grad_b * grad_b
        actual = surface.loss(point[0] - etas_array * grad_a, point[1] - etas_array * grad_b)
        predicted_decrease = etas_array * squared
        actual_decrease = loss - actual
        ratio = np.where(predicted_decrease > 0, actual_decrease / np.where(predicted_decrease > 0,
                                                                             predicted_decrease, 1.0), np.nan)
    rows = [{"eta": float(eta), "predicted": _number(loss - p), "actual": _number(act),
             "predicted_decrease": _number(p), "actual_decrease": _number(d), "ratio": _number(r)}
            for eta, p, act, d, r in zip(etas_array, predicted_decrease, actual, actual_decrease, ratio)]
    # Where the promise breaks: the smallest eta whose real decrease is under half the promised one
    # (Armijo's sufficient-decrease test with c = 1/2).
    broken = [float(eta) for eta, d, p in zip(etas_array, actual_decrease, predicted_decrease)
              if p > 0 and not d >= 0.5 * p]
    return {"point": list(point), "loss": _number(loss), "gradient": [_number(grad_a), _number(grad_b)],
            "gradient_norm_squared": _number(squared), "rows": rows, "breaks_at": min(broken) if broken else None}


# ---- JSON-safe numbers ------------------------------------------------------------------------

def _number(x: Any) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def _listed(array: np.ndarray) -> list[Any]:
    if np.isfinite(array).all():
        return array.tolist()
    return np.where(np.isfinite(array), array, None).tolist()
