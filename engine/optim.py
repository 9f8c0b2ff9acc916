"""Gradient-descent updates and what first-order Taylor promises about them.

    theta <- theta - eta * grad J(theta)
    J(theta - eta * g) ~ J(theta) - eta * ||g||^2      (first order; the gap grows with eta)
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np


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
