"""Gradient-descent updates, the optimizers' own numbers, and what first-order Taylor promises.

    SGD        theta <- theta - eta * g
    momentum   v <- beta * v + g;   theta <- theta - eta * v          (v starts at 0)
    Adam       m <- beta1 * m + (1 - beta1) * g;   v <- beta2 * v + (1 - beta2) * g^2;   t <- t + 1
               theta <- theta - eta * m_hat / (sqrt(v_hat) + eps)
               with m_hat = m / (1 - beta1^t) and v_hat = v / (1 - beta2^t)
    Nesterov   v <- beta * v + g;   theta <- theta - eta * (g + beta * v)
    RMSProp    s <- rho * s + (1 - rho) * g^2;   theta <- theta - eta * g / (sqrt(s) + eps)   (s starts at 0)

    J(theta + delta) ~ J(theta) + g . delta      (first order; for SGD delta = -eta g, so J - eta ||g||^2)

Momentum is written in the "velocity accumulates gradients" convention (PyTorch's, without
dampening). The other common convention, v <- beta v - eta g; theta <- theta + v, gives the same
steps when eta is constant: its v is -eta times ours.

Each optimizer keeps its state where a student can see it (velocity; m, v and t), and an update
never raises: a huge learning rate gives huge or non-finite numbers, which the trainer reports.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

import numpy as np

from .errors import LimitError, ValueInputError
from .limits import LIMITS, Limits


def sgd_step(parameter: Any, gradient: Any, learning_rate: float) -> Any:
    with np.errstate(all="ignore"):
        return parameter - learning_rate * gradient


def squared_norm(gradients: Mapping[str, Any]) -> float:
    with np.errstate(all="ignore"):
        return float(sum(np.sum(np.square(g)) for g in gradients.values()))


def taylor_prediction(loss: float, gradients: Mapping[str, Any], learning_rate: float) -> float:
    """The loss after one plain gradient step, as the first-order Taylor expansion predicts it."""
    with np.errstate(all="ignore"):
        return loss - learning_rate * squared_norm(gradients)


def first_order_prediction(loss: float, gradients: Mapping[str, Any], before: Mapping[str, Any],
                           after: Mapping[str, Any]) -> float:
    """J(theta) + g . (theta_after - theta_before): the Taylor prediction for any optimizer's step."""
    with np.errstate(all="ignore"):
        return float(loss + sum(np.sum(gradients[name] * (after[name] - before[name])) for name in gradients))


# ---- Parameters a client sends back -----------------------------------------------------------------

def as_parameter(raw: Any, shape: tuple[int, ...], field: str, name: str) -> np.ndarray:
    """A float64 array from rows of numbers a client sent back, refused unless it has `shape` and only
    finite numbers."""
    if not isinstance(raw, (list, tuple, np.ndarray)) or len(raw) != shape[0] or any(
            not isinstance(row, (list, tuple, np.ndarray)) or len(row) != shape[1] for row in raw):
        raise ValueInputError(f"{name} must be {shape[0]}×{shape[1]} (rows × columns) for this network", field,
                              code="invalid_value")
    try:
        array = np.array(raw, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise ValueInputError(f"{name} must hold numbers only", field, code="invalid_value") from None
    if not np.isfinite(array).all():
        raise ValueInputError(f"{name} must hold finite numbers only (no NaN or infinity)", field, code="invalid_value")
    return array


# ---- The optimizers ---------------------------------------------------------------------------

@dataclass
class SGD:
    """Plain gradient descent: theta <- theta - eta * g. No state.

    `update` leaves its arguments alone and returns a new array. `update_into` computes the same
    numbers, bit for bit, into the gradient's own array, which the caller gives up: a training
    loop then allocates nothing per step (parameters are NumPy arrays). Both enter np.errstate;
    `step_into` is the same arithmetic for a caller inside one already, and `update_all` (or
    `update_all_into`) updates every parameter of a step inside one. Subclasses write their rule in
    `step_into`.
    """
    learning_rate: float
    name = "sgd"
    PER_PARAMETER: ClassVar[tuple[str, ...]] = ()  # parts of the state kept per parameter: {name: array}
    NON_NEGATIVE: ClassVar[tuple[str, ...]] = ()  # parts of the state that are running means of squares

    def update(self, name: str, parameter: np.ndarray, gradient: np.ndarray) -> np.ndarray:
        return self.update_into(name, parameter, np.array(gradient, dtype=np.float64))

    def update_into(self, name: str, parameter: np.ndarray, gradient: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            return self.step_into(name, parameter, gradient)

    def update_all(self, params: Mapping[str, np.ndarray], gradients: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """begin(), then update() of every parameter, in one np.errstate: a step of a whole network."""
        return self.update_all_into(params, {name: np.array(gradients[name], dtype=np.float64) for name in params})

    def update_all_into(self, params: Mapping[str, np.ndarray],
                        gradients: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """update_all into the gradients' own float64 arrays, which the caller gives up (as update_into)."""
        self.begin()
        with np.errstate(all="ignore"):
            return {name: self.step_into(name, value, gradients[name]) for name, value in params.items()}

    def step_into(self, name: str, parameter: np.ndarray, gradient: np.ndarray) -> np.ndarray:
        """update_into without its own np.errstate, for a caller already inside np.errstate(all="ignore"):
        entering one costs about a microsecond, as much as the update of a small array."""
        np.multiply(gradient, self.learning_rate, out=gradient)
        return np.subtract(parameter, gradient, out=gradient)

    def begin(self) -> None:
        """Called once before each step's updates (Adam counts its steps here)."""

    def parameter_state(self, name: str) -> dict[str, Any]:
        """One parameter's part of the state, copied (None where it has none yet)."""
        arrays = {part: getattr(self, part).get(name) for part in self.PER_PARAMETER}
        return {part: None if array is None else array.copy() for part, array in arrays.items()}

    def state(self) -> dict[str, Any]:
        """The whole state, copied: each part of it is the attribute of that name."""
        return {part: {name: array.copy() for name, array in getattr(self, part).items()}
                for part in self.PER_PARAMETER}

    def formula(self) -> str:
        return "theta = theta - lr * g"

    def latex(self, theta: str, gradient: str) -> str:
        """The update in the lessons' notation, for a parameter written `theta` (LaTeX) with gradient `gradient`."""
        return f"{theta} \\leftarrow {theta} - \\eta\\, {gradient}"

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "learning_rate": self.learning_rate, "formula": self.formula()}

    def load_state(self, state: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]], *,
                   field: str = "optimizer_state", limits: Limits = LIMITS) -> None:
        """Go on from an answer's optimizer.state: each part this optimizer keeps (state() names them), its
        arrays checked against the shapes of the parameters they belong to. Errors name `field`.part.name."""
        own = self.state()
        for part in state:
            if part not in own:
                has = ", ".join(sorted(own)) or "nothing"
                raise ValueInputError(f"{self.name} keeps {has}, not {part}", f"{field}.{part}", code="invalid_value")
        loaded: dict[str, Any] = {}
        for part, value in state.items():
            if part == "t":
                if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                    raise ValueInputError("t, the number of steps taken, must be a whole number of at least 0",
                                          f"{field}.t", code="invalid_value")
                if value > limits.max_steps_taken:
                    raise LimitError(f"t is {value}; the cap is {limits.max_steps_taken} (max_steps_taken)",
                                     "max_steps_taken", limits.max_steps_taken, field=f"{field}.t")
                loaded[part] = int(value)
                continue
            if not isinstance(value, Mapping):
                raise ValueInputError(f"{part} must map parameter names to arrays", f"{field}.{part}",
                                      code="invalid_value")
            arrays = {}
            for name, raw in value.items():
                at = f"{field}.{part}.{name}"
                if name not in shapes:
                    raise ValueInputError(f"this network has no {name}; it has {', '.join(shapes)}", at,
                                          code="unknown_param")
                arrays[name] = as_parameter(raw, shapes[name], at, name)
                if part in self.NON_NEGATIVE and (arrays[name] < 0).any():
                    raise ValueInputError(f"{part} is a running mean of squares: it cannot be negative", at,
                                          code="invalid_value")
            loaded[part] = arrays
        self._check_loaded(loaded, field)
        for part, value in loaded.items():
            setattr(self, part, value)  # each part of state() is the attribute of that name

    def _check_loaded(self, loaded: Mapping[str, Any], field: str) -> None:
        """What must hold between the parts of a state (Adam: m and v together, with t)."""


@dataclass
class Momentum(SGD):
    """v <- beta v + g; theta <- theta - eta v. The velocity v starts at 0, so step 1 is plain SGD."""
    beta: float = 0.9
    velocity: dict[str, np.ndarray] = field(default_factory=dict)
    name = "momentum"
    PER_PARAMETER = ("velocity",)

    def accumulate(self, name: str, gradient: np.ndarray) -> np.ndarray:
        """v <- beta v + g, in place; the parameter's first v is g itself (beta 0 + g)."""
        velocity = self.velocity.get(name)
        if velocity is None:
            velocity = self.velocity[name] = gradient.copy()
        else:
            velocity *= self.beta
            velocity += gradient
        return velocity

    def step_into(self, name: str, parameter: np.ndarray, gradient: np.ndarray) -> np.ndarray:
        velocity = self.accumulate(name, gradient)
        np.multiply(velocity, self.learning_rate, out=gradient)
        return np.subtract(parameter, gradient, out=gradient)

    def formula(self) -> str:
        return "v = beta * v + g; theta = theta - lr * v"

    def latex(self, theta: str, gradient: str) -> str:
        return f"v \\leftarrow \\beta v + {gradient};\\ {theta} \\leftarrow {theta} - \\eta\\, v"

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "beta": self.beta}


@dataclass
class Adam(SGD):
    """Adam with bias-corrected first and second moments (Kingma and Ba, 2015)."""
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    t: int = 0
    m: dict[str, np.ndarray] = field(default_factory=dict)
    v: dict[str, np.ndarray] = field(default_factory=dict)
    name = "adam"
    PER_PARAMETER = ("m", "v")
    _scratch: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    def begin(self) -> None:
        self.t += 1

    def step_into(self, name: str, parameter: np.ndarray, gradient: np.ndarray) -> np.ndarray:
        if self.t == 0:
            self.t = 1  # a caller that forgot begin() still gets a bias-corrected first step
        scratch = self._scratch.get(name)
        if scratch is None or scratch.shape != gradient.shape:
            scratch = self._scratch[name] = np.empty_like(gradient)
        m, v = self.m.get(name), self.v.get(name)
        if m is None:
            m = self.m[name] = np.zeros_like(gradient)
            v = self.v[name] = np.zeros_like(gradient)
        m *= self.beta1  # m = beta1 m + (1 - beta1) g
        np.multiply(gradient, 1.0 - self.beta1, out=scratch)
        m += scratch
        np.multiply(gradient, gradient, out=scratch)  # v = beta2 v + (1 - beta2) g^2
        scratch *= 1.0 - self.beta2
        v *= self.beta2
        v += scratch
        np.divide(m, 1.0 - self.beta1 ** self.t, out=scratch)  # m_hat
        scratch *= self.learning_rate
        np.divide(v, 1.0 - self.beta2 ** self.t, out=gradient)  # v_hat
        np.sqrt(gradient, out=gradient)
        gradient += self.eps
        np.divide(scratch, gradient, out=gradient)  # lr m_hat / (sqrt(v_hat) + eps)
        return np.subtract(parameter, gradient, out=gradient)

    def parameter_state(self, name: str) -> dict[str, Any]:
        return {"t": self.t, **super().parameter_state(name)}

    def state(self) -> dict[str, Any]:
        return {"t": self.t, **super().state()}

    def formula(self) -> str:
        return ("m = beta1 * m + (1 - beta1) * g; v = beta2 * v + (1 - beta2) * g^2; "
                "theta = theta - lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)")

    def latex(self, theta: str, gradient: str) -> str:
        return (f"m \\leftarrow \\beta_1 m + (1 - \\beta_1)\\, {gradient};\\ "
                f"v \\leftarrow \\beta_2 v + (1 - \\beta_2) ({gradient})^2;\\ "
                f"{theta} \\leftarrow {theta} - \\eta\\, \\frac{{m / (1 - \\beta_1^t)}}"
                f"{{\\sqrt{{v / (1 - \\beta_2^t)}} + \\epsilon}}")

    NON_NEGATIVE = ("v",)

    def _check_loaded(self, loaded: Mapping[str, Any], field: str) -> None:
        if "m" in loaded or "v" in loaded:
            if set(loaded.get("m", {})) != set(loaded.get("v", {})):
                raise ValueInputError("m and v must name the same parameters", f"{field}.v", code="invalid_value")
            if loaded.get("t", 0) < 1:
                raise ValueInputError("with m and v give t, the number of steps taken (at least 1)", f"{field}.t",
                                      code="invalid_value")

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}


@dataclass
class Nesterov(Momentum):
    """Nesterov momentum, as PyTorch writes it: v <- beta v + g; theta <- theta - eta (g + beta v).

    The classic form takes the gradient at the look-ahead point theta + beta v'; this one is the
    same sequence of steps tracked at the look-ahead point itself, so it needs only the gradient
    where it stands. Step 1 moves by eta (1 + beta) g.
    """
    name = "nesterov"

    def step_into(self, name: str, parameter: np.ndarray, gradient: np.ndarray) -> np.ndarray:
        velocity = self.accumulate(name, gradient)
        gradient += self.beta * velocity  # the look-ahead direction g + beta v
        gradient *= self.learning_rate
        return np.subtract(parameter, gradient, out=gradient)

    def formula(self) -> str:
        return "v = beta * v + g; theta = theta - lr * (g + beta * v)"

    def latex(self, theta: str, gradient: str) -> str:
        return (f"v \\leftarrow \\beta v + {gradient};\\ "
                f"{theta} \\leftarrow {theta} - \\eta\\, ({gradient} + \\beta v)")


@dataclass
class RMSProp(SGD):
    """s <- rho s + (1 - rho) g^2; theta <- theta - eta g / (sqrt(s) + eps)   (Hinton's lecture 6e).

    s, the running mean of squared gradients, starts at 0 and is not bias-corrected (as in PyTorch
    and Keras), so the first step is about eta / sqrt(1 - rho) per parameter, not eta.
    """
    rho: float = 0.9
    eps: float = 1e-8
    mean_square: dict[str, np.ndarray] = field(default_factory=dict)
    name = "rmsprop"
    PER_PARAMETER = ("mean_square",)

    def step_into(self, name: str, parameter: np.ndarray, gradient: np.ndarray) -> np.ndarray:
        mean_square = self.mean_square.get(name)
        if mean_square is None:
            mean_square = self.mean_square[name] = np.zeros_like(gradient)
        mean_square *= self.rho
        mean_square += (1.0 - self.rho) * np.square(gradient)
        gradient *= self.learning_rate
        np.divide(gradient, np.sqrt(mean_square) + self.eps, out=gradient)
        return np.subtract(parameter, gradient, out=gradient)

    def formula(self) -> str:
        return "s = rho * s + (1 - rho) * g^2; theta = theta - lr * g / (sqrt(s) + eps)"

    def latex(self, theta: str, gradient: str) -> str:
        return (f"s \\leftarrow \\rho s + (1 - \\rho) ({gradient})^2;\\ "
                f"{theta} \\leftarrow {theta} - \\eta\\, \\frac{{{gradient}}}{{\\sqrt{{s}} + \\epsilon}}")

    NON_NEGATIVE = ("mean_square",)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "rho": self.rho, "eps": self.eps}


Optimizer = SGD  # every optimizer is an SGD with more state
OPTIMIZERS: dict[str, type[SGD]] = {"sgd": SGD, "momentum": Momentum, "nesterov": Nesterov, "rmsprop": RMSProp,
                                    "adam": Adam}


def make_optimizer(name: str, learning_rate: float, *, beta: float = 0.9, beta1: float = 0.9, beta2: float = 0.999,
                   eps: float = 1e-8, rho: float = 0.9, limits: Limits = LIMITS) -> SGD:
    if name not in OPTIMIZERS:
        raise ValueInputError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, not {name!r}", "optimizer",
                              code="invalid_value")
    if not (isinstance(learning_rate, (int, float)) and limits.min_learning_rate <= learning_rate
            <= limits.max_learning_rate):
        raise ValueInputError(f"learning_rate must be between {limits.min_learning_rate:g} and "
                              f"{limits.max_learning_rate:g}", "learning_rate", code="invalid_value")
    for field_name, value in (("beta", beta), ("beta1", beta1), ("beta2", beta2), ("rho", rho)):
        if not (isinstance(value, (int, float)) and 0.0 <= value < 1.0):
            raise ValueInputError(f"{field_name} must be at least 0 and below 1", field_name, code="invalid_value")
    if not (isinstance(eps, (int, float)) and 0.0 < eps <= 1.0):
        raise ValueInputError("eps must be above 0 and at most 1", "eps", code="invalid_value")
    learning_rate = float(learning_rate)
    if name == "momentum":
        return Momentum(learning_rate, beta=float(beta))
    if name == "nesterov":
        return Nesterov(learning_rate, beta=float(beta))
    if name == "rmsprop":
        return RMSProp(learning_rate, rho=float(rho), eps=float(eps))
    if name == "adam":
        return Adam(learning_rate, beta1=float(beta1), beta2=float(beta2), eps=float(eps))
    return SGD(learning_rate)
