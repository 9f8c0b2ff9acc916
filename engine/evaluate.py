"""The forward pass: every node's value, and where a value went non-finite, why and where it started."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .graph import CONST, INPUT, Graph
from .ops import OPS
from .values import is_finite

OK = "ok"
# numpy's floating-point error names, as statuses a student can read
_STATUS_OF_FLAG = {"divide by zero": "div0", "overflow": "overflow", "invalid value": "nan"}


class FloatFlags:
    """numpy calls this on a floating-point error; the first one since the last reset is kept."""

    __slots__ = ("raised",)

    def __init__(self) -> None:
        self.raised: str | None = None

    def __call__(self, kind: str, flag: int) -> None:
        if self.raised is None:
            self.raised = kind

    def take(self) -> str | None:
        raised, self.raised = self.raised, None
        return raised

    def watching(self) -> Any:
        return np.errstate(divide="call", over="call", invalid="call", under="ignore", call=self)


def bad_status(result: Any, flag: str | None) -> str:
    if flag in _STATUS_OF_FLAG:
        return _STATUS_OF_FLAG[flag]
    return "nan" if np.isnan(result).any() else "inf"


@dataclass
class Forward:
    values: list[Any]
    status: list[str]
    origin: list[int | None]  # for a non-finite value: the node where non-finiteness began


def forward(graph: Graph, bindings: dict[int, Any], flags: FloatFlags | None = None) -> Forward:
    """Evaluate every node in order. Call inside flags.watching() to learn why a value went bad."""
    flags = flags or FloatFlags()
    values: list[Any] = []
    status: list[str] = []
    origin: list[int | None] = []
    for node in graph.nodes:
        if node.op == INPUT:
            result = bindings[node.index]
        elif node.op == CONST:
            result = np.float64(node.constant)
        else:
            flags.take()
            result = OPS[node.op].forward(*[values[i] for i in node.inputs])
        values.append(result)
        if is_finite(result):
            status.append(OK)
            origin.append(None)
            continue
        poisoned = next((i for i in node.inputs if status[i] != OK), None)
        if poisoned is not None:
            status.append("nan" if np.isnan(result).any() else "inf")
            origin.append(origin[poisoned])
        else:
            status.append(bad_status(result, flags.take()))
            origin.append(node.index)
    return Forward(values, status, origin)


def output_value(graph: Graph, bindings: dict[int, Any]) -> Any:
    """Just the output, for re-evaluations (gradient check, the loss after an update)."""
    with np.errstate(all="ignore"):
        values: list[Any] = []
        for node in graph.nodes:
            if node.op == INPUT:
                values.append(bindings[node.index])
            elif node.op == CONST:
                values.append(np.float64(node.constant))
            else:
                values.append(OPS[node.op].forward(*[values[i] for i in node.inputs]))
    return values[graph.output]


def scalar_loss(output: Any) -> float:
    """A tensor output is reduced by summing: its gradient seed is all ones."""
    return float(np.sum(output))
