"""Centered finite differences for every input, against the gradients backprop found.

    numeric = (L(x + h) - L(x - h)) / 2h,   rel_error = |analytic - numeric| / max(|analytic|, |numeric|, floor)

The floor is the size of the rounding noise in the numeric estimate itself (about eps * |L| / h), so
a true zero gradient measured as 1e-11 is not called a failure.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import LimitError
from .evaluate import output_value, scalar_loss
from .graph import Graph
from .limits import LIMITS, Limits
from .values import is_finite, to_json

PASS_BELOW = 1e-5
WARN_BELOW = 1e-2
STEP = 1e-5


@dataclass
class GradCheck:
    node: str
    label: str
    analytic: Any
    numeric: Any
    rel_error: float | None
    verdict: str  # pass | warn | fail | undefined

    def to_dict(self) -> dict[str, Any]:
        return {"node": self.node, "label": self.label, "analytic": to_json(self.analytic),
                "numeric": to_json(self.numeric), "rel_error": self.rel_error, "verdict": self.verdict}


def numeric_gradient(graph: Graph, bindings: dict[int, Any], index: int) -> Any:
    base = np.asarray(bindings[index], dtype=np.float64)
    numeric = np.empty_like(base)
    flat = numeric.reshape(-1)
    for k in range(base.size):
        step = STEP * max(1.0, abs(float(base.reshape(-1)[k])))
        losses = []
        for sign in (1.0, -1.0):
            bumped = base.copy()
            bumped.reshape(-1)[k] += sign * step
            trial = dict(bindings)
            trial[index] = bumped[()] if base.ndim == 0 else bumped
            losses.append(scalar_loss(output_value(graph, trial)))
        with np.errstate(all="ignore"):
            flat[k] = (losses[0] - losses[1]) / (2.0 * step)
    return numeric[()] if base.ndim == 0 else numeric


def relative_error(analytic: Any, numeric: Any, loss: float, scale: float) -> float:
    noise_floor = 1e3 * np.finfo(np.float64).eps * (abs(loss) + 1.0) / (STEP * scale)
    with np.errstate(all="ignore"):
        denominator = np.maximum(np.maximum(np.abs(analytic), np.abs(numeric)), max(noise_floor, 1e-12))
        return float(np.max(np.abs(np.subtract(analytic, numeric)) / denominator))


def verdict(rel_error: float | None) -> str:
    if rel_error is None:
        return "undefined"
    return "pass" if rel_error < PASS_BELOW else "warn" if rel_error < WARN_BELOW else "fail"


def check_work(graph: Graph, bindings: dict[int, Any], limits: Limits = LIMITS) -> None:
    """Refuse, before any evaluation, a check that would re-run the graph too many times."""
    elements = sum(int(np.size(bindings[i])) for i in graph.inputs.values() if graph.nodes[i].requires_grad)
    work = elements * len(graph.nodes)
    if work > limits.max_gradcheck_work:
        raise LimitError(f"a gradient check here would take {work} node evaluations (inputs x nodes); the cap "
                         f"is {limits.max_gradcheck_work} (max_gradcheck_work): check a smaller program",
                         "max_gradcheck_work", limits.max_gradcheck_work, field="gradcheck")


def gradcheck(graph: Graph, bindings: dict[int, Any], gradients: dict[int, Any],
              limits: Limits = LIMITS) -> list[GradCheck]:
    check_work(graph, bindings, limits)
    loss = scalar_loss(output_value(graph, bindings))
    checks = []
    for name, index in graph.inputs.items():
        if not graph.nodes[index].requires_grad:
            continue  # data (X, Y): no gradient to check
        analytic = gradients[index]
        numeric = numeric_gradient(graph, bindings, index)
        scale = max(1.0, float(np.max(np.abs(bindings[index]))))
        rel = relative_error(analytic, numeric, loss, scale) if is_finite(analytic) and is_finite(numeric) \
            and np.isfinite(loss) else None
        checks.append(GradCheck(graph.nodes[index].id, name, analytic, numeric, rel, verdict(rel)))
    return checks
