"""Centered finite differences, written independently of engine/gradcheck.py so the tests check it too."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from engine.evaluate import forward
from engine.graph import Graph


def centered_differences(function: Callable[..., Any], inputs: Sequence[Any], relative_step: float = 1e-6
                         ) -> list[Any]:
    """d sum(function(*inputs)) / d inputs[k], element by element, as (f(x + h) - f(x - h)) / 2h."""
    inputs = [np.asarray(x, dtype=np.float64) for x in inputs]
    gradients = []
    for k, x in enumerate(inputs):
        gradient = np.zeros_like(x)
        for at in np.ndindex(x.shape):
            step = relative_step * max(1.0, abs(float(x[at])))
            plus, minus = x.copy(), x.copy()
            plus[at] += step
            minus[at] -= step
            with np.errstate(all="ignore"):
                above = np.sum(function(*inputs[:k], plus, *inputs[k + 1:]))
                below = np.sum(function(*inputs[:k], minus, *inputs[k + 1:]))
            # NOTE: divide by the step actually taken, not 2h: x + h - (x - h) is rounded.
            gradient[at] = (above - below) / (plus[at] - minus[at])
        gradients.append(gradient[()] if x.ndim == 0 else gradient)
    return gradients


def all_values(graph: Graph, bindings: dict[int, Any]) -> list[Any]:
    """Every node's value for these input bindings (no flags, no recording)."""
    with np.errstate(all="ignore"):
        return forward(graph, bindings).values
