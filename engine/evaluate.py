"""The forward pass: every node's value, and where a value went non-finite, why and where it started."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import SourceError, ValueInputError
from .graph import CONST, INPUT, Graph, Node
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
            operands = [values[i] for i in node.inputs]
            if OPS[node.op].elementwise:
                _check_broadcast(graph, node, operands)
            flags.take()
            result = OPS[node.op].forward(*operands)
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


def _check_broadcast(graph: Graph, node: Node, operands: list[Any]) -> None:
    try:
        np.broadcast_shapes(*(np.shape(v) for v in operands))
    except ValueError:
        op = OPS[node.op]
        written = f"'{op.symbols[0]}'" if op.symbols else f"{op.name}(...)"
        shapes = " and ".join(f"{graph.nodes[i].label} (shape {list(np.shape(v))})"
                              for i, v in zip(node.inputs, operands))
        message = (f"{written} cannot combine {shapes}: the shapes do not broadcast (trailing sizes must be "
                   "equal or 1)")
        if node.span is None:
            raise ValueInputError(message, "values", code="shape_mismatch") from None
        raise SourceError(message, node.span.line, node.span.column, code="shape_mismatch") from None


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
